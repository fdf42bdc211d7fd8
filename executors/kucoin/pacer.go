package kucoin

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/internal/budget"
)

// pacer keeps every request within its resource pool's quota instead of
// letting KuCoin answer 429000, with the executors' one budget mechanism
// (executors/internal/budget); this file is KuCoin's cost table: its
// pools, their VIP0 quotas and its gw-ratelimit-* headers. The pools are
// the account's (KuCoin counts them per UID), except the Public pool,
// which KuCoin counts per IP: forPool hands requests to that pool to the
// process-wide set of the host, shared by every executor.
//
// A request's weight is reserved when it is sent (so a burst of parallel
// requests is counted before any answer comes back), and every answer's
// headers reconcile the count with the venue's, which also sees other
// clients of the same UID: up to it, or down to what the venue can still
// count (budget.Pacer.Settle). A request the pool
// cannot cover before the window resets waits for the reset; so does
// every request after a 429, until the reset the venue announced. Waiters
// go in the priority their context carries (Do tags it with
// executors.RequestPriority): a revocation of a leaked key before a
// snapshot's reads.
//
// Every request is also charged to the edge (edgeSpec), the CDN's per-IP
// limit in front of both hosts.
type pacer struct {
	set  *budget.Set
	p    *budget.Pacer
	edge *edge // the egress IP's edge (forPool)
}

// reservation is one request's charge, returned by wait and settled by
// observe or release.
type reservation struct {
	r    *budget.Reservation
	pool string
	sent time.Time // when it went through the edge (zero without one)
}

func newPacer(env executors.Env) *pacer {
	return &pacer{set: budget.NewSet(), p: &budget.Pacer{Now: env.Now, Sleep: env.Sleep, MaxSleep: maxPace}}
}

// forPool returns the pacer that budgets pool for requests to baseURI
// behind edge e (the requester's, edgeOf(baseURI)): the account's set, or
// for the Public pool the shared set of baseURI's host.
func (p *pacer) forPool(pool, baseURI string, e *edge) *pacer {
	set := p.set
	if pool == poolPublic {
		set = budget.Shared(budget.SharedScope("kucoin", baseURI))
	}
	return &pacer{set: set, p: p.p, edge: e}
}

// The edge. KuCoin's older docs (EXCHANGES.md §2.6, code 1015) put a
// Cloudflare limit in front of both hosts: about 500 requests per 10 s per
// IP, every endpoint together, past which every request of the IP is
// refused (429, an HTML page) for 30 s. Its current docs do not state it,
// so the edge is not paced until it shows itself: every request is
// charged to one bucket per domain, shared by every account of the
// process (one egress IP), of unknown limit. A block closes it, for every
// account at once, for edgeBlock, instead of each request retrying on its
// own every few seconds into the block (which may prolong it); and it
// proves the limit: from then on the bucket keeps edgeLimit per aligned
// edgeWindow, half the documented 500, so that no sliding 10 s window
// (what Cloudflare counts in) holds more than 500. The block also shows
// what this edge allows, should it be lower than documented ("the
// background may be fine-tuned"): the bucket keeps no more than two
// fifths of what went before the refused request (edge.blocked); a later
// block halves what it keeps. Variables: tests shrink them.
var (
	edgeWindow = 10 * time.Second
	edgeLimit  = 250
	edgeBlock  = 31 * time.Second // the documented 30 s, and a second for the clocks
)

// edgeSpec is the edge's bucket: no limit until a block gives it one.
func edgeSpec() budget.Spec {
	// Quiet: a block is told by its own notice (countEdgeBlock).
	return budget.Spec{Name: "edge", Window: edgeWindow, Aligned: true, Quiet: true}
}

// edge is one edge as the process knows it: its bucket (shared by every
// account of the process), the limit its blocks taught, and when the last
// block ends.
type edge struct {
	set *budget.Set

	mu    sync.Mutex
	limit int         // 0 until a block
	until time.Time   // the end of the last block
	sent  []time.Time // when the requests of the last edgeWindow went
}

// went records a request sent through the edge at now.
func (e *edge) went(now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	i := 0
	for i < len(e.sent) && now.Sub(e.sent[i]) >= edgeWindow {
		i++
	}
	e.sent = append(e.sent[i:], now)
}

// edges holds the process's edges, by edgeScope: every account of the
// process leaves through the same IP.
var edges sync.Map

// edgeOf returns the edge of requests to baseURI (a requester resolves it
// once: it parses the URL).
func edgeOf(baseURI string) *edge {
	scope := edgeScope(baseURI)
	if e, ok := edges.Load(scope); ok {
		return e.(*edge)
	}
	e, _ := edges.LoadOrStore(scope, &edge{set: budget.NewSet()})
	return e.(*edge)
}

