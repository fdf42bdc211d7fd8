// Package executors is the contract between the runner and the exchanges.
//
// It defines the exchange-neutral action catalog (each action read-only or
// mutating, with typed parameters), the Request/Result types, the error
// classes every executor maps its failures onto, the Hooks through which the
// runner audits every mutation (intent before, outcome after), an explicit
// Registry of drivers, and the dry-run decorator. It imports no exchange SDK:
// the implementations live in the child packages (executors/binance,
// executors/kucoin), which tests run against the in-process emulator
// (internal/emulator) over real HTTP.
package executors
