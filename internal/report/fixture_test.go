package report

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/binance"
	"github.com/panicbutton/panicbutton/executors/kucoin"
	"github.com/panicbutton/panicbutton/internal/audit"
	"github.com/panicbutton/panicbutton/internal/runner"
	"github.com/panicbutton/panicbutton/playbooks"
)

// fixture describes one real run made for a test: the runner executes a
// playbook with the Binance and KuCoin executors over real HTTP against the
// in-process emulator loaded with the demo fund (what `make demo` runs on)
// and writes a real audit trail.
type fixture struct {
	playbook string // built-in name; default suspected-key-leak
	source   string // playbook YAML, instead of a built-in
	dryRun   bool
	// live runs the runner and the trail on the venue's clock (real time
	// from fixtureStart on); otherwise their clock stands still at
	// fixtureStart, which makes the trail (and so the report)
	// deterministic.
	live bool
	// setup adjusts the venue before the run (faults…).
	setup func(t *testing.T, f *demoFund)
	// after is called when a (step, account) result arrives; cancel stops
	// the run.
	after func(t *testing.T, f *demoFund, step, account string, cancel context.CancelFunc)
	// resume, when set, resumes the run once it has stopped, as
	// `panicbutton run --resume` does, gap later on the clock: "interrupted"
	// resumes the trail as the (cancelled) run left it, "crash" first cuts
	// its end record off, as a kill would have left it.
	resume string
	gap    time.Duration
	// onHold, when set, turns the hold on (NoHold otherwise) and is
	// called with every hold progress line (e.g. to play the attacker or
	// the human deleting the key).
	onHold func(t *testing.T, f *demoFund, account, text string)
}

var fixtureStart = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// clock is a goroutine-safe test clock: it reads base plus the real time
// elapsed since start (nothing when still), plus every jump.
type clock struct {
	mu    sync.Mutex
	base  time.Time
	start time.Time
	jump  time.Duration
	still bool
}

func newClock(still bool) *clock {
	return &clock{base: fixtureStart, start: time.Now(), still: still}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.still {
		return c.base.Add(c.jump)
	}
	return c.base.Add(time.Since(c.start) + c.jump)
}

// advance jumps the clock forward by d (e.g. a pause before a resume).
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.jump += d
	c.mu.Unlock()
}

// makeRun runs the fixture and returns the run directory holding audit.jsonl.
func makeRun(t *testing.T, fx fixture) string {
	t.Helper()
	var pb *playbooks.Playbook
	var err error
	switch {
	case fx.source != "":
		pb, err = playbooks.Parse("test.yaml", []byte(fx.source))
	case fx.playbook != "":
		pb, err = playbooks.Builtin(fx.playbook)
	default:
		pb, err = playbooks.Builtin("suspected-key-leak")
	}
	if err != nil {
		t.Fatalf("playbook: %v", err)
	}
	// The emulator and the executors share a running clock (the
	// executors' timestamps must agree with the emulator's, and KuCoin
	// cancels take effect a moment later); from fixtureStart on, so that
	// the demo state's relative times and ids come out the same every run.
	venueClk := newClock(false)
	clk := venueClk
	if !fx.live {
		clk = newClock(true)
	}
	v := startDemoFund(t, venueClk.Now)
	if fx.setup != nil {
		fx.setup(t, v)
	}
	reg := executors.NewRegistry(binance.Driver(), kucoin.Driver())
	env := executors.Env{Now: venueClk.Now, Transport: v.transport(t)}.Defaults()
	var targets []runner.Target
	for _, a := range v.accts {
		drv, _ := reg.Driver(a.Exchange)
		ex, err := drv.New(a, env)
		if err != nil {
			t.Fatalf("new executor: %v", err)
		}
		targets = append(targets, runner.Target{Ref: playbooks.AccountRef{Name: a.Name, Exchange: a.Exchange, Tags: a.Tags}, Exec: ex})
	}
	// Like the CLI: every declared input is present (default "").
	inputs := map[string]string{}
	for _, in := range pb.Inputs {
		inputs[in.Name] = in.Default
	}
	// The playbook's step order, in the start record (as the CLI does), so
	// the report lists steps in playbook order although accounts and
	// independent steps run concurrently.
	var steps []map[string]string
	for _, s := range pb.Steps {
		steps = append(steps, map[string]string{"id": s.ID, "action": s.Action})
	}
	dir := t.TempDir()
	runID := "20250601T120000Z-test01"
	log, err := audit.Create(dir, runID, audit.Options{NoSync: true, Now: clk.Now})
	if err != nil {
		t.Fatalf("create audit log: %v", err)
	}
	defer log.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := runner.Options{
		RunID: runID, Playbook: pb, Targets: targets, Inputs: inputs, DryRun: fx.dryRun,
		Audit: log, Version: "test", Now: clk.Now, NoHold: fx.onHold == nil, HoldInterval: time.Millisecond, Hold: time.Minute,
		Sleep:     func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
		StartInfo: map[string]any{"plan_sha256": "9f2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeeff001", "steps": steps},
	}
	if fx.after != nil || fx.onHold != nil {
		o.Progress = func(e runner.Event) {
			switch {
			case e.Kind == "result" && fx.after != nil:
				fx.after(t, v, e.Step, e.Account, cancel)
			case e.Kind == "hold" && fx.onHold != nil:
				fx.onHold(t, v, e.Account, e.Text)
			}
		}
	}
	if _, err := runner.Run(ctx, o); err != nil {
		t.Fatalf("run: %v", err)
	}
	if fx.resume == "" {
		return dir
	}
	log.Close() // releases the trail's lock
	if fx.resume == "crash" {
		cutLastRecord(t, dir)
	}
	clk.advance(fx.gap)
	if clk != venueClk {
		venueClk.advance(fx.gap)
	}
	st, err := runner.LoadResume(dir)
	if err != nil {
		t.Fatalf("load resume: %v", err)
	}
	log2, err := audit.Open(dir, audit.Options{NoSync: true, Now: clk.Now})
	if err != nil {
		t.Fatalf("re-open audit log: %v", err)
	}
	defer log2.Close()
	o.Audit, o.Resume, o.Progress = log2, st, nil
	o.StartInfo = map[string]any{"confirmed_by": "--yes", "steps": steps}
	if _, err := runner.Run(context.Background(), o); err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	return dir
}

// cutLastRecord removes the last line of the trail in dir.
func cutLastRecord(t *testing.T, dir string) {
	t.Helper()
	p := filepath.Join(dir, audit.FileName)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	cut := bytes.LastIndexByte(b[:len(b)-1], '\n') + 1
	if err := os.WriteFile(p, b[:cut], 0o600); err != nil {
		t.Fatal(err)
	}
}

// buildRun makes the run and builds its report from the trail.
func buildRun(t *testing.T, fx fixture) (*Report, []audit.Record) {
	t.Helper()
	dir := makeRun(t, fx)
	recs, err := audit.Read(dir)
	if err != nil {
		t.Fatalf("read trail: %v", err)
	}
	vr, err := audit.Verify(dir, "")
	if err != nil {
		t.Fatalf("verify trail: %v", err)
	}
	r, err := Build(recs, vr)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return r, recs
}
