package cli

import (
	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/binance"
	"github.com/panicbutton/panicbutton/executors/fake"
	"github.com/panicbutton/panicbutton/executors/kucoin"
)

// NewRegistry is the explicit list of exchange drivers. "fake" is an
// in-memory exchange for tests and offline rehearsals of the CLI itself.
func NewRegistry() *executors.Registry {
	return executors.NewRegistry(
		binance.Driver(),
		kucoin.Driver(),
		fake.Driver(),
	)
}