// blocked records a block answered at now to a request sent at sent, and
// returns the limit the edge keeps from then on: edgeLimit after the
// first block, half the last one after each later block, and in any case
// no more than two fifths of the requests that went in the edgeWindow
// before the refused one (the edge let them through and refused it: kept
// per aligned window, no sliding window then holds more than four fifths
// of them, a margin for the clocks and for other programs behind the IP,
// however much stricter than documented the edge is). Counting the
// requests in flight with it too, and keeping half (as until 2026-12-05),
// put the limit above the edge's, and a strict edge blocked a second
// time. Answers of the same block (the requests in flight when it began)
// count once, but one sent earlier than the first read lowers the limit
// to its own count.
func (e *edge) blocked(now, sent time.Time) (limit int, began bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, t := range e.sent {
		if t.Before(sent) && sent.Sub(t) < edgeWindow {
			n++
		}
	}
	taught := max(1, n*2/5)
	if now.Before(e.until) {
		e.limit = min(e.limit, taught)
		return e.limit, false
	}
	if e.limit == 0 {
		e.limit = edgeLimit
	} else {
		e.limit /= 2
	}
	e.limit = min(e.limit, taught)
	e.until = now.Add(edgeBlock)
	return e.limit, true
}

// state returns the limit the edge keeps and the end of its last block.
func (e *edge) state() (int, time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.limit, e.until
}

// edgeScope names the edge's shared set for requests to baseURI: one per
// domain, so that api.kucoin.com and api-futures.kucoin.com share it (the
// docs say every endpoint shares the limit); a host without a domain (an
// IP address, an emulator on loopback) is its own.
func edgeScope(baseURI string) string {
	u, err := url.Parse(baseURI)
	if err != nil || u.Host == "" {
		return "kucoin-edge|" + baseURI
	}
	host := u.Hostname()
	if net.ParseIP(host) == nil {
		if labels := strings.Split(host, "."); len(labels) > 2 {
			return "kucoin-edge|" + strings.Join(labels[len(labels)-2:], ".")
		}
	}
	return "kucoin-edge|" + u.Host
}

// defaultPoolLimit is each pool's VIP0 quota per window (EXCHANGES.md
// §2.6), assumed until the venue's gw-ratelimit headers say otherwise.
var defaultPoolLimit = map[string]int{poolSpot: 4000, poolFutures: 2000, poolManagement: 2000, poolPublic: 2000}

// poolWindow is the length of KuCoin's rate-limit window.
const poolWindow = 30 * time.Second

// reserve is how much of a pool the pacer keeps untouched.
func reserve(limit int) int {
	return max(10, limit/50)
}

// maxPace caps one pacing sleep (KuCoin windows are 30 s); a waiter that
// wakes before the reset checks again.
const maxPace = 30 * time.Second

func poolSpec(pool string) budget.Spec {
	limit := defaultPoolLimit[pool]
	// A Top request (the leaked key, keys that withdraw, the deletion of
	// our own temporary key) may spend the reserve but one unit: a 429000
	// from KuCoin refuses the request, it bans nothing.
	return budget.Spec{Name: pool, Limit: limit, Window: poolWindow, Reserve: reserve(limit), TopReserve: 1}
}

// wait blocks until a request of the given weight fits in pool before
// the window resets, and (a pacer from forPool) the edge lets it through,
// then charges both. A prepaid request (charged to its pool ahead) waits
// for the edge alone. The caller settles the reservation with observe or
// release.
func (p *pacer) wait(ctx context.Context, pool string, weight int, prepaid bool) (*reservation, error) {
	return p.charge(ctx, p.p, pool, poolSpec(pool), weight, prepaid)
}

// charge waits with w for a request's charges — weight to pool's bucket
// spec (unless prepaid) and one request to the edge (when p has one) —
// and records it sent through the edge.
func (p *pacer) charge(ctx context.Context, w *budget.Pacer, pool string, spec budget.Spec, weight int, prepaid bool) (*reservation, error) {
	var cs []budget.Cost
	if !prepaid {
		cs = append(cs, budget.Cost{Set: p.set, Spec: spec, Weight: weight})
	}
	if p.edge != nil {
		cs = append(cs, budget.Cost{Set: p.edge.set, Spec: edgeSpec(), Weight: 1})
	}
	r, err := w.Wait(ctx, cs...)
	if err != nil {
		return nil, err
	}
	rsv := &reservation{r: r, pool: pool}
	if p.edge != nil {
		rsv.sent = p.p.Now()
		p.edge.went(rsv.sent)
	}
	return rsv, nil
}

// release settles a reservation whose request got no answer: it stays
// charged (the venue may have counted it).
func (p *pacer) release(r *reservation) {
	if r != nil {
		p.p.Release(r.r)
	}
}

