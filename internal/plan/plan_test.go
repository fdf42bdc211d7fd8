package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/runner"
	"github.com/panicbutton/panicbutton/playbooks"
)

// testPlan builds a plan from a small hand-made dry-run report.
func testPlan(t *testing.T) (*Plan, string) {
	t.Helper()
	pb, err := playbooks.Builtin("suspected-key-leak")
	if err != nil {
		t.Fatal(err)
	}
	acc := filepath.Join(t.TempDir(), "accounts.yaml")
	if err := os.WriteFile(acc, []byte("accounts: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rep := &runner.Report{RunID: "r1", Playbook: pb.Name, Mode: runner.ModeDryRun, Results: []runner.StepResult{
		{Step: "freeze", Account: "a", Action: executors.OrdersCancelAll, Status: executors.StatusWouldChange, Result: executors.Result{
			Changes: []executors.Change{{Kind: "cancel-order", Product: "spot", Symbol: "BTCUSDT", ID: "1"}, {Kind: "cancel-order", Product: "usdm", Symbol: "ETHUSDT", ID: "2"}}}},
		{Step: "revoke-sub-keys", Account: "a", Action: executors.KeysRevoke, Status: executors.StatusWouldChange, Result: executors.Result{
			Changes: []executors.Change{{Kind: "delete-key", ID: "delete-key:s@x:abcd…wxyz", Target: "delete sub s@x key abcd…wxyz", Irreversible: true}}}},
		{Step: "withdrawals", Account: "a", Action: executors.WithdrawalsCancelPending, Status: executors.StatusWouldChange, Result: executors.Result{
			Changes: []executors.Change{{Kind: "cancel-withdrawal", ID: "w1", Target: "withdrawal w1: 10 USDT"}}}},
		{Step: "snapshot-before", Account: "a", Action: executors.SnapshotBalances, Status: executors.StatusOK, Result: executors.Result{
			Data: &executors.Snapshot{Account: "a", Balances: []executors.Balance{{Asset: "BTC", Total: "1"}}}}},
	}}
	p, err := Build(rep, BuildOptions{Playbook: pb, AccountsPath: acc, Accounts: []Account{{Name: "a", Exchange: "binance"}},
		Inputs: map[string]string{"leaked_key": "abcd", "webhook": "https://hooks.example/services/T0/B0/SECRET"},
		Now:    time.Date(2026, 12, 4, 5, 0, 0, 0, time.UTC), TTL: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return p, acc
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	p, _ := testPlan(t)
	b, hash, err := Encode(p)
	if err != nil {
		t.Fatal(err)
	}
	got, gotHash, err := Decode(b)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if gotHash != hash {
		t.Errorf("hash: got %s, want %s", gotHash, hash)
	}
	if got.ID != p.ID || got.Playbook != p.Playbook || got.AccountsFile != p.AccountsFile || got.StateDigest != p.StateDigest {
		t.Errorf("decoded plan differs: got %+v, want %+v", got, p)
	}
	if !got.Expires.Equal(time.Date(2026, 12, 4, 5, 10, 0, 0, time.UTC)) {
		t.Errorf("expires: got %s", got.Expires)
	}
	if bytes.Contains(b, []byte("SECRET")) {
		t.Error("a URL input (token) is in the plan file")
	}
	if got.Inputs["leaked_key"] != "abcd" || got.HiddenInputs["webhook"] == "" {
		t.Errorf("inputs: got %v hidden %v", got.Inputs, got.HiddenInputs)
	}
	var freeze, revoke *StepAccount
	for i := range got.Steps {
		for j := range got.Steps[i].Accounts {
			switch got.Steps[i].ID {
			case "freeze":
				freeze = &got.Steps[i].Accounts[j]
			case "revoke-sub-keys":
				revoke = &got.Steps[i].Accounts[j]
			}
		}
	}
	if freeze == nil || len(freeze.Orders["spot"]["BTCUSDT"]) != 1 || len(freeze.Orders["usdm"]["ETHUSDT"]) != 1 || len(freeze.Targets) != 0 {
		t.Errorf("freeze orders by product and symbol: got %+v", freeze)
	}
	if revoke == nil || len(revoke.Targets) != 1 || revoke.Targets[0].ID != "delete-key:s@x:abcd…wxyz" {
		t.Errorf("revoke targets: got %+v", revoke)
	}
	for _, r := range got.Report.Results {
		if r.Result.Data != nil {
			t.Errorf("report keeps the read payload of %s", r.Step)
		}
	}
}

func TestDecodeBadInput(t *testing.T) {
	p, _ := testPlan(t)
	good, _, err := Encode(p)
	if err != nil {
		t.Fatal(err)
	}
	newer := bytes.Replace(good, []byte(`"format": 1,`), []byte(`"format": 2,`), 1)
	tampered := bytes.Replace(good, []byte(`"leaked_key": "abcd"`), []byte(`"leaked_key": "abce"`), 1)
	whitespace := bytes.Replace(good, []byte(`"leaked_key": "abcd"`), []byte(`"leaked_key":  "abcd"`), 1)
	if bytes.Equal(tampered, good) || bytes.Equal(whitespace, good) || bytes.Equal(newer, good) {
		t.Fatal("test edits did not apply")
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "empty"},
		{"yaml", []byte("accounts: []\n"), "not a panicbutton plan"},
		{"other json", []byte(`{"kind": "something-else", "format": 1}`), "not a panicbutton plan"},
		{"truncated", good[:len(good)/2], "truncated"},
		{"newer format", newer, "newer panicbutton"},
		{"tampered", tampered, "modified after it was written"},
		{"whitespace edit", whitespace, "modified after it was written"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Decode(tc.in)
			if err == nil {
				t.Fatal("got nil error")
			}
			if !errors.Is(err, ErrBadPlan) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want ErrBadPlan mentioning %q", err, tc.want)
			}
		})
	}
}

