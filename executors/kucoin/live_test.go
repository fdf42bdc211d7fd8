package kucoin

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
	"github.com/panicbutton/panicbutton/internal/emulator"
	emkucoin "github.com/panicbutton/panicbutton/internal/emulator/kucoin"
)

// liveState is the part of the emulator snapshot these tests check.
type liveState struct {
	Masters []struct {
		Positions []struct {
			Symbol string `json:"symbol"`
			Qty    int64  `json:"qty"`
		} `json:"positions"`
		Withdrawals []struct {
			ID, Status string
		} `json:"withdrawals"`
		Deadman *struct {
			Timeout int      `json:"timeout"`
			Symbols []string `json:"symbols"`
		} `json:"dead_cancel_all"`
		Subs []struct {
			Name     string                                  `json:"name"`
			Balances map[string]map[string]map[string]string `json:"balances"`
		} `json:"subs"`
	} `json:"masters"`
}

func readLive(t *testing.T, srv *emulator.Server) liveState {
	t.Helper()
	b, err := json.Marshal(srv.State()[emkucoin.SpotName])
	if err != nil {
		t.Fatal(err)
	}
	var st liveState
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// The mutating actions the conformance suite only dry-runs, done for real
// against the emulator and checked in its state.
func TestLiveActionsChangeEmulatorState(t *testing.T) {
	tests := []struct {
		name   string
		action string
		params executors.Params
		check  func(t *testing.T, res executors.Result, st liveState)
	}{
		{"positions.close", executors.PositionsClose, nil, func(t *testing.T, res executors.Result, st liveState) {
			for _, p := range st.Masters[0].Positions {
				if p.Qty != 0 {
					t.Errorf("position %s after close: got qty %d, want 0", p.Symbol, p.Qty)
				}
			}
			if len(res.Changes) != 1 {
				t.Errorf("changes: got %d, want 1 (XBTUSDTM)", len(res.Changes))
			}
		}},
		{"orders.deadman", executors.OrdersDeadman, executors.Params{"symbols": []string{"BTC-USDT"}, "countdown": time.Minute}, func(t *testing.T, res executors.Result, st liveState) {
			d := st.Masters[0].Deadman
			if d == nil || d.Timeout != 60 || len(d.Symbols) != 1 || d.Symbols[0] != "BTC-USDT" {
				t.Errorf("dead-cancel-all: got %+v, want timeout 60 on BTC-USDT", d)
			}
		}},
		{"withdrawals.cancel_pending", executors.WithdrawalsCancelPending, nil, func(t *testing.T, res executors.Result, st liveState) {
			for _, w := range st.Masters[0].Withdrawals {
				if w.Status == "PROCESSING" {
					t.Errorf("withdrawal %s still PROCESSING", w.ID)
				}
			}
			if res.Counts["cancelled"] != 1 {
				t.Errorf("cancelled: got %d, want 1", res.Counts["cancelled"])
			}
		}},
		{"funds.sweep", executors.FundsSweep, nil, func(t *testing.T, res executors.Result, st liveState) {
			for _, s := range st.Masters[0].Subs {
				for wallet, assets := range s.Balances {
					for asset, a := range assets {
						if wallet != "margin" && !isZero(a["balance"]) {
							t.Errorf("sub %s %s %s: balance %s left, want swept", s.Name, wallet, asset, a["balance"])
						}
					}
				}
			}
			if len(res.Changes) != 3 {
				t.Errorf("sweep changes: got %d, want 3 (bot1 main USDT, bot1 trade_hf BTC, bot2 trade USDT)", len(res.Changes))
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, base := startEmulator(t, os.DirFS("testdata"), "state.yaml")
			x, err := New(conformanceAccount(base), executors.Env{})
			if err != nil {
				t.Fatal(err)
			}
			hooks := &executortest.RecordingHooks{}
			res, err := x.Do(t.Context(), req(tc.action, tc.params, hooks))
			if err != nil || res.Status != executors.StatusChanged {
				t.Fatalf("%s: got %q (%s), %v; want changed", tc.action, res.Status, res.Summary, err)
			}
			if err := hooks.Check(); err != nil {
				t.Error(err)
			}
			if got, want := countMutations(srv), len(hooks.Intents()); got != want {
				t.Errorf("mutations: got %d, want one per intent (%d)", got, want)
			}
			tc.check(t, res, readLive(t, srv))
		})
	}
}

// Reads against the emulator: withdrawals (listed per currency), recent
// trades (HF per symbol and classic).
func TestLiveReads(t *testing.T) {
	_, base := startEmulator(t, os.DirFS("testdata"), "state.yaml")
	x, err := New(conformanceAccount(base), executors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	wl, err := x.Do(t.Context(), req(executors.WithdrawalsList, executors.Params{"since": 48 * time.Hour}, nil))
	if err != nil {
		t.Fatal(err)
	}
	ws := wl.Data.([]executors.Withdrawal)
	if len(ws) != 2 || wl.Counts["pending"] != 1 || len(wl.Findings) != 1 {
		t.Errorf("withdrawals: got %d (%d pending, %d findings), want 2 (1 pending, 1 finding)", len(ws), wl.Counts["pending"], len(wl.Findings))
	}
	for _, w := range ws {
		if w.Pending != (w.Status == "PROCESSING") || w.Cancellable != (w.Status == "PROCESSING") {
			t.Errorf("withdrawal %s %s: pending %v cancellable %v", w.ID, w.Status, w.Pending, w.Cancellable)
		}
	}
	short, err := x.Do(t.Context(), req(executors.WithdrawalsList, executors.Params{"since": time.Hour}, nil))
	if err != nil || len(short.Data.([]executors.Withdrawal)) != 1 {
		t.Errorf("withdrawals of the last hour: got %v, %v; want the 3-minute-old one only", short.Data, err)
	}

	tr, err := x.Do(t.Context(), req(executors.TradesRecent, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	trades := tr.Data.([]executors.Trade)
	if len(trades) != 2 {
		t.Fatalf("trades: got %d, want 2 (HF BTC-USDT, classic ETH-BTC)", len(trades))
	}
	if trades[0].Symbol != "BTC-USDT" || trades[1].Symbol != "ETH-BTC" {
		t.Errorf("trades: got %s, %s; want newest first: BTC-USDT, ETH-BTC", trades[0].Symbol, trades[1].Symbol)
	}
	old, err := x.Do(t.Context(), req(executors.TradesRecent, executors.Params{"since": time.Hour}, nil))
	if err != nil || len(old.Data.([]executors.Trade)) != 1 {
		t.Errorf("trades of the last hour: got %v, %v; want 1", old.Data, err)
	}
}
