package executors_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
)

// spy is an executor that mutates through req.Mutate in Do and Plan alike,
// so the dry-run decorator's guarantees can be observed.
type spy struct {
	doCalls, planCalls, sent int
	mutateInPlan             bool
}

func (s *spy) Exchange() string { return "spy" }

func (s *spy) Do(ctx context.Context, req executors.Request) (executors.Result, error) {
	s.doCalls++
	if executors.IsMutating(req.Action) {
		if err := req.Mutate(ctx, executors.Mutation{ID: "x"}, func(context.Context) error { s.sent++; return nil }); err != nil {
			return executors.Result{}, err
		}
		return executors.Result{Status: executors.StatusChanged}, nil
	}
	return executors.Result{Status: executors.StatusOK}, nil
}

func (s *spy) Plan(ctx context.Context, req executors.Request) (executors.Result, error) {
	s.planCalls++
	req.Notice("plan of " + req.Action)
	if s.mutateInPlan {
		if err := req.Mutate(ctx, executors.Mutation{ID: "x"}, func(context.Context) error { s.sent++; return nil }); err != nil {
			return executors.Result{}, err
		}
	}
	return executors.Result{Status: executors.StatusWouldChange}, nil
}

func TestDryRun(t *testing.T) {
	tests := []struct {
		action       string
		mutateInPlan bool
		wantDo       int
		wantPlan     int
		wantStatus   executors.Status
		wantErr      error
	}{
		{executors.SnapshotBalances, false, 1, 0, executors.StatusOK, nil},
		{executors.OrdersCancelAll, false, 0, 1, executors.StatusWouldChange, nil},
		{executors.KeysRevoke, false, 0, 1, executors.StatusWouldChange, nil},
		// A Plan that wrongly tries to mutate is refused before sending.
		{executors.OrdersCancelAll, true, 0, 1, "", executors.ErrAudit},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/mutateInPlan=%v", tt.action, tt.mutateInPlan), func(t *testing.T) {
			s := &spy{mutateInPlan: tt.mutateInPlan}
			res, err := executors.DryRun(s).Do(context.Background(), executors.Request{Action: tt.action, Hooks: executors.NopHooks{}})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if s.sent != 0 {
				t.Errorf("mutations sent = %d, want 0", s.sent)
			}
			if s.doCalls != tt.wantDo || s.planCalls != tt.wantPlan {
				t.Errorf("Do/Plan calls = %d/%d, want %d/%d", s.doCalls, s.planCalls, tt.wantDo, tt.wantPlan)
			}
			if res.Status != tt.wantStatus {
				t.Errorf("status = %q, want %q", res.Status, tt.wantStatus)
			}
		})
	}
}

// TestDryRunPassesNotices: the hooks a dry run puts in place refuse
// mutations but still pass the executor's notices on (a long wait the
// reading cannot avoid is the operator's to hear, dry run or not).
func TestDryRunPassesNotices(t *testing.T) {
	hooks := &executortest.RecordingHooks{}
	if _, err := executors.DryRun(&spy{}).Do(context.Background(), executors.Request{Action: executors.OrdersCancelAll, Hooks: hooks}); err != nil {
		t.Fatal(err)
	}
	if got := hooks.Notices(); len(got) != 1 || got[0] != "plan of "+executors.OrdersCancelAll {
		t.Errorf("notices %q, want the plan's one", got)
	}
	// Hooks that do not listen are fine.
	if _, err := executors.DryRun(&spy{}).Do(context.Background(), executors.Request{Action: executors.OrdersCancelAll, Hooks: executors.NopHooks{}}); err != nil {
		t.Fatal(err)
	}
}

func TestErrorClasses(t *testing.T) {
	tests := []struct {
		class     error
		retryable bool
		name      string
	}{
		{executors.ErrAuth, false, "auth"},
		{executors.ErrRateLimited, true, "rate-limited"},
		{executors.ErrTransient, true, "transient"},
		{executors.ErrUnknownOutcome, true, "unknown-outcome"},
		{executors.ErrRejected, false, "rejected"},
		{executors.ErrUnsupported, false, "unsupported"},
		{executors.ErrAudit, false, "audit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := fmt.Errorf("step freeze: %w", &executors.Error{Class: tt.class, Op: "cancel spot BTCUSDT", Code: "-1", RetryAfter: 2 * time.Second})
			if !errors.Is(err, tt.class) {
				t.Errorf("errors.Is(err, class) = false")
			}
			if got := executors.Retryable(err); got != tt.retryable {
				t.Errorf("Retryable = %v, want %v", got, tt.retryable)
			}
			if got := executors.ClassOf(err); got != tt.name {
				t.Errorf("ClassOf = %q, want %q", got, tt.name)
			}
			if d, ok := executors.RetryAfter(err); !ok || d != 2*time.Second {
				t.Errorf("RetryAfter = %v %v, want 2s true", d, ok)
			}
		})
	}
	if executors.Retryable(errors.New("plain")) {
		t.Error("an unclassified error must not be retryable")
	}
}

