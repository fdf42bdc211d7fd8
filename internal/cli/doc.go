// Package cli implements the panicbutton command line: one file per verb,
// each with an Options struct and a run function, wired into cobra by
// NewRootCmd. Main builds the Factory (IO streams, clock, environment,
// executors registry) and maps errors onto exit codes in one place.
package cli
