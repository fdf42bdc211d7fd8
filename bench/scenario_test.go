package bench

import (
	"context"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/audit"
	"github.com/panicbutton/panicbutton/internal/runner"
)

// TestQuarterScenarioEndState runs the benchmark's scenario at 1/4 size
// without latency, with the emulator in its own process as the benchmarks
// have it, and checks the end state, so that the benchmark cannot silently
// stop doing the work it times: no open order left, every sub key gone, no
// 429/418, every step as expected, the audit trail intact.
func TestQuarterScenarioEndState(t *testing.T) {
	size := Scaled(0.25)
	em, err := StartEmulatorProcess(t.TempDir(), size, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := em.Close(); err != nil {
			t.Errorf("stop the emulator's process: %v", err)
		}
	}()
	before := endState(t, em)
	if want := (Left{Orders: size.Orders(), SubOrders: size.SubOrders(), SubKeys: size.SubKeys()}); before != want || want.SubOrders == 0 {
		t.Fatalf("generated state: got %+v, want %+v (with sub-account orders)", before, want)
	}

	out, err := RunAgainst(context.Background(), em, Config{Size: size, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	after := endState(t, em)
	if after.Orders != 0 {
		t.Errorf("open orders of the masters left in the emulator: got %d, want 0", after.Orders)
	}
	if after.SubOrders != 0 {
		t.Errorf("open orders of the sub-accounts left in the emulator: got %d, want 0 (of %d)", after.SubOrders, before.SubOrders)
	}
	if after.SubKeys != 0 {
		t.Errorf("sub-account keys left in the emulator: got %d, want 0", after.SubKeys)
	}
	if out.Left != after {
		t.Errorf("Outcome.Left: got %+v, want the emulator's %+v", out.Left, after)
	}
	if out.Throttled != 0 {
		t.Errorf("429/418 answers: got %d, want 0", out.Throttled)
	}
	if out.FirstMutation < 0 {
		t.Error("the request log has no mutation")
	}
	if runtime.GOOS == "linux" && out.EmulatorCPU <= 0 {
		t.Errorf("the emulator process's CPU time: got %v, want measured", out.EmulatorCPU)
	}
	if out.Timestamp1021 != 0 {
		t.Errorf("timestamp rejections: got %d, want 0", out.Timestamp1021)
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{"all master orders cancelled", out.OrdersCancelled}, {"all sub-account orders cancelled", out.SubOrdersCancelled}, {"all sub keys deleted", out.KeysDeleted}, {"the sub-accounts' own keys deleted", out.SubKeysDeleted}} {
		if d.d < 0 || d.d > out.Wall {
			t.Errorf("time to %s: got %s, want measured, within the wall time %s", d.name, d.d, out.Wall)
		}
	}
	// The temporary keys are deleted after the sub-accounts' own keys
	// (the playbook revokes those before it freezes the sub-accounts).
	if out.SubKeysDeleted >= out.KeysDeleted {
		t.Errorf("the sub-accounts' own keys were gone at %s, every key at %s: want the temporary keys, deleted after, counted apart", out.SubKeysDeleted, out.KeysDeleted)
	}
	want := map[string]executors.Status{
		"revoke-leaked-key": executors.StatusSkipped, // no leaked_key input
		"snapshot-before":   executors.StatusOK, "inventory": executors.StatusOK, "freeze": executors.StatusChanged,
		"withdrawals": executors.StatusOK, "master-key": executors.StatusPending,
		"snapshot-after": executors.StatusOK,
	}
	// Binance does not show a master whether a sub key can withdraw, so
	// revoke-withdraw-keys deletes them all and revoke-sub-keys finds none
	// left; on KuCoin no sub key can withdraw. Every account has a
	// sub-account with open orders (SubWithOrdersEvery): the sub-account
	// freeze mints a temporary key on each sub, cancels what it finds and
	// deletes the key again (changed).
	wantBy := map[string]map[string]executors.Status{
		"binance": {"revoke-withdraw-keys": executors.StatusChanged, "revoke-sub-keys": executors.StatusOK, "freeze-sub-accounts": executors.StatusChanged},
		"kucoin":  {"revoke-withdraw-keys": executors.StatusOK, "revoke-sub-keys": executors.StatusChanged, "freeze-sub-accounts": executors.StatusChanged},
	}
	accounts := size.BinanceAccounts + size.KucoinAccounts
	steps := len(want) + len(wantBy["binance"])
	if got := len(out.Report.Results); got != steps*accounts {
		t.Errorf("results: got %d, want %d (%d steps × %d accounts)", got, steps*accounts, steps, accounts)
	}
	for _, r := range out.Report.Results {
		t.Run(r.Step+"/"+r.Account, func(t *testing.T) {
			w, ok := want[r.Step]
			if !ok {
				w = wantBy[r.Exchange][r.Step]
			}
			if r.Status != w {
				t.Errorf("status: got %s (%s), want %s", r.Status, r.Summary, w)
			}
		})
	}
	rep, err := audit.Verify(out.AuditPath, out.Report.AuditHead)
	if err != nil {
		t.Fatalf("verify audit trail: %v", err)
	}
	if !rep.Intact() {
		t.Errorf("audit trail: got first bad record %d, want intact", rep.FirstBad)
	}
}

// TestSequentialTransportSerialises: the baseline's transport never has
// two requests in flight.
func TestSequentialTransportSerialises(t *testing.T) {
	var inFlight, peak int
	var mu = make(chan struct{}, 1)
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu <- struct{}{}
		inFlight++
		peak = max(peak, inFlight)
		<-mu
		defer func() { mu <- struct{}{}; inFlight--; <-mu }()
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: r}, nil
	})
	tr := newSerialTransport(base)
	done := make(chan struct{})
	for range 8 {
		go func() {
			req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/", nil)
			if _, err := tr.RoundTrip(req); err != nil {
				t.Error(err)
			}
			done <- struct{}{}
		}()
	}
	for range 8 {
		<-done
	}
	if peak != 1 {
		t.Errorf("requests in flight at once: got %d, want 1", peak)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// endState is what the emulator's state holds now (Emulator.Left).
func endState(t *testing.T, em *Emulator) Left {
	t.Helper()
	l, err := em.Left()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestFailuresSayWhy: a failed step is told with its timing, error and
// high findings (a failure at scale must be understood from the log).
func TestFailuresSayWhy(t *testing.T) {
	start := time.Date(2026, 12, 5, 19, 52, 46, 0, time.UTC)
	o := &Outcome{Start: start, Report: &runner.Report{Results: []runner.StepResult{
		{Step: "snapshot-before", Account: "bn4-master", Status: executors.StatusOK, Summary: "fine"},
		{Step: "freeze", Account: "bn4-master", Status: executors.StatusFailed, Attempts: 1,
			Started: start.Add(100 * time.Millisecond), Duration: 3 * time.Minute,
			Summary: "cancelled 120 orders; 20 orders unconfirmed or still open: the re-list of usdm failed",
			Error:   "context deadline exceeded",
			Result: executors.Result{Findings: []executors.Finding{
				{Severity: "high", Subject: "usdm", Message: "cancels sent but the re-list failed: context deadline exceeded"},
				{Severity: "info", Subject: "spot", Message: "not this one"},
			}}},
	}}}
	err := o.Failures()
	if err == nil {
		t.Fatal("no failure told")
	}
	for _, want := range []string{"step freeze on bn4-master failed (started +100ms, ran 3m0s, 1 attempts)", "error: context deadline exceeded", "finding on usdm: cancels sent but the re-list failed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("failures %q: want %q in it", err, want)
		}
	}
	if strings.Contains(err.Error(), "snapshot-before") || strings.Contains(err.Error(), "not this one") {
		t.Errorf("failures %q tell more than the failed step's high findings", err)
	}
}