func TestApprover(t *testing.T) {
	p, _ := testPlan(t)
	a := NewApprover(p)
	for _, tc := range []struct {
		name, action string
		m            executors.Mutation
		ok           bool
	}{
		{"order cancel on a planned symbol", executors.OrdersCancelAll, executors.Mutation{ID: "cancel:spot:BTCUSDT@1", Kind: "cancel-orders"}, true},
		{"order cancel placed since the plan", executors.OrdersCancelAll, executors.Mutation{ID: "cancel:margin:XRPUSDT@9", Kind: "cancel-orders"}, true},
		{"approved key", executors.KeysRevoke, executors.Mutation{ID: "delete-key:s@x:abcd…wxyz", Kind: "delete-key", Target: "delete sub s@x key abcd…wxyz"}, true},
		{"new key", executors.KeysRevoke, executors.Mutation{ID: "delete-key:s@x:new1…new2", Kind: "delete-key", Target: "delete sub s@x key new1…new2"}, false},
		{"approved key under another action", executors.FundsSweep, executors.Mutation{ID: "delete-key:s@x:abcd…wxyz", Kind: "delete-key"}, false},
		{"approved withdrawal", executors.WithdrawalsCancelPending, executors.Mutation{ID: "cancel-withdrawal:w1", Kind: "cancel-withdrawal", Target: "withdrawal w1: 10 USDT"}, true},
		{"new withdrawal", executors.WithdrawalsCancelPending, executors.Mutation{ID: "cancel-withdrawal:w2", Kind: "cancel-withdrawal"}, false},
		{"cancel scope on an account not in the plan", executors.OrdersCancelAll, executors.Mutation{ID: "cancel:spot:BTCUSDT@1", Kind: "cancel-orders"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			acct := "a"
			if strings.Contains(tc.name, "not in the plan") {
				acct = "b"
			}
			err := a.Approve("step", acct, tc.action, tc.m)
			if got := err == nil; got != tc.ok {
				t.Fatalf("approved: got %v (%v), want %v", got, err, tc.ok)
			}
			if err != nil && (!errors.Is(err, executors.ErrNotApproved) || errors.Is(err, executors.ErrAudit) || executors.Retryable(err)) {
				t.Errorf("refusal %v: want ErrNotApproved, not audit, not retryable", err)
			}
		})
	}
	if got, want := len(a.Refused()), 4; got != want {
		t.Errorf("refusals: got %d, want %d", got, want)
	}
}