func TestRegistry(t *testing.T) {
	d := executors.Driver{Exchange: "x", Actions: []string{executors.OrdersList},
		New: func(a executors.Account, env executors.Env) (executors.Executor, error) { return &spy{}, nil }}
	r := executors.NewRegistry(d)
	for _, tt := range []struct {
		exchange, action string
		want             bool
	}{
		{"x", executors.OrdersList, true},
		{"x", executors.KeysRevoke, false},
		{"x", executors.Manual, true}, // local actions are always supported
		{"y", executors.OrdersList, false},
	} {
		if got := r.Supports(tt.exchange, tt.action); got != tt.want {
			t.Errorf("Supports(%s, %s) = %v, want %v", tt.exchange, tt.action, got, tt.want)
		}
	}
	if _, err := r.New(executors.Account{Name: "a", Exchange: "nope"}, executors.Env{}); err == nil {
		t.Error("New with an unknown exchange: want an error")
	}
	if e, err := r.New(executors.Account{Name: "a", Exchange: "x"}, executors.Env{}); err != nil || e == nil {
		t.Errorf("New = %v, %v", e, err)
	}
}

func TestWithDefaults(t *testing.T) {
	p := executors.WithDefaults(executors.KeysRevoke, executors.Params{"method": "ip_lock"})
	if p.String("method") != "ip_lock" || p.String("scope") != "sub_accounts" || p.String("select") != "all" {
		t.Errorf("WithDefaults = %v", p)
	}
	for _, a := range executors.Actions() {
		for _, ps := range a.Params {
			if ps.Default != nil {
				if err := executors.CheckValue(ps.Type, ps.Default); err != nil {
					t.Errorf("%s.%s default: %v", a.Name, ps.Name, err)
				}
			}
		}
	}
}

type doneHooks struct{ outcomes int }

func (h *doneHooks) Intent(context.Context, executors.Mutation) error {
	return executors.ErrAlreadyDone
}
func (h *doneHooks) Outcome(context.Context, executors.Mutation, error) { h.outcomes++ }

func TestMutateSkipsWhatIsAlreadyDone(t *testing.T) {
	h := &doneHooks{}
	sent := 0
	err := executors.Request{Hooks: h}.Mutate(context.Background(), executors.Mutation{ID: "cancel:spot:BTCUSDT"},
		func(context.Context) error { sent++; return nil })
	if err != nil || sent != 0 || h.outcomes != 0 {
		t.Errorf("err=%v sent=%d outcomes=%d, want nil 0 0", err, sent, h.outcomes)
	}
}

func TestOrderSetID(t *testing.T) {
	a := executors.OrderSetID([]string{"1", "2", "3"})
	if b := executors.OrderSetID([]string{"3", "1", "2"}); a != b {
		t.Errorf("order matters: %s vs %s", a, b)
	}
	if c := executors.OrderSetID([]string{"1", "2", "4"}); a == c {
		t.Errorf("different sets share an id %s", a)
	}
	if len(a) != 8 {
		t.Errorf("len(%q) = %d, want 8", a, len(a))
	}
}

// An error's text has no stray space when its code or its message is
// empty ("transient failure ( not sent: interrupted)" reached the verdict).
func TestErrorTextWithoutCodeOrMessage(t *testing.T) {
	for _, c := range []struct {
		e    executors.Error
		want string
	}{
		{executors.Error{Class: executors.ErrTransient, Op: "create temporary key on mmbot01", Msg: "not sent: interrupted"}, "create temporary key on mmbot01: transient failure (not sent: interrupted)"},
		{executors.Error{Class: executors.ErrAuth, Op: "list", Code: "-2015"}, "list: authentication rejected (-2015)"},
		{executors.Error{Class: executors.ErrAuth, Op: "list", Code: "-2015", Msg: "Invalid API-key"}, "list: authentication rejected (-2015 Invalid API-key)"},
	} {
		if got := c.e.Error(); got != c.want {
			t.Errorf("Error() = %q, want %q", got, c.want)
		}
	}
}
