package cli

import "github.com/panicbutton/panicbutton/executors"

// NewRegistry is the explicit list of exchange drivers.
func NewRegistry() *executors.Registry {
	return executors.NewRegistry()
}