func TestApproverIPLockUnlist(t *testing.T) {
	p := &Plan{Steps: []Step{{ID: "lock", Action: executors.KeysRevoke, Mutating: true, Accounts: []StepAccount{{Account: "a",
		Targets: []executors.Change{{Kind: "ip-lock-key", ID: "ip-lock-key:s@x:abcd…wxyz", Target: "restrict sub s@x key abcd…wxyz"}}}}}}}
	a := NewApprover(p)
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"ip-lock-key:s@x:abcd…wxyz", true},
		{"ip-unlist-key:s@x:abcd…wxyz", true}, // the second request of the approved lock
		{"ip-unlist-key:s@x:new1…new2", false},
	} {
		kind := strings.SplitN(tc.id, ":", 2)[0]
		err := a.Approve("lock", "a", executors.KeysRevoke, executors.Mutation{ID: tc.id, Kind: kind})
		if (err == nil) != tc.ok {
			t.Errorf("%s: approved %v (%v), want %v", tc.id, err == nil, err, tc.ok)
		}
	}
}

func TestApproverTransferAmount(t *testing.T) {
	p := &Plan{Steps: []Step{{ID: "sweep", Action: executors.FundsSweep, Mutating: true, Accounts: []StepAccount{{Account: "a",
		Targets: []executors.Change{{Kind: "transfer", ID: "sweep:s@x:USDT", Target: "move 100 USDT from sub s@x"}}}}}}}
	a := NewApprover(p)
	if err := a.Approve("sweep", "a", executors.FundsSweep, executors.Mutation{ID: "sweep:s@x:USDT", Kind: "transfer", Target: "move 100 USDT from sub s@x"}); err != nil {
		t.Errorf("same amount refused: %v", err)
	}
	err := a.Approve("sweep", "a", executors.FundsSweep, executors.Mutation{ID: "sweep:s@x:USDT", Kind: "transfer", Target: "move 900 USDT from sub s@x"})
	if err == nil || !strings.Contains(err.Error(), "differs from the approved target") {
		t.Errorf("other amount: got %v, want a refusal naming the approved target", err)
	}
}

func TestCheckInputs(t *testing.T) {
	p, _ := testPlan(t)
	for _, tc := range []struct {
		name  string
		given map[string]string
		want  string // "" = ok
	}{
		{"hidden given again", map[string]string{"webhook": "https://hooks.example/services/T0/B0/SECRET"}, ""},
		{"hidden missing", map[string]string{}, "pass it again"},
		{"hidden wrong", map[string]string{"webhook": "https://hooks.example/other"}, "not the value"},
		{"visible changed", map[string]string{"webhook": "https://hooks.example/services/T0/B0/SECRET", "leaked_key": "zzz"}, "different value"},
		{"unknown", map[string]string{"webhook": "https://hooks.example/services/T0/B0/SECRET", "extra": "1"}, "not part of the plan"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := p.CheckInputs(tc.given)
			if tc.want == "" {
				if err != nil || got["leaked_key"] != "abcd" || got["webhook"] == "" {
					t.Fatalf("got %v, %v", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

// Two applies of one plan racing: exactly one is recorded.
func TestMarkAppliedOnce(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, refused := 0, 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := MarkApplied(dir, Applied{PlanHash: "h1", At: time.Now(), RunDir: "r"})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, ErrAlreadyApplied):
				refused++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || refused != 7 {
		t.Errorf("got %d recorded, %d refused; want 1 and 7", wins, refused)
	}
	prev, err := LookupApplied(dir, "h1")
	if err != nil || prev == nil || prev.RunDir != "r" {
		t.Errorf("LookupApplied: got %+v, %v", prev, err)
	}
	if prev, err := LookupApplied(dir, "h2"); err != nil || prev != nil {
		t.Errorf("LookupApplied of another plan: got %+v, %v", prev, err)
	}
}

func TestStateDir(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"PANICBUTTON_STATE_DIR": "/s", "XDG_STATE_HOME": "/x", "HOME": "/h"}, "/s"},
		{map[string]string{"XDG_STATE_HOME": "/x", "HOME": "/h"}, "/x/panicbutton"},
		{map[string]string{"HOME": "/h"}, "/h/.local/state/panicbutton"},
	} {
		got, err := StateDir(func(k string) string { return tc.env[k] })
		if err != nil || got != tc.want {
			t.Errorf("StateDir(%v): got %q, %v; want %q", tc.env, got, err, tc.want)
		}
	}
}

func TestPlanHoldsNoSecretFields(t *testing.T) {
	p, _ := testPlan(t)
	b, _, err := Encode(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`"secret"`, `"passphrase"`, `"api_secret"`} {
		if bytes.Contains(b, []byte(w)) {
			t.Errorf("plan file has a %s field", w)
		}
	}
}
