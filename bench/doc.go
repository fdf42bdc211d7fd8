// Package bench measures how fast panicbutton contains a leak: it generates
// an emulator state of several Binance and KuCoin accounts, runs the
// suspected-key-leak playbook live against the emulator (in a process of
// its own, StartEmulatorProcess, with injected latency) through the same
// pipeline as `panicbutton run --yes`, and reads the emulator's request
// log for what the client cannot see (time to the first mutation, 429/418
// answers).
//
// The Go benchmarks in this package are what `make bench` runs; the
// critical-path bound they compare the wall time with is documented on
// RateBound and PhasedBound (the rate limits, from the run's own request
// log; the key deletions before the temporary keys) and
// BoundRoundTrips (the round trips).
//
// BenchmarkAttacker (attacker.go) races the playbook against the emulator's
// scripted attacker on the demo fund: time to the leaked sub-account key
// rejected, time to zero open orders everywhere, and what the attacker got
// accepted after its key died (goal 0). Run it alone with
// `go test -run x -bench Attacker -benchtime 1x ./bench/`.
//
// BenchmarkStorm runs the 1× fund while the emulator answers 30 % of the
// requests with the venue's own 5xx: containment time, with no bound (see
// its comment).
package bench
