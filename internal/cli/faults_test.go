package cli

// The fault suite (issue 6, "Resilience"): `run suspected-key-leak --yes`
// over both exchanges of the demo state while the emulator injects one
// fault at a time. Every case checks the same invariants (the trail
// verifies against the printed head, no record is lost, nothing was retried
// after an auth or validation error, the freeze result matches the
// emulator's order book exactly) and then what is specific to its fault.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/audit"
	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/emulator/emu"
	"github.com/panicbutton/panicbutton/internal/emulator/venues"
	"github.com/panicbutton/panicbutton/internal/runner"
)

// The demo state's configured accounts (one per exchange).
const (
	faultBinance = "northwind-master"
	faultKucoin  = "kucoin-main"
)

// faultSteps are the steps of suspected-key-leak, in order.
var faultSteps = []string{"revoke-leaked-key", "snapshot-before", "inventory", "freeze", "revoke-withdraw-keys", "withdrawals", "revoke-sub-keys", "freeze-sub-accounts", "master-key", "snapshot-after"}

// whenSkipped reports a step its playbook condition skipped (no leaked_key
// input; a Binance-only step on KuCoin): not a fault's doing.
func whenSkipped(r runner.StepResult) bool {
	return r.Status == executors.StatusSkipped && strings.HasPrefix(r.Summary, "skipped: when ")
}

// faultEmu is an in-process demo emulator with an accounts file for it.
type faultEmu struct {
	srv  *emulator.Server
	base string
	dir  string
	cfg  string
}

func startFaultEmu(t *testing.T) *faultEmu {
	t.Helper()
	cfg := emulator.Config{Loaders: venues.DefaultLoaders()}
	fsys, name := venues.DemoState()
	vs, err := emulator.LoadState(fsys, name, cfg)
	if err != nil {
		t.Fatalf("load demo state: %v", err)
	}
	srv := emulator.New(cfg, vs)
	base, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("start emulator: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	dir := t.TempDir()
	e := &faultEmu{srv: srv, base: base, dir: dir, cfg: filepath.Join(dir, "accounts.yaml")}
	if err := srv.WriteAccounts(e.cfg, base); err != nil {
		t.Fatalf("write accounts: %v", err)
	}
	return e
}

// faultTransport is the test's base transport, under the executors' own
// (pacing, signing) layers: it logs what actually goes on the wire, can
// bound each request (standing in for the executors' 30 s client timeout,
// too long for a test) and can run a hook before a request leaves.
type faultTransport struct {
	base    http.RoundTripper
	timeout time.Duration
	before  func(r *http.Request)

	mu  sync.Mutex
	log []faultWire
}

// faultWire is one request as the client saw it.
type faultWire struct {
	venue, method, path string
	sent, done          time.Time
	status              int
	header              http.Header
}

// faultVenuePath splits "/kucoin-futures/api/v1/x" into venue and path.
func faultVenuePath(p string) (string, string) {
	p = strings.TrimPrefix(p, "/")
	venue, rest, _ := strings.Cut(p, "/")
	return venue, "/" + rest
}

func (ft *faultTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if ft.before != nil {
		ft.before(r)
	}
	w := faultWire{method: r.Method, sent: time.Now()}
	w.venue, w.path = faultVenuePath(r.URL.Path)
	ctx := r.Context()
	var cancel context.CancelFunc = func() {}
	if ft.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, ft.timeout)
	}
	resp, err := ft.base.RoundTrip(r.WithContext(ctx))
	w.done = time.Now()
	if err == nil {
		w.status, w.header = resp.StatusCode, resp.Header.Clone()
		resp.Body = &faultCancelBody{ReadCloser: resp.Body, cancel: cancel}
	} else {
		cancel()
	}
	ft.mu.Lock()
	ft.log = append(ft.log, w)
	ft.mu.Unlock()
	return resp, err
}

func (ft *faultTransport) wire() []faultWire {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	out := append([]faultWire(nil), ft.log...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].sent.Before(out[j].sent) })
	return out
}

// faultCancelBody releases a per-request timeout once the body is closed.
type faultCancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *faultCancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// faultRun is what one in-process CLI run left behind.
type faultRun struct {
	code        int
	out, errOut string
	dir         string
	head        string
	rep         runner.Report
	recs        []audit.Record
	elapsed     time.Duration
}

var faultHeadRE = regexp.MustCompile(`audit head: ([0-9a-f]{64})`)

