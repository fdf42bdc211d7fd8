// Package kucoin is the KuCoin executor: every containment action of the
// catalog on spot (HF and classic, stop and OCO orders), margin (cross and
// isolated), futures, sub-account keys and withdrawals.
//
// It is the only package that imports github.com/Kucoin/kucoin-go-sdk, and
// it owns the workarounds that SDK needs (EXCHANGES.md §2.1–2.7):
//
//   - every request goes through a custom kucoin.Requester (requester.go)
//     that re-signs it the documented way (the DECODED query string in the
//     prehash), sends KC-API-KEY-VERSION for v2 and v3 keys with the
//     passphrase HMAC'd (plaintext for v1), applies a server-time offset
//     (synced at start and again on 400002, then retried once), uses a
//     private http.Client (the SDK's BasicRequester mutates
//     http.DefaultClient), records the HTTP status and gw-ratelimit-*
//     headers and paces requests per resource pool;
//   - API errors arrive with err == nil: every response's code is checked,
//     and a nil response (Call swallows panics) is an error too;
//   - DeleteOcoOrders (panics) and UpdateSubApiKey (wipes the IP whitelist)
//     are never used: those requests are hand-built with kucoin.NewRequest.
//
// Futures endpoints live on a second base URL (Account.FuturesBaseURL, or
// derived from Account.BaseURL).
package kucoin
