package bench

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/audit"
)

// TestQuarterScenarioEndState runs the benchmark's scenario at 1/4 size
// without latency and checks the end state, so that the benchmark cannot
// silently stop doing the work it times: no open order left, every sub key
// gone, no 429/418, every step as expected, the audit trail intact.
func TestQuarterScenarioEndState(t *testing.T) {
	size := Scaled(0.25)
	em, err := StartEmulator(t.TempDir(), size, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer em.Server.Close()
	before := endState(t, em)
	if before.orders != size.Orders() || before.subKeys != size.SubKeys() {
		t.Fatalf("generated state: got %d open orders and %d sub keys, want %d and %d", before.orders, before.subKeys, size.Orders(), size.SubKeys())
	}

	out, err := RunAgainst(context.Background(), em, Config{Size: size, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	after := endState(t, em)
	if after.orders != 0 {
		t.Errorf("open orders left in the emulator: got %d, want 0", after.orders)
	}
	if after.subKeys != 0 {
		t.Errorf("sub-account keys left in the emulator: got %d, want 0", after.subKeys)
	}
	if out.Throttled != 0 {
		t.Errorf("429/418 answers: got %d, want 0", out.Throttled)
	}
	if out.FirstMutation < 0 {
		t.Error("the request log has no mutation")
	}
	if out.Timestamp1021 != 0 {
		t.Errorf("timestamp rejections: got %d, want 0", out.Timestamp1021)
	}
	if out.OrdersCancelled < 0 || out.KeysDeleted < 0 || out.OrdersCancelled > out.Wall || out.KeysDeleted > out.Wall {
		t.Errorf("time to all orders cancelled %s, to all sub keys deleted %s: want both measured, within the wall time %s", out.OrdersCancelled, out.KeysDeleted, out.Wall)
	}
	want := map[string]executors.Status{
		"revoke-leaked-key": executors.StatusSkipped, // no leaked_key input
		"snapshot-before":   executors.StatusOK, "inventory": executors.StatusOK, "freeze": executors.StatusChanged,
		"withdrawals": executors.StatusOK, "master-key": executors.StatusPending,
		"snapshot-after": executors.StatusOK,
	}
	// Binance does not show a master whether a sub key can withdraw, so
	// revoke-withdraw-keys deletes them all and revoke-sub-keys finds none
	// left; on KuCoin no sub key can withdraw. The scenario's sub-accounts
	// have no orders: the sub-account freeze mints a temporary key on each,
	// finds nothing and deletes the key again (ok: nothing stays changed).
	wantBy := map[string]map[string]executors.Status{
		"binance": {"revoke-withdraw-keys": executors.StatusChanged, "revoke-sub-keys": executors.StatusOK, "freeze-sub-accounts": executors.StatusOK},
		"kucoin":  {"revoke-withdraw-keys": executors.StatusOK, "revoke-sub-keys": executors.StatusChanged, "freeze-sub-accounts": executors.StatusOK},
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

// counts is what endState found.
type counts struct{ orders, subKeys int }

// endState counts the open orders and the sub-account keys left in the
// emulator's state (GET /_emulator/state's venues).
func endState(t *testing.T, em *Emulator) counts {
	t.Helper()
	var c counts
	for _, v := range em.Server.Venues() {
		data, err := json.Marshal(v.Snapshot())
		if err != nil {
			t.Fatalf("venue %s snapshot: %v", v.Name(), err)
		}
		switch v.Name() {
		case "binance":
			var st struct {
				Accounts []struct {
					Master     bool              `json:"master"`
					Keys       []json.RawMessage `json:"keys"`
					OpenOrders map[string][]any  `json:"open_orders"`
				} `json:"accounts"`
			}
			if err := json.Unmarshal(data, &st); err != nil {
				t.Fatalf("decode binance state: %v", err)
			}
			for _, a := range st.Accounts {
				for _, os := range a.OpenOrders {
					c.orders += len(os)
				}
				if !a.Master {
					c.subKeys += len(a.Keys)
				}
			}
		case "kucoin":
			type key struct {
				Deleted bool `json:"deleted"`
			}
			type order struct {
				Status string `json:"status"`
			}
			var st struct {
				Masters []struct {
					Orders        []order `json:"orders"`
					FuturesOrders []order `json:"futures_orders"`
					Subs          []struct {
						Keys []key `json:"keys"`
					} `json:"subs"`
				} `json:"masters"`
			}
			if err := json.Unmarshal(data, &st); err != nil {
				t.Fatalf("decode kucoin state: %v", err)
			}
			for _, m := range st.Masters {
				for _, o := range append(m.Orders, m.FuturesOrders...) {
					if o.Status == "open" {
						c.orders++
					}
				}
				for _, s := range m.Subs {
					for _, k := range s.Keys {
						if !k.Deleted {
							c.subKeys++
						}
					}
				}
			}
		}
	}
	return c
}