// run executes panicbutton in-process against the emulator, with ft as the
// base transport (behind the loopback-only guard every test uses).
func (e *faultEmu) run(t *testing.T, ft *faultTransport, args ...string) faultRun {
	t.Helper()
	runs := filepath.Join(e.dir, "runs")
	env := map[string]string{"HOME": e.dir, "PANICBUTTON_CONFIG": e.cfg, "PANICBUTTON_RUNS_DIR": runs}
	var out, errOut syncBuffer
	f := &Factory{
		In: strings.NewReader(""), Out: &out, ErrOut: &errOut,
		IsTTY: func() bool { return false }, Now: time.Now, Getenv: func(k string) string { return env[k] },
		Logger: slog.New(slog.DiscardHandler), Registry: NewRegistry(),
		Transport: loopbackOnly{base: ft}, Version: "test",
	}
	start := time.Now()
	code := Run(context.Background(), f, args)
	fr := faultRun{code: code, out: out.String(), errOut: errOut.String(), elapsed: time.Since(start)}
	t.Logf("run %v: exit %d in %s", args, code, fr.elapsed.Round(time.Millisecond))
	ents, err := os.ReadDir(runs)
	if err != nil || len(ents) == 0 {
		t.Fatalf("no run directory in %s: %v\nstdout:\n%s\nstderr:\n%s", runs, err, fr.out, fr.errOut)
	}
	fr.dir = filepath.Join(runs, ents[len(ents)-1].Name())
	b, err := os.ReadFile(filepath.Join(fr.dir, "results.json"))
	if err != nil {
		t.Fatalf("results.json: %v\nstdout:\n%s\nstderr:\n%s", err, fr.out, fr.errOut)
	}
	if err := json.Unmarshal(b, &fr.rep); err != nil {
		t.Fatalf("results.json: %v", err)
	}
	if m := faultHeadRE.FindStringSubmatch(fr.out); m != nil {
		fr.head = m[1]
	}
	fr.recs, err = audit.Read(fr.dir)
	if err != nil {
		t.Fatalf("read the audit trail: %v", err)
	}
	return fr
}

func (fr faultRun) result(step, account string) (runner.StepResult, bool) {
	for _, r := range fr.rep.Results {
		if r.Step == step && r.Account == account {
			return r, true
		}
	}
	return runner.StepResult{}, false
}

