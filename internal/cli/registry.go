package cli

import (
	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/binance"
	"github.com/panicbutton/panicbutton/executors/kucoin"
)

// NewRegistry is the explicit list of exchange drivers. Rehearsals and
// tests run these same drivers against the in-process emulator
// (internal/emulator).
func NewRegistry() *executors.Registry {
	return executors.NewRegistry(
		binance.Driver(),
		kucoin.Driver(),
	)
}
