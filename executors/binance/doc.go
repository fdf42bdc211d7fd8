// Package binance is the Binance executor: every containment action of the
// catalog on spot, cross and isolated margin, USDⓈ-M and COIN-M futures,
// and the master's sub-account API keys.
//
// It is the only package that imports github.com/adshao/go-binance/v2.
// Where that SDK lacks an endpoint or gets one wrong (EXCHANGES.md §1.1–1.7)
// the package sends the request itself through a small signed-request
// helper (signed.go) that signs exactly like the SDK: sub-account API key
// list/delete/permission, the v2 IP-restriction path, USDⓈ-M algo orders,
// countdown cancel-all, and the sub-account list (the SDK decodes the
// numeric subUserId into a string and fails on every real answer). The
// SDK's margin cancel-all decode error after a successful cancel, -2011 on
// an empty spot book and COIN-M Pair() are worked around in orders.go; the
// spot client's unsynchronised used-weight fields in transport.go. Each
// workaround has a test in workarounds_test.go.
//
// Every client (spot, USDⓈ-M, COIN-M) has its own http.Client whose
// transport observes status, Retry-After and used-weight headers and paces
// requests under the venue's weight limits (transport.go). Errors map onto
// the executor classes in errors.go.
package binance