// faultOpen returns the ids of the account's open orders in the emulator
// (every id an order or order list is known by) and how many orders (or
// order lists) are open.
func faultOpen(t *testing.T, srv *emulator.Server, exchange, account string) (map[string]bool, [][]string) {
	t.Helper()
	b, err := json.Marshal(srv.State())
	if err != nil {
		t.Fatalf("emulator state: %v", err)
	}
	var st struct {
		Binance struct {
			Accounts []struct {
				Name       string                       `json:"name"`
				OpenOrders map[string][]json.RawMessage `json:"open_orders"`
			} `json:"accounts"`
		} `json:"binance"`
		Kucoin struct {
			Masters []struct {
				Name          string `json:"name"`
				Orders        []struct{ ID, Status string }
				FuturesOrders []struct{ ID, Status string } `json:"futures_orders"`
			} `json:"masters"`
		} `json:"kucoin"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("emulator state: %v", err)
	}
	ids := map[string]bool{}
	var orders [][]string // each open order (or list) with all of its ids
	switch exchange {
	case "binance":
		for _, a := range st.Binance.Accounts {
			if a.Name != account {
				continue
			}
			for _, list := range a.OpenOrders {
				for _, raw := range list {
					var o struct {
						OrderID, AlgoID, OrderListID json.Number
						Orders                       []struct{ OrderID json.Number }
					}
					if err := json.Unmarshal(raw, &o); err != nil {
						t.Fatalf("emulator order: %v", err)
					}
					var these []string
					for _, id := range []json.Number{o.OrderID, o.AlgoID, o.OrderListID} {
						if id != "" && id != "-1" {
							these = append(these, id.String())
						}
					}
					for _, l := range o.Orders {
						these = append(these, l.OrderID.String())
					}
					for _, id := range these {
						ids[id] = true
					}
					orders = append(orders, these)
				}
			}
		}
	case "kucoin":
		for _, m := range st.Kucoin.Masters {
			if m.Name != account {
				continue
			}
			for _, o := range append(m.Orders, m.FuturesOrders...) {
				if o.Status == "open" {
					ids[o.ID] = true
					orders = append(orders, []string{o.ID})
				}
			}
		}
	}
	return ids, orders
}

// checkFaultInvariants checks what every fault case must hold: the trail
// verifies against the printed head and is complete, no record is lost,
// auth and validation errors were never retried, failures name their
// account and class, the exit code matches the results, no 418 was ever
// answered, and each freeze result matches the emulator's book exactly.
func checkFaultInvariants(t *testing.T, e *faultEmu, fr faultRun) {
	t.Helper()
	// The trail verifies against the head the CLI printed.
	if fr.head == "" {
		t.Fatalf("no audit head printed; stdout:\n%s", fr.out)
	}
	if fr.head != fr.rep.AuditHead {
		t.Errorf("printed head %s, results.json head %s", fr.head, fr.rep.AuditHead)
	}
	vr, err := audit.Verify(fr.dir, fr.head)
	if err != nil {
		t.Fatalf("audit verify: %v", err)
	}
	if !vr.Complete || vr.Records != len(fr.recs) {
		t.Errorf("audit verify: complete %v, %d records verified of %d, want complete and all", vr.Complete, vr.Records, len(fr.recs))
	}

	// No record is lost: start first, end last, each intent followed by
	// its outcome, exactly one result record per (step, account).
	if len(fr.recs) < 2 || fr.recs[0].Phase != "start" || fr.recs[len(fr.recs)-1].Phase != "end" {
		t.Fatalf("trail does not run from a start to an end record (%d records)", len(fr.recs))
	}
	open := map[string]int{}
	results := map[string]int{}
	for _, r := range fr.recs[1 : len(fr.recs)-1] {
		key := r.Step + "|" + r.Account + "|" + r.Request["mutation_id"]
		switch r.Phase {
		case "start", "end":
			t.Errorf("seq %d: a second %s record", r.Seq, r.Phase)
		case "intent":
			open[key]++
		case "outcome":
			if open[key] == 0 {
				t.Errorf("seq %d: outcome of %s without an intent", r.Seq, key)
				continue
			}
			open[key]--
		case "info":
			var res map[string]any
			if err := json.Unmarshal(r.Result, &res); err != nil {
				t.Fatalf("seq %d: info result: %v", r.Seq, err)
			}
			if _, retry := res["retry"]; retry {
				class, _ := res["error_class"].(string)
				if class != "transient" && class != "rate-limited" && class != "unknown-outcome" {
					t.Errorf("seq %d: %s on %s retried after a %q error", r.Seq, r.Step, r.Account, class)
				}
				continue
			}
			if _, ok := res["status"]; ok {
				results[r.Step+"|"+r.Account]++
			}
		}
	}
	for key, n := range open {
		if n != 0 {
			t.Errorf("%d intent(s) of %s have no outcome", n, key)
		}
	}
	for _, acct := range []string{faultBinance, faultKucoin} {
		for _, step := range faultSteps {
			if n := results[step+"|"+acct]; n != 1 {
				t.Errorf("trail has %d result records for %s on %s, want 1", n, step, acct)
			}
			if _, ok := fr.result(step, acct); !ok {
				t.Errorf("results.json has no result for %s on %s", step, acct)
			}
		}
	}
	if got, want := len(fr.rep.Results), len(faultSteps)*2; got != want {
		t.Errorf("results.json has %d results, want %d", got, want)
	}

	// Failures are reported with account and class; auth and validation
	// errors were tried once.
	failed := 0
	for _, r := range fr.rep.Results {
		if r.Status != executors.StatusFailed {
			continue
		}
		failed++
		if r.ErrClass == "" || r.ErrClass == "error" || r.Error == "" {
			t.Errorf("%s on %s failed without an error class (class %q, error %q)", r.Step, r.Account, r.ErrClass, r.Error)
		}
		line := fmt.Sprintf("FAILED  %s on %s: ", r.Step, r.Account)
		if !strings.Contains(fr.out, line) {
			t.Errorf("stdout does not report %q; stdout:\n%s", line, fr.out)
		}
		switch r.ErrClass {
		case "auth", "rejected", "unsupported", "audit":
			if r.Attempts > 1 {
				t.Errorf("%s on %s: %d attempts after a %s error, want 1", r.Step, r.Account, r.Attempts, r.ErrClass)
			}
		}
	}
	if failed > 0 && fr.code != ExitFailed {
		t.Errorf("exit code %d with %d failed steps, want %d", fr.code, failed, ExitFailed)
	}

	// No 418, and no 429 that was not injected.
	for _, q := range e.srv.Requests() {
		if q.Status == http.StatusTeapot || (q.Status == http.StatusTooManyRequests && q.Fault == "") {
			t.Errorf("emulator answered %d to %s %s %s (a rate limit was hit)", q.Status, q.Venue, q.Method, q.Path)
		}
	}

	// The freeze result is exact: contained means no open order left;
	// otherwise Remaining lists exactly the survivors.
	for _, a := range []struct{ exchange, name string }{{"binance", faultBinance}, {"kucoin", faultKucoin}} {
		r, _ := fr.result("freeze", a.name)
		ids, orders := faultOpen(t, e.srv, a.exchange, a.name)
		switch r.Status {
		case executors.StatusChanged, executors.StatusOK:
			if len(orders) != 0 {
				t.Errorf("freeze on %s is %s but the emulator still has %d open orders: %v", a.name, r.Status, len(orders), orders)
			}
		case executors.StatusFailed:
			if len(r.Result.Remaining) == 0 {
				// The book could not be (re-)read: the failure must be a
				// read failure, and with nothing reported as changed,
				// nothing may have been cancelled behind our back.
				if !executors.Retryable(&executors.Error{Class: faultClass(r.ErrClass)}) {
					t.Errorf("freeze on %s failed (%s) with no remaining list: want a transient read failure", a.name, r.ErrClass)
				}
				if len(r.Result.Changes) == 0 && len(orders) == 0 {
					t.Errorf("freeze on %s reports no change but the emulator has no open order left", a.name)
				}
				continue
			}
			listed := map[string]bool{}
			// A freeze whose last re-list failed counts what it could not
			// confirm as remaining (never as cancelled): those may be gone.
			unconfirmed := strings.Contains(r.Summary, "re-list failed") || strings.Contains(r.Summary, "re-list of")
			for _, c := range r.Result.Remaining {
				listed[c.ID] = true
				if !ids[c.ID] && !unconfirmed {
					t.Errorf("freeze on %s lists %s as remaining, but it is not open in the emulator", a.name, c.ID)
				}
			}
			for _, o := range orders {
				found := false
				for _, id := range o {
					found = found || listed[id]
				}
				if !found {
					t.Errorf("freeze on %s: open order %v is missing from Remaining", a.name, o)
				}
			}
		default:
			t.Errorf("freeze on %s: status %s", a.name, r.Status)
		}
	}
	if t.Failed() {
		t.Logf("stdout:\n%s\nstderr:\n%s", fr.out, fr.errOut)
	}
}

// wantContained asserts that the run contained both accounts like a run
// without faults: every network step ok or changed (withdrawals and the
// sub keys KuCoin cannot delete are manual), exit 4 for the manual steps.
func wantContained(t *testing.T, e *faultEmu, fr faultRun) {
	t.Helper()
	if fr.code != ExitManual {
		t.Errorf("exit code %d, want %d (contained, manual steps pending)", fr.code, ExitManual)
	}
	for _, r := range fr.rep.Results {
		if r.Status == executors.StatusFailed || (r.Status == executors.StatusSkipped && !whenSkipped(r)) {
			t.Errorf("%s on %s: %s (%s): %s", r.Step, r.Account, r.Status, r.ErrClass, r.Summary)
		}
	}
	for _, a := range []string{faultBinance, faultKucoin} {
		if r, _ := fr.result("freeze", a); r.Status != executors.StatusChanged {
			t.Errorf("freeze on %s: %s, want changed", a, r.Status)
		}
	}
}

// faultMutationsOK asserts that every mutation of step on account the
// trail shows ended well: a request that failed for a passing reason was
// sent again within its mutation (a cancel of every order on a symbol is
// idempotent), not left to a later round or a retry of the step.
func faultMutationsOK(t *testing.T, fr faultRun, step, account string) {
	t.Helper()
	n := 0
	for _, r := range fr.recs {
		if r.Phase != "outcome" || r.Step != step || r.Account != account {
			continue
		}
		n++
		var res struct {
			OK         bool   `json:"ok"`
			ErrorClass string `json:"error_class"`
		}
		_ = json.Unmarshal(r.Result, &res)
		if !res.OK {
			t.Errorf("trail: %s mutation %s on %s failed (%s), want every one sent again until it succeeded", step, r.Request["mutation_id"], account, res.ErrorClass)
		}
	}
	if n == 0 {
		t.Errorf("trail shows no %s mutation on %s", step, account)
	}
}

// faultResentAtOnce asserts that, on venue, the first request to mutPath
// answered with fault (a cancel of every order on a symbol) was sent again
// for the same symbol before any read of readPaths reached the emulator:
// it is idempotent, so its unknown outcome costs no re-list first. (That
// other mutations are never sent again blindly is the executors' tests'.)
func faultResentAtOnce(t *testing.T, srv *emulator.Server, venue, method, mutPath, faultPrefix string, readPaths ...string) {
	t.Helper()
	reqs := srv.Requests()
	first := -1
	for i, q := range reqs {
		if q.Venue == venue && q.Method == method && q.Path == mutPath && strings.HasPrefix(q.Fault, faultPrefix) {
			first = i
			break
		}
	}
	if first < 0 {
		t.Errorf("emulator never injected %q on %s %s %s", faultPrefix, venue, method, mutPath)
		return
	}
	faulted := reqs[first]
	// The log is in completion order, and a hung request completes when
	// the server notices its client gave up, late under load: go by
	// arrival. Look for the resend of the same request (same query apart
	// from timestamp and signature).
	sym := faultQueryValue(faulted.Query, "symbol")
	relisted := false
	byArrival := slices.Clone(reqs)
	slices.SortStableFunc(byArrival, func(a, b emu.Entry) int { return a.Time.Compare(b.Time) })
	for _, q := range byArrival {
		if !q.Time.After(faulted.Time) || q.Venue != venue {
			continue
		}
		if q.Method == http.MethodGet {
			for _, p := range readPaths {
				relisted = relisted || q.Path == p
			}
		}
		if q.Method == method && q.Path == mutPath && faultQueryValue(q.Query, "symbol") == sym {
			if relisted {
				t.Errorf("%s %s %s (symbol %q) was sent again after %q only after a re-list, want at once", venue, method, mutPath, sym, faulted.Fault)
			}
			return
		}
	}
	t.Errorf("%s %s %s (symbol %q) was never sent again after %q", venue, method, mutPath, sym, faulted.Fault)
}

func faultQueryValue(rawQuery, key string) string {
	for _, part := range strings.Split(rawQuery, "&") {
		if v, ok := strings.CutPrefix(part, key+"="); ok {
			return v
		}
	}
	return ""
}

// faultRetryCount counts the runner's retry records for step on account.
func faultRetryCount(fr faultRun, step, account string) int {
	n := 0
	for _, r := range fr.recs {
		if r.Phase == "info" && r.Step == step && r.Account == account && strings.Contains(string(r.Result), `"retry":`) {
			n++
		}
	}
	return n
}

// faultRevoke answers every later request on venues with what the
// emulator answers for a deleted API key, from the moment the account's
// withdrawals step sends its first request (so: between freeze and the
// steps after it). Each exchange has exactly one configured account in
// the demo state, so a venue-wide answer revokes exactly that account.
func faultRevoke(srv *emulator.Server, trigger string, scripts ...emulator.ScriptFault) func(*http.Request) {
	var once sync.Once
	return func(r *http.Request) {
		_, path := faultVenuePath(r.URL.Path)
		if path == trigger {
			once.Do(func() { srv.SetFaults(emulator.Faults{Script: scripts}) })
		}
	}
}

// TestFaultSuite runs suspected-key-leak --yes over both exchanges of the
// demo state under each fault.
func TestFaultSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("fault suite: skipped with -short")
	}
	const (
		binanceAuthBody = `{"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}`
		kucoinAuthBody  = `{"code":"400003","msg":"KC-API-KEY not exists"}`
	)
	cases := []struct {
		name    string
		faults  emulator.Faults
		timeout time.Duration // per request, in the test transport
		// stepTimeout, when set, runs a copy of suspected-key-leak whose
		// network steps time out after it: requests persist until the
		// step's deadline (issue 12), too long with the built-in's.
		stepTimeout time.Duration
		before      func(e *faultEmu) func(*http.Request)
		check       func(t *testing.T, e *faultEmu, ft *faultTransport, fr faultRun)
	}{
		{
			// The next 3 spot cancels answer 503 after being handled or
			// not: each is sent again at once (idempotent), within its
			// mutation.
			name: "5xx burst on spot cancels",
			faults: emulator.Faults{Script: []emulator.ScriptFault{
				{Venue: "binance", Method: http.MethodDelete, Path: "/api/v3/openOrders", Count: 3, Status: 503, Body: `{"code":-1008,"msg":"Service Unavailable."}`},
				{Venue: "kucoin", Method: http.MethodDelete, Path: "/api/v1/hf/orders", Count: 3, Status: 503, Body: `{"code":"503000","msg":"Service unavailable"}`},
			}},
			check: func(t *testing.T, e *faultEmu, ft *faultTransport, fr faultRun) {
				wantContained(t, e, fr)
				faultMutationsOK(t, fr, "freeze", faultBinance)
				faultResentAtOnce(t, e.srv, "binance", http.MethodDelete, "/api/v3/openOrders", "script: 503", "/api/v3/openOrders", "/api/v3/openOrderList")
				faultResentAtOnce(t, e.srv, "kucoin", http.MethodDelete, "/api/v1/hf/orders", "script: 503", "/api/v1/hf/orders/active", "/api/v1/hf/orders/active/symbols")
			},
		},
		{
			// Listing fails twice: the executor sends the read again
			// (transient, issue 12: per request, within the step's
			// timeout) and the step succeeds at its first attempt.
			name: "5xx burst on order listing",
			faults: emulator.Faults{Script: []emulator.ScriptFault{
				{Venue: "binance", Method: http.MethodGet, Path: "/fapi/v1/openOrders", Count: 2, Status: 502, Body: `{"code":-1001,"msg":"Internal error; unable to process your request. Please try again."}`},
			}},
			check: func(t *testing.T, e *faultEmu, ft *faultTransport, fr faultRun) {
				wantContained(t, e, fr)
				lists := 0
				for _, q := range e.srv.Requests() {
					if q.Venue == "binance" && q.Method == http.MethodGet && q.Path == "/fapi/v1/openOrders" {
						lists++
					}
				}
				if r, _ := fr.result("freeze", faultBinance); r.Status != executors.StatusChanged || lists < 3 {
					t.Errorf("freeze on %s: %s after %d attempts, %d futures listings sent; want changed, the failed listing sent again", faultBinance, r.Status, r.Attempts, lists)
				}
			},
		},
		{
			// 10% of every venue request fails: requests persist (issue
			// 12), so freeze contains both accounts; whatever fails is
			// reported exactly (the invariants).
			name:   "10% error rate on everything",
			faults: emulator.Faults{ErrorRate: 0.10, Seed: 6},
			check: func(t *testing.T, e *faultEmu, ft *faultTransport, fr faultRun) {
				for _, a := range []string{faultBinance, faultKucoin} {
					if r, _ := fr.result("freeze", a); r.Status != executors.StatusChanged {
						t.Errorf("freeze on %s: %s after %d attempts (%s), want changed", a, r.Status, r.Attempts, r.Summary)
					}
				}
				injected := 0
				for _, q := range e.srv.Requests() {
					if q.Fault != "" {
						injected++
					}
				}
				if injected == 0 {
					t.Errorf("the emulator injected no error: the case tests nothing")
				}
				for _, r := range fr.rep.Results {
					if r.Status == executors.StatusFailed && r.ErrClass != "transient" && r.ErrClass != "unknown-outcome" {
						t.Errorf("%s on %s failed with class %s; only transient failures were injected", r.Step, r.Account, r.ErrClass)
					}
				}
			},
		},
		{
			// A spot cancel never answers: the client gives up after the
			// per-request timeout and sends it again at once (idempotent:
			// it cancels what is open on the symbol then).
			name:    "hanging cancel",
			faults:  emulator.Faults{Hang: &emulator.HangFault{Venue: "binance", Method: http.MethodDelete, Path: "/api/v3/openOrders", Count: 1}},
			timeout: time.Second,
			check: func(t *testing.T, e *faultEmu, ft *faultTransport, fr faultRun) {
				wantContained(t, e, fr)
				faultMutationsOK(t, fr, "freeze", faultBinance)
				faultResentAtOnce(t, e.srv, "binance", http.MethodDelete, "/api/v3/openOrders", "hang", "/api/v3/openOrders", "/api/v3/openOrderList")
			},
		},
		{
			// A scripted 429 with Retry-After on each exchange: nothing
			// more goes to that limit's family until the wait is over,
			// then the run succeeds; no 418 (invariants).
			name: "429 with Retry-After",
			faults: emulator.Faults{Script: []emulator.ScriptFault{
				{Venue: "binance", Method: http.MethodGet, Path: "/api/v3/openOrders", Count: 1, Status: 429, Headers: map[string]string{"Retry-After": "1"},
					Body: `{"code":-1003,"msg":"Too much request weight used; current limit is 6000 request weight per 1 MINUTE."}`},
				{Venue: "kucoin", Method: http.MethodGet, Path: "/api/v1/hf/orders/active/symbols", Count: 1, Status: 429, Headers: map[string]string{"gw-ratelimit-reset": "1000", "gw-ratelimit-remaining": "0", "gw-ratelimit-limit": "4000"},
					Body: `{"code":"429000","msg":"Too Many Requests"}`},
			}},
			check: func(t *testing.T, e *faultEmu, ft *faultTransport, fr faultRun) {
				wantContained(t, e, fr)
				for _, c := range []struct{ venue, path, family string }{
					{"binance", "/api/v3/openOrders", "/api/"},
					{"kucoin", "/api/v1/hf/orders/active/symbols", ""},
				} {
					var got *faultWire
					wire := ft.wire()
					for i := range wire {
						if wire[i].venue == c.venue && wire[i].path == c.path && wire[i].status == http.StatusTooManyRequests {
							got = &wire[i]
							break
						}
					}
					if got == nil {
						t.Errorf("%s: the scripted 429 on %s never reached the client", c.venue, c.path)
						continue
					}
					// The same request is repeated, but only after the wait.
					again := false
					for _, w := range wire {
						if w.sent.After(got.done) && w.venue == c.venue && w.path == c.path {
							again = true
							if wait := w.sent.Sub(got.done); wait < 950*time.Millisecond {
								t.Errorf("%s: %s repeated %s after a 429 asking for 1s", c.venue, c.path, wait.Round(time.Millisecond))
							}
						}
					}
					if !again {
						t.Errorf("%s: %s was never repeated after the 429", c.venue, c.path)
					}
				}
			},
		},
		{
			name:   "clock skew +10s",
			faults: emulator.Faults{Skew: emulator.Duration(10 * time.Second)},
			check:  faultWantResynced,
		},
		{
			name:   "clock skew -10s",
			faults: emulator.Faults{Skew: emulator.Duration(-10 * time.Second)},
			check:  faultWantResynced,
		},
		{
			// KuCoin's key is deleted right after freeze: its later
			// steps fail as auth errors, once each; Binance is untouched.
			name: "kucoin credentials revoked mid-run",
			before: func(e *faultEmu) func(*http.Request) {
				return faultRevoke(e.srv, "/api/v1/withdrawals",
					emulator.ScriptFault{Venue: "kucoin", Count: 1 << 20, Status: 401, Body: kucoinAuthBody},
					emulator.ScriptFault{Venue: "kucoin-futures", Count: 1 << 20, Status: 401, Body: kucoinAuthBody})
			},
			check: func(t *testing.T, e *faultEmu, ft *faultTransport, fr faultRun) {
				faultWantRevoked(t, fr, faultKucoin, faultBinance)
			},
		},
		{
			name: "binance credentials revoked mid-run",
			before: func(e *faultEmu) func(*http.Request) {
				return faultRevoke(e.srv, "/sapi/v1/capital/withdraw/history",
					emulator.ScriptFault{Venue: "binance", Count: 1 << 20, Status: 401, Body: binanceAuthBody})
			},
			check: func(t *testing.T, e *faultEmu, ft *faultTransport, fr faultRun) {
				faultWantRevoked(t, fr, faultBinance, faultKucoin)
			},
		},
		{
			// KuCoin (both hosts) is down for the whole run: Binance is
			// contained, every KuCoin network step persists until its
			// timeout, then fails as transient, exit 1.
			name:        "kucoin down",
			faults:      emulator.Faults{Down: []string{"kucoin", "kucoin-futures"}},
			stepTimeout: 3 * time.Second,
			check: func(t *testing.T, e *faultEmu, ft *faultTransport, fr faultRun) {
				if fr.code != ExitFailed {
					t.Errorf("exit code %d, want %d", fr.code, ExitFailed)
				}
				for _, r := range fr.rep.Results {
					switch {
					case whenSkipped(r):
					case r.Account == faultBinance && (r.Status == executors.StatusFailed || r.Status == executors.StatusSkipped):
						t.Errorf("%s on %s: %s: %s, want Binance unaffected", r.Step, r.Account, r.Status, r.Summary)
					case r.Account == faultKucoin && r.Action != executors.Manual:
						if r.Status != executors.StatusFailed || r.ErrClass != "transient" {
							t.Errorf("%s on %s: %s (class %q), want failed (transient)", r.Step, r.Account, r.Status, r.ErrClass)
						}
						// The step's deadline ends the persistence: its last
						// request either got the 503 or was still waiting
						// (for the venue, or for the pool the failed
						// requests spent) when the step timed out.
						if !strings.Contains(r.Error, "503") && !strings.Contains(strings.ToLower(r.Error), "unavailable") && !strings.Contains(r.Error, "timed out") {
							t.Errorf("%s on %s: error %q says neither that the venue is unavailable nor that the step timed out", r.Step, r.Account, r.Error)
						}
					}
				}
				if r, _ := fr.result("freeze", faultBinance); r.Status != executors.StatusChanged {
					t.Errorf("freeze on %s: %s, want changed", faultBinance, r.Status)
				}
				// Each request persisted until the step's deadline: the
				// venue saw many more requests than steps.
				kucoinSent := 0
				for _, q := range e.srv.Requests() {
					if strings.HasPrefix(q.Venue, "kucoin") {
						kucoinSent++
					}
				}
				if r, _ := fr.result("freeze", faultKucoin); r.Attempts < 1 || kucoinSent < 30 {
					t.Errorf("freeze on %s: %d attempts, %d KuCoin requests in the run; want the requests repeated until the deadline", faultKucoin, r.Attempts, kucoinSent)
				}
				for _, q := range e.srv.Requests() {
					if strings.HasPrefix(q.Venue, "kucoin") && q.Kind == emu.KindMutation {
						t.Errorf("a mutation reached the down venue: %s %s", q.Method, q.Path)
					}
				}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := startFaultEmu(t)
			e.srv.SetFaults(c.faults)
			ft := &faultTransport{base: http.DefaultTransport, timeout: c.timeout}
			if c.before != nil {
				ft.before = c.before(e)
			}
			pb := "suspected-key-leak"
			if c.stepTimeout > 0 {
				pb = shortPlaybook(t, c.stepTimeout)
			}
			fr := e.run(t, ft, "run", pb, "--yes")
			for _, r := range fr.rep.Results {
				t.Logf("%-16s %-17s %-8s attempts=%d class=%s: %.160s", r.Step, r.Account, r.Status, r.Attempts, r.ErrClass, r.Summary)
			}
			checkFaultInvariants(t, e, fr)
			c.check(t, e, ft, fr)
		})
	}
}

// faultWantRevoked asserts the revoked account's steps after freeze
// failed as auth errors without a retry (master-key is a manual step and
// stays pending), and that the other account was contained.
func faultWantRevoked(t *testing.T, fr faultRun, revoked, other string) {
	t.Helper()
	if fr.code != ExitFailed {
		t.Errorf("exit code %d, want %d", fr.code, ExitFailed)
	}
	for _, r := range fr.rep.Results {
		after := r.Step == "withdrawals" || r.Step == "revoke-sub-keys" || r.Step == "snapshot-after"
		if r.Account == revoked && r.Step == "revoke-sub-keys" && r.Status == executors.StatusOK && strings.Contains(r.Summary, "as listed since") {
			// Binance: the look for mid-run keys took the re-lists that
			// revoke-withdraw-keys made moments before, and sent nothing.
			continue
		}
		switch {
		case r.Account == revoked && after:
			if r.Status != executors.StatusFailed || r.ErrClass != "auth" || r.Attempts != 1 {
				t.Errorf("%s on %s: %s (class %q, %d attempts), want failed (auth) after 1 attempt", r.Step, r.Account, r.Status, r.ErrClass, r.Attempts)
			}
			if n := faultRetryCount(fr, r.Step, r.Account); n != 0 {
				t.Errorf("%s on %s: %d retry records after an auth error", r.Step, r.Account, n)
			}
		case r.Account == revoked && r.Step == "freeze":
			// The later steps start once the freeze's cancels are sent
			// (runner.startsOnSent): the key may die while the freeze
			// still confirms them, and then the freeze cannot say they
			// are gone — its cancels are made, its orders unconfirmed.
			confirming := r.Status == executors.StatusFailed && r.ErrClass == "auth" && strings.Contains(r.Summary, "unconfirmed")
			if r.Status != executors.StatusChanged && !confirming {
				t.Errorf("freeze on %s: %s (%s, class %q), want changed, or failed (auth) with its cancels unconfirmed",
					r.Account, r.Status, r.Summary, r.ErrClass)
			}
		case whenSkipped(r):
		case r.Account == other && (r.Status == executors.StatusFailed || r.Status == executors.StatusSkipped):
			t.Errorf("%s on %s: %s: %s, want the other account unaffected", r.Step, r.Account, r.Status, r.Summary)
		}
	}
	if r, _ := fr.result("freeze", other); r.Status != executors.StatusChanged {
		t.Errorf("freeze on %s: %s, want changed", other, r.Status)
	}
}

// faultWantResynced asserts a run under clock skew: both venues' server
// time was read, every timestamp rejection (-1021, 400002) was followed by
// a time request to its venue before the next signed request of the run
// succeeded, and both accounts were contained.
func faultWantResynced(t *testing.T, e *faultEmu, ft *faultTransport, fr faultRun) {
	t.Helper()
	wantContained(t, e, fr)
	timePath := map[string]string{"binance": "/api/v3/time", "kucoin": "/api/v1/timestamp", "kucoin-futures": "/api/v1/timestamp"}
	reqs := e.srv.Requests()
	synced := map[string]bool{}
	for i, q := range reqs {
		if q.Path == timePath[q.Venue] {
			synced[q.Venue] = true
		}
		if q.Code != "-1021" && q.Code != "400002" {
			continue
		}
		found := false
		for _, later := range reqs[i+1:] {
			if later.Venue == q.Venue && later.Path == timePath[q.Venue] {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("%s rejected %s %s with %s and the client never re-read the server time", q.Venue, q.Method, q.Path, q.Code)
		}
	}
	for _, v := range []string{"binance", "kucoin"} {
		if !synced[v] {
			t.Errorf("the client never read %s's server time under a 10s skew", v)
		}
	}
}

// faultClass maps a reported class name back onto its sentinel.
func faultClass(name string) error {
	for _, c := range []error{executors.ErrAuth, executors.ErrRateLimited, executors.ErrTransient, executors.ErrUnknownOutcome,
		executors.ErrRejected, executors.ErrUnsupported, executors.ErrAudit} {
		if executors.ClassOf(c) == name {
			return c
		}
	}
	return nil
}

// shortPlaybook writes a copy of the built-in suspected-key-leak whose
// network steps time out after d and returns its path.
func shortPlaybook(t *testing.T, d time.Duration) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "playbooks", "builtin", "suspected-key-leak.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := regexp.MustCompile(`(?m)^    timeout: [0-9]+[smh]\n`).ReplaceAllString(string(b), "")
	s = regexp.MustCompile(`(?m)^(    action: (snapshot|keys|orders|withdrawals)\.[a-z_]+\n)`).ReplaceAllString(s, "${1}    timeout: "+d.String()+"\n")
	path := filepath.Join(t.TempDir(), "suspected-key-leak.yaml")
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
