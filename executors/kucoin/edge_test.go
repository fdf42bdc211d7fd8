package kucoin

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
	"github.com/panicbutton/panicbutton/executors/internal/budget"
	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

// TestEdgeBlockHoldsEveryRequest: when the CDN in front of KuCoin blocks
// the IP (Cloudflare 1015, the emulator's edge fault), the executor
// stops sending until the block has passed, for every request at once,
// instead of each request retrying into the block; then it keeps the
// learnt limit, so it is not blocked a second time; and cancel_all still
// ends with every order cancelled. The edge's figures are shrunk (the
// documented ones are 500 per 10 s and a 30 s block).
func TestEdgeBlockHoldsEveryRequest(t *testing.T) {
	budget.ForgetTold() // its wait is news however often the test runs
	const (
		limit  = 30
		window = time.Second
		block  = 300 * time.Millisecond
	)
	const symbols = 40 // 40 per-symbol lists alone are past the limit
	srv, x, _ := edgeRig(t, symbols, emulator.EdgeFault{Limit: limit, Window: emulator.Duration(window), Block: emulator.Duration(block)}, limit/2)
	hooks := &executortest.RecordingHooks{}
	res, err := x.Do(t.Context(), req(executors.OrdersCancelAll, nil, hooks))
	if err != nil || res.Status != executors.StatusChanged || len(res.Remaining) != 0 || res.Counts["cancelled"] != 2*symbols+1 {
		t.Fatalf("cancel_all: %v, status %s, %d remaining, counts %v (%s)", err, res.Status, len(res.Remaining), res.Counts, res.Summary)
	}

	log := srv.Requests()
	first := -1
	for i, e := range log {
		if e.Fault == "edge: 1015" {
			first = i
			break
		}
	}
	if first < 0 {
		t.Fatalf("no edge block in %d requests: the test did not reach the limit", len(log))
	}
	b := log[first]
	answered := b.Time.Add(b.Duration) // when the executor learnt of the block (loopback)
	blockEnd := b.Time.Add(block)
	var during, blocked int
	for _, e := range log[first:] {
		if !strings.HasPrefix(e.Venue, "kucoin") {
			continue
		}
		if e.Fault == "edge: 1015" {
			blocked++
			if !e.Time.Before(blockEnd) {
				t.Errorf("blocked again at +%v: the learnt limit was not kept", e.Time.Sub(b.Time))
			}
		}
		// Requests already on their way when the block was answered may
		// arrive a moment later; none may be sent after it.
		if e.Time.After(answered.Add(150*time.Millisecond)) && e.Time.Before(blockEnd) {
			during++
		}
	}
	if during > 0 {
		t.Errorf("%d requests sent during the block, after the executor learnt of it", during)
	}
	if blocked > symbols+5 {
		t.Errorf("%d requests answered with the block: more than were in flight when it began", blocked)
	}
	if st := statusCount(log, http.StatusTooManyRequests); st != blocked {
		t.Errorf("%d answers 429, %d of them the edge's: KuCoin's own pools were not to be spent", st, blocked)
	}
	// The emulator may log blocks the executor never read (a hedge's copy
	// cancelled once the other answered): the finding counts those read.
	var told int
	if len(res.Findings) == 1 {
		_, _ = fmt.Sscanf(res.Findings[0].Message, "KuCoin's CDN refused %d requests", &told)
	}
	if told < 1 || told > blocked {
		t.Errorf("findings %+v: want one telling of the refused requests (1 to %d)", res.Findings, blocked)
	}
	// The operator hears of the block once, as it begins, however many
	// requests in flight were answered with it.
	if n := hooks.Notices(); len(n) != 1 || !strings.Contains(n[0], "Cloudflare error 1015") || !strings.Contains(n[0], "waits") {
		t.Errorf("notices %q: want one telling of the block and the wait", n)
	}
	t.Logf("%d requests, %d answered with the block", len(log), blocked)
}

