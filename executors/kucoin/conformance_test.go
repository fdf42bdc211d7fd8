package kucoin

import (
	"encoding/json"
	"io/fs"
	"os"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/emulator/emu"
	emkucoin "github.com/panicbutton/panicbutton/internal/emulator/kucoin"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// emuHarness runs the executor against a fresh in-process emulator per New
// (executortest.Harness).
type emuHarness struct {
	fsys  fs.FS
	state string
	srv   *emulator.Server
}

var _ executortest.Harness = (*emuHarness)(nil)

// conformanceAccount is the master of testdata/state.yaml with the
// passphrases of both sub keys.
func conformanceAccount(base string) executors.Account {
	return executors.Account{
		Name: "kc-master", Exchange: Exchange, KeyVersion: 3, BaseURL: base + "/kucoin",
		APIKey:     secret.New("6650c0ffee00000000000001"),
		Secret:     secret.New("11111111-2222-4333-8444-555555555555"),
		Passphrase: secret.New("master-pass-1"),
		SubKeys: []executors.SubKey{
			{Sub: "bot1", APIKey: "6650c0ffee00000000000101", Passphrase: secret.New("p@ss word!")},
			{Sub: "bot2", APIKey: "6650c0ffee00000000000102", Passphrase: secret.New("bot2-pass")},
		},
	}
}

// startEmulator loads name from fsys and serves it on a loopback port.
func startEmulator(t *testing.T, fsys fs.FS, name string) (*emulator.Server, string) {
	t.Helper()
	cfg := emulator.Config{Loaders: map[string]emu.Loader{"kucoin": emkucoin.Load}}
	venues, err := emulator.LoadState(fsys, name, cfg)
	if err != nil {
		t.Fatalf("load emulator state %s: %v", name, err)
	}
	srv := emulator.New(cfg, venues)
	base, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("start emulator: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv, base
}

func (h *emuHarness) New(t *testing.T) (executors.Executor, executors.Account) {
	t.Helper()
	srv, base := startEmulator(t, h.fsys, h.state)
	h.srv = srv
	acct := conformanceAccount(base)
	x, err := New(acct, executors.Env{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return x, acct
}

// emuState is the part of the emulator's KuCoin snapshot the harness reads.
type emuState struct {
	Masters []emuUser `json:"masters"`
}

type emuUser struct {
	Name string `json:"name"`
	Keys []struct {
		APIKey  string `json:"api_key"`
		Deleted bool   `json:"deleted"`
	} `json:"keys"`
	Orders []struct {
		Status string `json:"status"`
	} `json:"orders"`
	FuturesOrders []struct {
		Status string `json:"status"`
	} `json:"futures_orders"`
	Subs []emuUser `json:"subs"`
}

func (h *emuHarness) master(t *testing.T) emuUser {
	t.Helper()
	b, err := json.Marshal(h.srv.State()[emkucoin.SpotName])
	if err != nil {
		t.Fatalf("marshal emulator state: %v", err)
	}
	var st emuState
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("decode emulator state: %v", err)
	}
	if len(st.Masters) == 0 {
		t.Fatal("emulator state has no masters")
	}
	return st.Masters[0]
}

func (h *emuHarness) OpenOrders(t *testing.T) int {
	m := h.master(t)
	n := 0
	for _, o := range m.Orders {
		if o.Status != "done" {
			n++
		}
	}
	for _, o := range m.FuturesOrders {
		if o.Status != "done" {
			n++
		}
	}
	return n
}

func (h *emuHarness) SubKeys(t *testing.T) []string {
	var out []string
	for _, s := range h.master(t).Subs {
		for _, k := range s.Keys {
			if !k.Deleted {
				out = append(out, k.APIKey)
			}
		}
	}
	return out
}

func (h *emuHarness) Mutations(t *testing.T) int { return countMutations(h.srv) }

func countMutations(srv *emulator.Server) int {
	n := 0
	for _, e := range srv.Requests() {
		if e.Kind == emu.KindMutation {
			n++
		}
	}
	return n
}

func (h *emuHarness) Capabilities() executortest.Caps {
	return executortest.Caps{
		Products:                 []string{executors.ProductSpot, executors.ProductMargin, executors.ProductIsolatedMargin, executors.ProductFutures},
		CancelPendingWithdrawals: true,
		RevokeMethods:            []string{"delete", "ip_lock", "strip_permissions"},
		DeadMan:                  true,
		ClosePositions:           true,
		Sweep:                    true,
	}
}

func TestConformance(t *testing.T) {
	executortest.Run(t, &emuHarness{fsys: os.DirFS("testdata"), state: "state.yaml"})
}

// Every action through executors.DryRun against the emulator: reads are
// real, and the emulator's request log shows zero mutations.
func TestDryRunEveryActionSendsNoMutation(t *testing.T) {
	srv, base := startEmulator(t, os.DirFS("testdata"), "state.yaml")
	x, err := New(conformanceAccount(base), executors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	dry := executors.DryRun(x)
	for _, action := range actions {
		t.Run(action, func(t *testing.T) {
			p := executors.Params{}
			if action == executors.KeysVerifyRejected {
				p = executors.Params{"interval": time.Millisecond, "deadline": time.Millisecond}
			}
			hooks := &executortest.RecordingHooks{}
			res, err := dry.Do(t.Context(), req(action, p, hooks))
			if err != nil {
				t.Fatalf("%s: %v", action, err)
			}
			if executors.IsMutating(action) && res.Status != executors.StatusWouldChange && res.Status != executors.StatusOK && res.Status != executors.StatusPending {
				t.Errorf("status: got %q (%s), want would-change, ok or pending", res.Status, res.Summary)
			}
			if n := len(hooks.Records()); n != 0 {
				t.Errorf("hooks records: got %d, want 0", n)
			}
		})
	}
	if n := countMutations(srv); n != 0 {
		t.Errorf("emulator mutations after dry-runs of every action: got %d, want 0", n)
	}
	if len(srv.Requests()) == 0 {
		t.Error("emulator saw no request at all, want real reads")
	}
}
