package subacct

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
)

func TestFold(t *testing.T) {
	out := Outcome{Sub: "s"}
	Fold(&out, executors.Result{Changes: []executors.Change{{Kind: "cancel-order", ID: "1", Target: "o1"}},
		Remaining: []executors.Change{{Kind: "open-order", Target: "o2"}},
		Findings:  []executors.Finding{{Subject: "BTCUSDT"}}})
	want := Outcome{Sub: "s", Changes: []executors.Change{{Kind: "cancel-order", ID: "sub:s:1", Target: "sub s: o1"}},
		Remain: []executors.Change{{Kind: "open-orders", Target: "sub s: o2"}},
		Find:   []executors.Finding{{Subject: "sub s: BTCUSDT"}}}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("got %+v, want %+v", out, want)
	}
}

func TestRunFresh(t *testing.T) {
	auth := &executors.Error{Class: executors.ErrAuth, Op: "run"}
	other := errors.New("other")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name  string
		ctx   context.Context
		errs  []error
		runs  int
		naps  int
		final error
	}{
		{"ok at once", context.Background(), []error{nil}, 1, 0, nil},
		{"refused, then ok", context.Background(), []error{auth, nil}, 2, 1, nil},
		{"refused twice", context.Background(), []error{auth, auth}, 2, 1, auth},
		{"other error", context.Background(), []error{other}, 1, 0, other},
		{"refused after ctrl-c", cancelled, []error{auth}, 1, 0, auth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runs, naps := 0, 0
			_, err := RunFresh(tt.ctx, func(context.Context, time.Duration) error { naps++; return nil }, func() (executors.Result, error) {
				runs++
				return executors.Result{}, tt.errs[runs-1]
			})
			if runs != tt.runs || naps != tt.naps || !errors.Is(err, tt.final) || (tt.final == nil) != (err == nil) {
				t.Errorf("runs %d naps %d err %v; want %d %d %v", runs, naps, err, tt.runs, tt.naps, tt.final)
			}
		})
	}
}

func TestProbeDead(t *testing.T) {
	boom := errors.New("503")
	tests := []struct {
		name    string
		deadAt  int // call that says dead; 0 never
		err     error
		calls   int
		wantErr string
	}{
		{"dead at once", 1, nil, 1, ""},
		{"dead on the third", 3, boom, 3, ""},
		{"still accepted", 0, nil, 5, "not rejected within 1s: still accepted"},
		{"errors", 0, boom, 5, "not rejected within 1s: 503"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := time.Unix(0, 0)
			calls := 0
			proof, err := ProbeDead(context.Background(), func() time.Time { return clock },
				func(context.Context, time.Duration) error { clock = clock.Add(250 * time.Millisecond); return nil },
				time.Second, "abcd…wxyz", func(context.Context) (bool, string, error) {
					calls++
					if calls == tt.deadAt {
						return true, "rejected", nil
					}
					return false, "", tt.err
				})
			if calls != tt.calls {
				t.Errorf("calls %d, want %d", calls, tt.calls)
			}
			if tt.wantErr == "" {
				if err != nil || proof != "rejected" {
					t.Errorf("proof %q err %v, want the proof", proof, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "probe temporary key abcd…wxyz") || !errors.Is(err, executors.ErrRejected) {
				t.Errorf("err %v, want rejected, naming the key and %q", err, tt.wantErr)
			}
		})
	}
}

func TestDeleteLeftovers(t *testing.T) {
	listErr := errors.New("list failed")
	keys := []executors.TempKey{{Sub: "a", Label: "pbtmp1", Masked: "k1…"}, {Sub: "b", Label: "pbtmp2"}, {Sub: "c", Label: "pbtmp3"}}
	listed := map[string][]Listed{"a": {{Label: "pbtmp1", APIKey: "k1"}, {Label: "mine", APIKey: "m"}}, "b": nil}
	stuck := map[string]bool{} // sub -> its key survives deletion
	var deleted []string
	res, errs := DeleteLeftovers(context.Background(), keys, Cleaner{
		List: func(_ context.Context, sub string) ([]Listed, error) {
			if sub == "c" {
				return nil, listErr
			}
			return listed[sub], nil
		},
		Match: func(tk executors.TempKey, k Listed) bool { return k.Label == tk.Label },
		Delete: func(_ context.Context, tk executors.TempKey, apiKey string) error {
			deleted = append(deleted, apiKey)
			if !stuck[tk.Sub] {
				listed[tk.Sub] = listed[tk.Sub][1:]
			}
			return nil
		},
		Live: func(out *Outcome, tk executors.TempKey, err error) {
			out.Remain = append(out.Remain, executors.Change{Kind: "live-key", Target: tk.Label + ": " + err.Error()})
		},
	})
	if !reflect.DeepEqual(deleted, []string{"k1"}) {
		t.Errorf("deleted %v, want [k1]", deleted)
	}
	if len(errs) != 1 || !errors.Is(errs[0], listErr) {
		t.Errorf("errs %v, want the listing's", errs)
	}
	wantChanges := []string{"sub a: temporary key k1… (pbtmp1) of the interrupted run deleted (no longer listed)",
		"sub b: temporary key  (pbtmp2) of the interrupted run deleted (no longer listed)"}
	var got []string
	for _, c := range res.Changes {
		got = append(got, c.Target)
	}
	if !reflect.DeepEqual(got, wantChanges) || len(res.Remaining) != 1 || res.Remaining[0].Target != "pbtmp3: list failed" {
		t.Errorf("changes %v remaining %+v; want %v and pbtmp3 left", got, res.Remaining, wantChanges)
	}
	if res.Counts["deleted"] != 2 || res.Counts["remaining"] != 1 {
		t.Errorf("counts %v", res.Counts)
	}

	// A key still listed after its deletion is not proven gone.
	stuck["a"] = true
	listed["a"] = []Listed{{Label: "pbtmp1", APIKey: "k1"}}
	res, errs = DeleteLeftovers(context.Background(), keys[:1], Cleaner{
		List:   func(_ context.Context, sub string) ([]Listed, error) { return listed[sub], nil },
		Match:  func(tk executors.TempKey, k Listed) bool { return k.Label == tk.Label },
		Delete: func(context.Context, executors.TempKey, string) error { return nil },
		Live: func(out *Outcome, tk executors.TempKey, err error) {
			out.Remain = append(out.Remain, executors.Change{Kind: "live-key", Target: err.Error()})
		},
	})
	if len(errs) != 1 || len(res.Remaining) != 1 || !strings.Contains(res.Remaining[0].Target, "still listed after delete") {
		t.Errorf("errs %v remaining %+v, want still listed", errs, res.Remaining)
	}
}
