// Package bench measures how fast panicbutton contains a leak: it generates
// an emulator state of several Binance and KuCoin accounts, runs the
// suspected-key-leak playbook live against the in-process emulator (with
// injected latency) through the same pipeline as `panicbutton run --yes`,
// and reads the emulator's request log for what the client cannot see
// (time to the first mutation, 429/418 answers).
//
// The Go benchmarks in this package are what `make bench` runs; the
// critical-path bound they compare the wall time with is documented on
// BoundRoundTrips.
package bench