// observe settles a reservation with its answer's rate-limit headers
// (limit or remaining -1 when absent; reset the time to the window's end),
// whether KuCoin answered 429 (429000: the pool is spent) and whether the
// edge did (a block: see edgeSpec). It reports whether the answer began a
// new block of the edge (the first of its answers the process read).
func (p *pacer) observe(r *reservation, limit, remaining int, reset time.Duration, throttled, blocked bool) (began bool) {
	if r == nil {
		return false
	}
	edge := budget.None
	if blocked && p.edge != nil {
		var kept int
		kept, began = p.edge.blocked(p.p.Now(), r.sent)
		edge = budget.Observation{Used: -1, Limit: kept, Throttled: true, Reset: edgeBlock}
	}
	p.p.Settle(r.r, "edge", edge)
	o := budget.Observation{Used: -1, Limit: limit, Throttled: throttled}
	if throttled {
		o.Reset = reset
		if o.Reset <= 0 {
			o.Reset = defaultRetryAfter
		}
	} else if remaining >= 0 {
		o.Reset = reset
		if limit > 0 {
			o.Used = limit - remaining
		}
	}
	p.p.Settle(r.r, r.pool, o)
	return began
}

// settle settles a reservation with its answer (status, headers, body)
// and returns the answer's rate-limit headers. A 429 in KuCoin's envelope
// is its pool's (429000); any other 429 is the edge's block (Cloudflare's
// HTML page), counted for the request's action (countEdgeBlock).
func (p *pacer) settle(ctx context.Context, r *reservation, resp *http.Response, body []byte) (limit, remaining int, reset time.Duration) {
	limit, remaining, reset = rateHeaders(resp.Header)
	limited := resp.StatusCode == http.StatusTooManyRequests
	blocked := limited && !envelope(body)
	began := p.observe(r, limit, remaining, reset, limited && !blocked, blocked)
	if blocked {
		countEdgeBlock(ctx, p.edge, began)
	}
	return limit, remaining, reset
}

// edgeBlocksKey marks a context whose requests count the edge's blocks
// they are answered (withEdgeBlocks).
type edgeBlocksKey struct{}

// edgeBlocks counts the answers that were an edge's block, and which
// edge; notice tells the operator when one begins a block.
type edgeBlocks struct {
	n      atomic.Int32
	edge   atomic.Pointer[edge]
	notice func(string)
}

// withEdgeBlocks returns ctx whose requests count their edge blocks in
// the returned counter: one action's (run). notice (the action's
// Request.Notice) hears of each block the action's requests are the first
// to meet: one line per block for the whole process, whichever account's
// request it was, so that the wait is not taken for a hung run.
func withEdgeBlocks(ctx context.Context, notice func(string)) (context.Context, *edgeBlocks) {
	b := &edgeBlocks{notice: notice}
	return context.WithValue(ctx, edgeBlocksKey{}, b), b
}

// countEdgeBlock counts a block of e answered to a request of ctx; began:
// the answer began the block.
func countEdgeBlock(ctx context.Context, e *edge, began bool) {
	b, ok := ctx.Value(edgeBlocksKey{}).(*edgeBlocks)
	if !ok {
		return
	}
	b.n.Add(1)
	b.edge.Store(e)
	if began && e != nil && b.notice != nil {
		limit, until := e.state()
		b.notice(blockNotice(limit, until))
	}
}

// blockNotice is the operator's line for a block of the edge that lasts
// until until, after which the edge is sent limit requests per window.
func blockNotice(limit int, until time.Time) string {
	return fmt.Sprintf("KuCoin's CDN is refusing requests from this IP (HTTP 429, Cloudflare error 1015): every KuCoin request of the run waits %s, until %s, then goes at no more than %d per %s; until then nothing is cancelled or revoked on KuCoin, and whoever holds a leaked KuCoin key from another IP is not held back; other exchanges go on",
		edgeBlock.Round(100*time.Millisecond), until.Format("15:04:05"), limit, edgeWindow)
}

// finding tells the report that the edge blocked requests of the step,
// with the end of the last block (nil when it did not): the run waited the
// block out rather than failing, and where it comes back, the way around
// it is more addresses.
func (b *edgeBlocks) finding() (*executors.Finding, time.Time) {
	n, e := b.n.Load(), b.edge.Load()
	if n == 0 || e == nil {
		return nil, time.Time{}
	}
	limit, until := e.state()
	return &executors.Finding{Severity: "medium", Subject: "KuCoin requests from this IP",
		Message: fmt.Sprintf("KuCoin's CDN refused %d requests of this step (Cloudflare error 1015: too many requests from the IP): every KuCoin request of the run waited the block out (%s), then went at no more than %d per %s",
			n, edgeBlock.Round(100*time.Millisecond), limit, edgeWindow),
		Fix: "KuCoin's docs suggest sending from several IP addresses (one per sub-account or account) where a fund is large enough to meet this limit"}, until
}
