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

type recHooks struct{ intents, outcomes []executors.Mutation }

func (h *recHooks) Intent(_ context.Context, m executors.Mutation) error {
	h.intents = append(h.intents, m)
	return nil
}

func (h *recHooks) Outcome(_ context.Context, m executors.Mutation, _ error) {
	h.outcomes = append(h.outcomes, m)
}

func TestRequestNamesTheSubAccount(t *testing.T) {
	rec := &recHooks{}
	req := executors.Request{Action: executors.OrdersCancelAll, Step: "s1", Hooks: rec,
		Params: executors.Params{"scope": executors.ScopeAll, "skip_idle": true}}
	got := Request(req, "a@x")
	if got.Params.String("scope") != executors.ScopeAccount || !got.Params.Bool("skip_idle") || got.Step != "s1" {
		t.Fatalf("params/step = %v %q, want scope account, skip_idle kept, step s1", got.Params, got.Step)
	}
	if req.Params.String("scope") != executors.ScopeAll {
		t.Errorf("the caller's params changed: scope = %q", req.Params.String("scope"))
	}
	m := executors.Mutation{ID: "cancel:1", Target: "order 1", Request: map[string]string{"symbol": "BTCUSDT"}}
	if err := got.Hooks.Intent(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got.Hooks.Outcome(context.Background(), m, nil)
	want := executors.Mutation{ID: "sub:a@x:cancel:1", Target: "sub a@x: order 1", Request: map[string]string{"sub": "a@x", "symbol": "BTCUSDT"}}
	for _, ms := range [][]executors.Mutation{rec.intents, rec.outcomes} {
		if len(ms) != 1 || !reflect.DeepEqual(ms[0], want) {
			t.Errorf("hooks got %+v, want %+v", ms, want)
		}
	}
	if len(m.Request) != 1 {
		t.Errorf("the inner mutation's request changed: %v", m.Request)
	}
}

func TestPrefixChanges(t *testing.T) {
	cs := []executors.Change{{Kind: "cancel-order", ID: "o1", Target: "BTCUSDT 1"}, {Kind: "open-order", Target: "ETHUSDT 2"}}
	tests := []struct {
		kind string
		want []executors.Change
	}{
		{"", []executors.Change{{Kind: "cancel-order", ID: "sub:s:o1", Target: "sub s: BTCUSDT 1"}, {Kind: "open-order", Target: "sub s: ETHUSDT 2"}}},
		{"open-orders", []executors.Change{{Kind: "open-orders", ID: "sub:s:o1", Target: "sub s: BTCUSDT 1"}, {Kind: "open-orders", Target: "sub s: ETHUSDT 2"}}},
	}
	for _, tt := range tests {
		t.Run("kind="+tt.kind, func(t *testing.T) {
			if got := PrefixChanges("s", tt.kind, cs); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	if cs[0].ID != "o1" {
		t.Errorf("input changed: %+v", cs[0])
	}
}

func TestFinishStatus(t *testing.T) {
	boom := errors.New("boom")
	cancel := executors.Change{Kind: "cancel-order", Target: "o"}
	temp := []executors.Change{{Kind: "create-temp-key"}, {Kind: "delete-temp-key"}}
	tests := []struct {
		name       string
		outs       []Outcome
		plan       bool
		want       executors.Status
		errs       int
		cancelled  int
		skip, clea int
	}{
		{"plan with changes", []Outcome{{Changes: []executors.Change{cancel}}}, true, executors.StatusWouldChange, 0, 1, 0, 0},
		{"plan without", []Outcome{{}}, true, executors.StatusOK, 0, 0, 0, 0},
		{"only inferred", []Outcome{{Remain: []executors.Change{{Kind: "open-orders-inferred"}}}}, false, executors.StatusPending, 0, 0, 0, 0},
		{"inferred with an error", []Outcome{{Remain: []executors.Change{{Kind: "open-orders-inferred"}}, Err: boom}}, false, executors.StatusFailed, 1, 0, 0, 0},
		{"remaining", []Outcome{{Remain: []executors.Change{{Kind: "open-orders"}}}}, false, executors.StatusFailed, 0, 0, 0, 0},
		{"cancelled", []Outcome{{Changes: []executors.Change{cancel}, Clean: true}, {Skipped: true, Clean: true}}, false, executors.StatusChanged, 0, 1, 1, 1},
		{"temp key only", []Outcome{{Changes: temp, Clean: true}}, false, executors.StatusOK, 0, 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, errs := Finish(tt.outs, tt.plan)
			if res.Status != tt.want || len(errs) != tt.errs {
				t.Errorf("status %s, %d errors; want %s, %d", res.Status, len(errs), tt.want, tt.errs)
			}
			if res.Counts["sub_accounts"] != len(tt.outs) || res.Counts["cancelled"] != tt.cancelled ||
				res.Counts["skipped"] != tt.skip || res.Counts["clean"] != tt.clea || res.Counts["remaining"] != len(res.Remaining) {
				t.Errorf("counts %v; want sub_accounts %d cancelled %d skipped %d clean %d", res.Counts, len(tt.outs), tt.cancelled, tt.skip, tt.clea)
			}
		})
	}
	res, _ := Finish([]Outcome{{Line: "a: one"}, {Line: "b: two"}}, false)
	if res.Summary != "a: one; b: two" {
		t.Errorf("summary %q, want the lines joined", res.Summary)
	}
}

func TestBothMerges(t *testing.T) {
	rank := map[executors.Status]int{executors.StatusOK: 0, executors.StatusChanged: 1, executors.StatusFailed: 4}
	boom := errors.New("boom")
	got, err := Both(func() (executors.Result, error) {
		return executors.Result{Status: executors.StatusChanged, Summary: "own", Counts: map[string]int{"cancelled": 2},
			Changes: []executors.Change{{Kind: "cancel-order"}}}, nil
	}, func() (executors.Result, error) {
		return executors.Result{}, boom
	}, rank)
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want boom", err)
	}
	if got.Status != executors.StatusFailed || got.Summary != "own; sub-accounts: boom" || got.Counts["cancelled"] != 2 || len(got.Changes) != 1 {
		t.Errorf("got %+v, want failed, the error as the sub-accounts' summary, own counts and changes", got)
	}
	// A status rank says nothing of stays with own's.
	if m := Merge(executors.Result{Status: executors.StatusSkipped}, executors.Result{Status: executors.StatusOK}, rank); m.Status != executors.StatusSkipped {
		t.Errorf("status %s, want skipped (same rank as ok)", m.Status)
	}
	rank[executors.StatusSkipped] = -1
	if m := Merge(executors.Result{Status: executors.StatusSkipped}, executors.Result{Status: executors.StatusOK}, rank); m.Status != executors.StatusOK {
		t.Errorf("status %s, want ok (ranked above skipped)", m.Status)
	}
}

func TestMemory(t *testing.T) {
	var m Memory[string]
	if _, ok := m.Get("s"); ok {
		t.Fatal("empty memory knows s")
	}
	st := CleanState{Fingerprint: "1 BTC", Keys: 2, At: time.Unix(10, 0)}
	m.Set("s", st, true)
	if got, ok := m.Get("s"); !ok || got != st {
		t.Errorf("Get = %+v %v, want %+v", got, ok, st)
	}
	m.Set("s", CleanState{}, false)
	if _, ok := m.Get("s"); ok {
		t.Error("forgotten sub still known")
	}
	m.AddLive("s", "pbtmp1", "k1")
	m.AddLive("s", "pbtmp2", "k2")
	if got := m.TakeLive("s"); !reflect.DeepEqual(got, map[string]string{"pbtmp1": "k1", "pbtmp2": "k2"}) {
		t.Errorf("TakeLive = %v", got)
	}
	if got := m.TakeLive("s"); len(got) != 0 {
		t.Errorf("second TakeLive = %v, want nothing", got)
	}
}

func TestSweepLabel(t *testing.T) {
	noSleep := func(context.Context, time.Duration) error { return nil }
	listErr := errors.New("list failed")
	delErr := errors.New("delete failed")
	tests := []struct {
		name     string
		lists    [][]Listed // one per listing; the last repeats
		listFail int        // listings that fail first
		delFail  bool
		gone     bool
		err      error
		deleted  []string
	}{
		{"gone at once", [][]Listed{{{Label: "other", APIKey: "o"}}}, 0, false, true, nil, nil},
		{"deleted then gone", [][]Listed{{{Label: "pb", APIKey: "k1"}, {Label: "pb", APIKey: "k2"}}, nil}, 0, false, true, nil, []string{"k1", "k2"}},
		{"list fails then gone", [][]Listed{nil}, 2, false, true, nil, nil},
		{"never gone", [][]Listed{{{Label: "pb", APIKey: "k"}}}, 0, false, false, errors.New("still listed"), []string{"k", "k", "k", "k", "k", "k"}},
		{"delete fails", [][]Listed{{{Label: "pb", APIKey: "k"}}}, 0, true, false, delErr, []string{"k", "k", "k", "k", "k", "k"}},
		{"list always fails", [][]Listed{nil}, 6, false, false, listErr, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			var deleted []string
			gone, err := SweepLabel(context.Background(), noSleep, "pb", func(context.Context) ([]Listed, error) {
				n++
				if n <= tt.listFail {
					return nil, listErr
				}
				i := min(n-tt.listFail-1, len(tt.lists)-1)
				return tt.lists[i], nil
			}, func(_ context.Context, apiKey string) error {
				deleted = append(deleted, apiKey)
				if tt.delFail {
					return delErr
				}
				return nil
			})
			if gone != tt.gone || !reflect.DeepEqual(deleted, tt.deleted) {
				t.Errorf("gone %v, deleted %v; want %v, %v", gone, deleted, tt.gone, tt.deleted)
			}
			if (err == nil) != (tt.err == nil) || (err != nil && err.Error() != tt.err.Error()) {
				t.Errorf("err %v, want %v", err, tt.err)
			}
		})
	}
}

func TestMutationIDs(t *testing.T) {
	if got, want := TempKeyMutationID("main", "a@x", "pbtmp01"), "temp-key:main:a@x:pbtmp01"; got != want {
		t.Errorf("TempKeyMutationID = %q, want %q", got, want)
	}
	if got, want := DeleteTempKeyMutationID("main", "a@x", "pbtmp01", "abcd…wxyz"), "delete-temp-key:main:a@x:pbtmp01:abcd…wxyz"; got != want {
		t.Errorf("DeleteTempKeyMutationID = %q, want %q", got, want)
	}
	m := executors.Mutation{ID: "x", Request: map[string]string{"label": "pbtmp01"}}
	if got := WithMaskedKey(m, ""); !reflect.DeepEqual(got.Request, m.Request) {
		t.Errorf("no key: request %v, want %v", got.Request, m.Request)
	}
	got := WithMaskedKey(m, "0123456789abcdefghij")
	if k := got.Request["api_key"]; k == "" || strings.Contains(k, "456789abcdef") {
		t.Errorf("api_key = %q, want the key masked", k)
	}
	if _, ok := m.Request["api_key"]; ok {
		t.Error("the intent's request changed")
	}
}

// A listing refused for authentication (the key we list with died) ends
// the sweep at once: no retry can list. And a deletion refused so is not
// worth a sweep.
func TestSweepStopsWhenTheListingKeyIsRefused(t *testing.T) {
	refused := &executors.Error{Class: executors.ErrAuth, Op: "list", Msg: "400003 KC-API-KEY not exists"}
	lists := 0
	gone, err := SweepLabel(context.Background(), func(context.Context, time.Duration) error { return nil }, "pb",
		func(context.Context) ([]Listed, error) { lists++; return nil, refused },
		func(context.Context, string) error { t.Error("a deletion was sent"); return nil })
	if gone || !errors.Is(err, executors.ErrAuth) || lists != 1 {
		t.Errorf("gone %v, err %v after %d listings; want not gone, the refusal, after 1", gone, err, lists)
	}
	if WorthSweeping(refused) || !WorthSweeping(errors.New("503 Service Unavailable")) {
		t.Errorf("WorthSweeping: want false for a refused key, true for a 5xx")
	}
}
