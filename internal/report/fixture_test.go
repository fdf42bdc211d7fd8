package report

import (
	"context"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/fake"
	"github.com/panicbutton/panicbutton/internal/audit"
	"github.com/panicbutton/panicbutton/internal/runner"
	"github.com/panicbutton/panicbutton/playbooks"
)

// fixture describes one run made for a test.
type fixture struct {
	playbook string
	dryRun   bool
	// setup adjusts the venue before the run (faults, pinned orders…).
	setup func(v *fake.Venue)
	// manual, when set, handles manual steps.
	manual runner.ManualHandler
	// cancelAfter cancels the run's context after this step finishes.
	cancelAfter string
	inputs      map[string]string
}

// clock is a deterministic clock advancing a fixed tick per reading.
type clock struct {
	t    time.Time
	tick time.Duration
}

func (c *clock) Now() time.Time { c.t = c.t.Add(c.tick); return c.t }

// makeRun runs the playbook with the fake executor against the demo venue
// and returns the run directory holding audit.jsonl.
func makeRun(t *testing.T, fx fixture) string {
	t.Helper()
	if fx.playbook == "" {
		fx.playbook = "suspected-key-leak"
	}
	pb, err := playbooks.Builtin(fx.playbook)
	if err != nil {
		t.Fatalf("builtin playbook: %v", err)
	}
	v := fake.DemoVenue()
	if fx.setup != nil {
		fx.setup(v)
	}
	drv := fake.DriverFor(v)
	env := executors.Env{}.Defaults()
	var targets []runner.Target
	for _, a := range fake.DemoAccounts() {
		ex, err := drv.New(a, env)
		if err != nil {
			t.Fatalf("new executor: %v", err)
		}
		targets = append(targets, runner.Target{Ref: playbooks.AccountRef{Name: a.Name, Exchange: a.Exchange, Tags: a.Tags}, Exec: ex})
	}
	dir := t.TempDir()
	runID := "20250601T120000Z-test01"
	log, err := audit.Create(dir, runID, audit.Options{NoSync: true})
	if err != nil {
		t.Fatalf("create audit log: %v", err)
	}
	defer log.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := runner.Options{
		RunID: runID, Playbook: pb, Targets: targets, Inputs: fx.inputs, DryRun: fx.dryRun,
		Audit: log, Manual: fx.manual, Version: "test",
		Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() },
	}
	if fx.cancelAfter != "" {
		o.Progress = func(e runner.Event) {
			if e.Kind == "step-start" && e.Step != fx.cancelAfter {
				// handled below
			}
		}
		step := fx.cancelAfter
		o.Progress = func(e runner.Event) {
			if e.Kind == "result" && e.Step == step {
				cancel()
			}
		}
	}
	if _, err := runner.Run(ctx, o); err != nil {
		t.Fatalf("run: %v", err)
	}
	return dir
}

func TestDump(t *testing.T) {
	dir := makeRun(t, fixture{})
	recs, err := audit.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		t.Logf("%s %s %s %s %v %s", r.Phase, r.Step, r.Account, r.Action, r.Request, r.Result)
	}
}