// edgeRig starts an emulator holding a KuCoin master with HF orders on
// symbols symbols, behind the edge fault f, and returns it with an
// executor of the master that assumes f's window, keeps pace per window
// after a first block, and a block 100 ms longer than f's, and with the
// executor's edge (a fresh one: not what an earlier test taught one on the
// same port). It restores the edge's figures when the test ends.
func edgeRig(t *testing.T, symbols int, f emulator.EdgeFault, pace int) (*emulator.Server, *Executor, *edge) {
	t.Helper()
	w, l, b := edgeWindow, edgeLimit, edgeBlock
	t.Cleanup(func() { edgeWindow, edgeLimit, edgeBlock = w, l, b })
	edgeWindow, edgeLimit, edgeBlock = time.Duration(f.Window), pace, time.Duration(f.Block)+100*time.Millisecond
	srv, base := startEmulator(t, hfState(symbols), "state.yaml")
	srv.SetFaults(emulator.Faults{Edge: &f})
	edges.Delete(edgeScope(base))
	acct := demoAccount(t, srv, base)
	x, err := New(acct, executors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	return srv, x, edgeOf(acct.BaseURL)
}

func statusCount(log []emu.Entry, status int) int {
	n := 0
	for _, e := range log {
		if e.Status == status {
			n++
		}
	}
	return n
}

// TestEdgeLowerThanDocumented: an edge stricter than the figures the
// executor assumes after a block (KuCoin's docs say its own "may be
// fine-tuned") blocks once: the block teaches the executor how many
// requests the edge let through before it refused one, and it keeps two
// fifths of that per window (no sliding window then holds more than four
// fifths), so it does not block again, and cancel_all still ends with every order cancelled.
func TestEdgeLowerThanDocumented(t *testing.T) {
	const (
		limit  = 40 // what the edge allows per window; the executor learns it from the block (keeps 16)
		window = time.Second
		block  = 300 * time.Millisecond
	)
	srv, x, e := edgeRig(t, 80, emulator.EdgeFault{Limit: limit, Window: emulator.Duration(window), Block: emulator.Duration(block)}, 40)
	res, err := x.Do(t.Context(), req(executors.OrdersCancelAll, nil, &executortest.RecordingHooks{}))
	if err != nil || res.Status != executors.StatusChanged || len(res.Remaining) != 0 {
		t.Fatalf("cancel_all: %v, status %s, %d remaining (%s)", err, res.Status, len(res.Remaining), res.Summary)
	}
	if len(res.Findings) != 1 || !strings.Contains(res.Findings[0].Message, "Cloudflare error 1015") {
		t.Errorf("findings %+v: want one telling of the blocks", res.Findings)
	}
	// No block after the last one means something only if more than the
	// edge's limit went through after it: list the orders again until it
	// has (where the blocks fell in cancel_all depends on the machine).
	starts, after := edgeBlockStarts(srv.Requests(), block)
	for i := 0; i < 20 && after <= limit; i++ {
		if _, err := x.Do(t.Context(), req(executors.OrdersList, nil, nil)); err != nil {
			t.Fatalf("orders.list after the blocks: %v", err)
		}
		starts, after = edgeBlockStarts(srv.Requests(), block)
	}
	if len(starts) != 1 {
		t.Fatalf("%d blocks, want 1: the pace kept after it must hold", len(starts))
	}
	if after <= limit {
		t.Fatalf("%d requests after the block: too few to show the pace kept holds (want more than %d)", after, limit)
	}
	if kept, _ := e.state(); 2*kept > limit {
		t.Errorf("after the block the edge keeps %d per window: up to %d in a sliding window, more than the %d it allows", kept, 2*kept, limit)
	}
}

// edgeBlockStarts returns when each edge block of log began (a block lasts
// block) and how many requests came after the last one ended.
func edgeBlockStarts(log []emu.Entry, block time.Duration) (starts []time.Time, after int) {
	for _, e := range log {
		if e.Fault == "edge: 1015" && (len(starts) == 0 || !e.Time.Before(starts[len(starts)-1].Add(block))) {
			starts = append(starts, e.Time)
		}
	}
	for _, e := range log {
		if len(starts) > 0 && e.Time.After(starts[len(starts)-1].Add(block)) {
			after++
		}
	}
	return starts, after
}

// TestPoolWaitIsNoticed: when KuCoin answers 429000 with a reset several
// seconds away, the executor sends nothing more on that pool until the
// reset and the operator hears of the wait once, as it begins; cancel_all
// still ends with every order cancelled. Takes the 6 s wait.
func TestPoolWaitIsNoticed(t *testing.T) {
	budget.ForgetTold() // its wait is news however often the test runs
	srv, base := startEmulator(t, hfState(8), "state.yaml")
	srv.SetFaults(emulator.Faults{Script: []emulator.ScriptFault{{Venue: "kucoin", Method: http.MethodGet, Path: "/api/v1/hf/orders/active",
		Status: http.StatusTooManyRequests, Body: `{"code":"429000","msg":"Too Many Requests"}`,
		Headers: map[string]string{"gw-ratelimit-limit": "4000", "gw-ratelimit-remaining": "0", "gw-ratelimit-reset": "6000"}}}})
	x, err := New(demoAccount(t, srv, base), executors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	hooks := &executortest.RecordingHooks{}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second) // a step's timeout: room to wait
	defer cancel()
	res, err := x.Do(ctx, req(executors.OrdersCancelAll, nil, hooks))
	if err != nil || res.Status != executors.StatusChanged || len(res.Remaining) != 0 {
		t.Fatalf("cancel_all: %v, status %s, %d remaining (%s)", err, res.Status, len(res.Remaining), res.Summary)
	}
	if n := statusCount(srv.Requests(), http.StatusTooManyRequests); n != 1 {
		t.Errorf("%d answers 429, want the scripted one: the executor sent into the closed pool", n)
	}
	if n := hooks.Notices(); len(n) != 1 || !strings.Contains(n[0], "KuCoin answered 429") || !strings.Contains(n[0], "wait 6s") {
		t.Errorf("notices %q: want one telling of the 6 s wait", n)
	}
}

// TestSyncGoesThroughTheEdge: the server-time syncs are requests of the
// IP like any other: the edge counts them (the pace it keeps after a
// block is measured on everything that went) and they wait out a block
// with the rest.
func TestSyncGoesThroughTheEdge(t *testing.T) {
	srv, x, e := edgeRig(t, 4, emulator.EdgeFault{Limit: 10000, Window: emulator.Duration(time.Minute), Block: emulator.Duration(time.Second)}, 5000)
	if _, err := x.Do(t.Context(), req(executors.OrdersList, nil, nil)); err != nil {
		t.Fatal(err)
	}
	syncs, all := 0, 0
	for _, en := range srv.Requests() {
		if strings.HasPrefix(en.Venue, "kucoin") {
			all++
			if en.Path == "/api/v1/timestamp" {
				syncs++
			}
		}
	}
	if syncs == 0 {
		t.Fatal("no server-time sync in the log: the test tested nothing")
	}
	e.mu.Lock()
	counted := len(e.sent)
	e.mu.Unlock()
	if counted != all {
		t.Errorf("the edge counted %d requests, the emulator saw %d (%d of them syncs)", counted, all, syncs)
	}
}

// TestConfirmDeadline: cancel_all's confirmation has confirm_timeout of
// time the requests can go: an edge block that holds them (31 s, longer
// than the default 10 s) moves its end to confirm_timeout after the
// block's; a block over before the confirmation began changes nothing.
func TestConfirmDeadline(t *testing.T) {
	from := time.Date(2026, 12, 5, 17, 0, 0, 0, time.UTC)
	const timeout = 10 * time.Second
	for _, c := range []struct {
		name  string
		until time.Time
		want  time.Time
	}{
		{"no block", time.Time{}, from.Add(timeout)},
		{"a block over before", from.Add(-time.Second), from.Add(timeout)},
		{"a block ending within the timeout", from.Add(5 * time.Second), from.Add(15 * time.Second)},
		{"a block longer than the timeout", from.Add(31 * time.Second), from.Add(41 * time.Second)},
	} {
		if got := confirmDeadline(from, timeout, c.until); !got.Equal(c.want) {
			t.Errorf("%s: %s, want %s", c.name, got.Sub(from), c.want.Sub(from))
		}
	}
}
