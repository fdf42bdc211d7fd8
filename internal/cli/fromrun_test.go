package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
)

// planShape is what a rehearsal must reproduce of a plan, per account
// (by position, so that anonymised names compare): each step's status,
// the orders it would cancel per product, the keys it sees (owner,
// permissions, IP settings) and how many keys it would revoke.
type planShape struct {
	Steps  map[string]string         // step -> status
	Orders map[string]int            // product -> count (freeze)
	Keys   []string                  // inventory: sub?, sorted permissions, ip restriction, ips
	Revoke map[string]int            // change kind -> count
	Counts map[string]map[string]int // step -> result counts
}

func dryRunShape(t *testing.T, e *planEnv, cfg string) ([]planShape, string) {
	t.Helper()
	runs := filepath.Join(t.TempDir(), "runs")
	out, errOut, code := e.cli(0, "run", "suspected-key-leak", "--config", cfg, "--dry-run", "--json", "--runs-dir", runs)
	if code != ExitPlanOnly {
		t.Fatalf("dry-run: exit %d\n%s\n%s", code, out, errOut)
	}
	var doc struct {
		Run struct {
			RunDir string `json:"run_dir"`
		} `json:"run"`
		Results struct {
			Results []struct {
				Step    string           `json:"step"`
				Account string           `json:"account"`
				Action  string           `json:"action"`
				Status  string           `json:"status"`
				Result  executors.Result `json:"result"`
			} `json:"results"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("dry-run --json: %v\n%s", err, out)
	}
	byAcct := map[string]*planShape{}
	var order []string
	for _, r := range doc.Results.Results {
		s := byAcct[r.Account]
		if s == nil {
			s = &planShape{Steps: map[string]string{}, Orders: map[string]int{}, Revoke: map[string]int{}, Counts: map[string]map[string]int{}}
			byAcct[r.Account] = s
			order = append(order, r.Account)
		}
		s.Steps[r.Step] = r.Status
		s.Counts[r.Step] = r.Result.Counts
		switch r.Action {
		case executors.OrdersCancelAll:
			for _, c := range r.Result.Changes {
				s.Orders[c.Product]++
			}
		case executors.KeysRevoke:
			for _, c := range r.Result.Changes {
				s.Revoke[c.Kind]++
			}
		case executors.KeysInventory:
			raw, _ := json.Marshal(r.Result.Data)
			var keys []executors.Key
			if err := json.Unmarshal(raw, &keys); err != nil {
				t.Fatalf("inventory data: %v", err)
			}
			for _, k := range keys {
				perms := append([]string(nil), k.Permissions...)
				sort.Strings(perms)
				ips := append([]string(nil), k.IPs...)
				if !k.Sub { // the rehearsal lets the account's own restricted key in from loopback
					ips = nil
				}
				s.Keys = append(s.Keys, fmt.Sprintf("sub=%v perms=%v withdraw=%v/%v ip=%v %v", k.Sub, perms, k.CanWithdraw, k.WithdrawUnknown, k.IPRestricted, ips))
			}
			sort.Strings(s.Keys)
		}
	}
	out2 := make([]planShape, len(order))
	for i, a := range order {
		out2[i] = *byAcct[a]
	}
	return out2, doc.Run.RunDir
}

// TestRehearsalFromRunSamePlan: an emulator state rebuilt from a demo
// run's directory (emulator --from-run), started and planned again with
// the same playbook, gives the same plan: the same step outcomes, the same
// orders per product, the same keys with the same permissions and IP
// settings, the same revocations. Plain and anonymised.
func TestRehearsalFromRunSamePlan(t *testing.T) {
	e := newPlanEnv(t)
	want, runDir := dryRunShape(t, e, e.cfg)
	if len(want) != 2 || len(want[0].Orders) == 0 || len(want[0].Keys) < 2 {
		t.Fatalf("the demo plan is unexpectedly small: %+v", want)
	}
	t.Logf("original plan shape: %+v", want)
	origKeys, _, _ := e.emuKeys()
	// The trail of a run that executed (containment done) holds the reads
	// made before anything changed: a rehearsal from it has the same plan.
	x := newPlanEnv(t)
	xruns := filepath.Join(t.TempDir(), "runs")
	if out, errOut, code := x.cli(0, "run", "suspected-key-leak", "--config", x.cfg, "--yes", "--hold", "1s", "--runs-dir", xruns); code == ExitUsage || code == ExitFailed {
		t.Fatalf("executing run: exit %d\n%s\n%s", code, out, errOut)
	}
	xdirs, _ := filepath.Glob(filepath.Join(xruns, "*"))
	if len(xdirs) != 1 {
		t.Fatalf("executing run directories: %v", xdirs)
	}
	for _, tc := range []struct {
		name   string
		runDir string
		anon   bool
	}{{"dry-run", runDir, false}, {"dry-run anonymised", runDir, true}, {"executed run", xdirs[0], false}} {
		anon := tc.anon
		runDir := tc.runDir
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o := &EmulatorOptions{Addr: "127.0.0.1:0", FromRun: runDir, Anonymise: anon, AccountsOut: filepath.Join(dir, "accounts.yaml")}
			ready := make(chan string, 1)
			o.Ready = func(base string) { ready <- base }
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			var out, errOut syncBuffer
			go func() { done <- runEmulator(ctx, testFactory(&out, &errOut), o) }()
			defer func() { cancel(); <-done }()
			select {
			case <-ready:
			case err := <-done:
				t.Fatalf("emulator --from-run stopped: %v\n%s", err, errOut.String())
			case <-time.After(20 * time.Second):
				t.Fatal("emulator --from-run did not start")
			}
			state, err := os.ReadFile(filepath.Join(dir, "state.yaml"))
			if err != nil {
				t.Fatalf("the state file was not written: %v", err)
			}
			// Fresh keys: no key id of the original fund is in the state.
			for k := range origKeys {
				if strings.Contains(string(state), k) {
					t.Errorf("the rehearsal state holds an original key id %s…", k[:6])
				}
			}
			if anon && strings.Contains(string(state), "northwind") {
				t.Error("--anonymise left an original name in the state")
			}
			got, _ := dryRunShape(t, e, o.AccountsOut)
			if len(got) != len(want) {
				t.Fatalf("accounts: got %d, want %d", len(got), len(want))
			}
			for i := range want {
				for _, part := range []struct {
					name      string
					got, want any
				}{
					{"step statuses", got[i].Steps, want[i].Steps},
					{"orders per product", got[i].Orders, want[i].Orders},
					{"keys", got[i].Keys, want[i].Keys},
					{"revocations", got[i].Revoke, want[i].Revoke},
					{"freeze counts", got[i].Counts["freeze"], want[i].Counts["freeze"]},
					{"balances and positions", got[i].Counts["snapshot-before"], want[i].Counts["snapshot-before"]},
					{"withdrawals", got[i].Counts["withdrawals"], want[i].Counts["withdrawals"]},
				} {
					if fmt.Sprint(part.got) != fmt.Sprint(part.want) {
						t.Errorf("account %d %s:\n got  %v\n want %v", i, part.name, part.got, part.want)
					}
				}
			}
		})
	}
}
