package bench

// BoundRoundTrips is the critical-path bound of suspected-key-leak, in
// round trips: for each step, the longest chain of requests in which each
// one needs the answer of the one before (or must follow it, as a
// confirming re-list follows the cancels), as the executors structure
// their calls; requests that do not need each other's answers count as
// one round trip however many there are (they could all be in flight at
// once). The step's count is the larger of the two exchanges' (accounts
// run concurrently), and the bound is the plain sum over the steps: the
// runner's overlap of the read-only steps with freeze is not subtracted.
//
// One round trip is the emulator's injected latency: it sleeps Latency
// once per request before answering, and loopback adds microseconds, so a
// request/response exchange takes Latency ("40 ms latency" is the RTT).
//
//	step             Binance                                 KuCoin                                 max
//	snapshot-before  sub-account list → per-sub assets        calling key → sub-account balances      2
//	                 (other wallets; usdm, coinm balance ‖    (wallets, futures, positions: 1)
//	                 positions: 1)
//	inventory        apiRestrictions ‖ sub list → per-sub     own key ‖ sub users → per-sub keys      3
//	                 key list → per-key IP restriction
//	freeze           apiRestrictions ‖ list every product     active symbols → per-symbol list →     4
//	                 → cancel per symbol → re-list            cancel per symbol → re-list (no
//	                                                          symbol left: 1)
//	withdrawals      withdraw history (none cancellable)      accounts → per-currency list            2
//	revoke-sub-keys  sub list → per-sub key list → delete     sub users → per-sub keys → delete →     5
//	                 → re-list per sub                        sub users → per-sub keys
//	master-key       manual (operator; no request)            manual                                 0
//	snapshot-after   sub list → per-sub assets                sub-account list → per-sub balances    2
//
// The server-time sync is not on any chain: it runs in the background
// while the first requests go out with the local clock (a timestamp
// rejection resyncs and retries, which a skewed clock would add). "‖"
// marks requests sent together.
//
// Total: 2+3+4+2+5+0+2 = 18 round trips (720 ms at 40 ms).
const BoundRoundTrips = 18
