package emulator_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/emulator/attacker"
	"github.com/panicbutton/panicbutton/internal/emulator/emu"
	"github.com/panicbutton/panicbutton/internal/emulator/venues"
)

const (
	demoMasterKey = "hW4jxQxUv7kr1f0TnlknJbE3xRP2AYgCgXA9ZK18e24WqgkPFDfthRdregYyrpMF"
	demoSubKey    = "q5r10QZsMXm0f1c5BMPhwx0wY0MzeXflf3H6jtbCHBWQjSYKfEyRGdsq5pOZliLi" // northwind-trading, Ed25519
)

func startDemo(t *testing.T) (*emulator.Server, string) {
	t.Helper()
	cfg := emulator.Config{Loaders: venues.DefaultLoaders()}
	fsys, name := venues.DemoState()
	vs, err := emulator.LoadState(fsys, name, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := emulator.New(cfg, vs)
	base, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv, base
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func report(t *testing.T, base, id string) attacker.Report {
	t.Helper()
	resp, err := http.Get(base + "/_emulator/attacker?id=" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []attacker.Report
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out) != 1 {
		t.Fatalf("GET attacker %s: %d, %v, %d reports", id, resp.StatusCode, err, len(out))
	}
	return out[0]
}

// openOrders counts an account's open orders (every product) in the
// emulator's own state.
func openOrders(t *testing.T, srv *emulator.Server, account string) int {
	t.Helper()
	n, ok := srv.OpenOrders()["binance:"+account]
	if !ok {
		t.Fatalf("no account %s", account)
	}
	return n
}

// The attacker on a Binance master key and on a sub-account's Ed25519 key
// places orders through the signed HTTP surface; its counters, the request
// log and the venue's own state agree; once the sub key is deleted, every
// request it makes is refused.
func TestAttackerBinanceMasterAndSub(t *testing.T) {
	srv, base := startDemo(t)
	before := map[string]int{"northwind-master": openOrders(t, srv, "northwind-master"), "northwind-trading": openOrders(t, srv, "northwind-trading")}

	// One through the Go API, one through the admin endpoint.
	master, err := srv.StartAttacker("binance:northwind-master:rate=25/s")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(base+"/_emulator/attacker", "application/json",
		strings.NewReader(`{"venue": "binance", "account": "northwind-master", "sub": "northwind-trading", "rate": "25/s"}`))
	if err != nil {
		t.Fatal(err)
	}
	var sub attacker.Report
	if err := json.NewDecoder(resp.Body).Decode(&sub); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST attacker: %d %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	if master.ID != "binance:northwind-master" || sub.ID != "binance:northwind-master/northwind-trading" {
		t.Fatalf("ids: got %q, %q", master.ID, sub.ID)
	}

	for _, id := range []string{master.ID, sub.ID} {
		waitFor(t, id+" accepting 6 actions", 10*time.Second, func() bool { return report(t, base, id).Accepted >= 6 })
	}
	rm := report(t, base, master.ID)
	if rm.Keys[0].APIKey != demoMasterKey || rm.LastAccepted == nil || !rm.Running {
		t.Errorf("master report: got %+v", rm)
	}
	// The master key trades spot, margin and futures: every product it can fund.
	for _, p := range []string{"spot", "margin", "usdm", "coinm"} {
		if !contains(rm.Products, p) {
			t.Errorf("master attacker products: got %v, want %s among them", rm.Products, p)
		}
	}
	rs := report(t, base, sub.ID)
	if rs.Keys[0].APIKey != demoSubKey {
		t.Errorf("sub attacker key: got %s, want the sub's Ed25519 key", rs.Keys[0].APIKey)
	}
	for _, p := range []string{"spot", "usdm"} {
		if !contains(rs.Products, p) {
			t.Errorf("sub attacker products: got %v, want %s among them", rs.Products, p)
		}
	}
	if got := openOrders(t, srv, "northwind-trading"); got <= before["northwind-trading"] {
		t.Errorf("northwind-trading open orders: got %d, want more than the %d before the attack", got, before["northwind-trading"])
	}
	if got := openOrders(t, srv, "northwind-master"); got <= before["northwind-master"] {
		t.Errorf("northwind-master open orders: got %d, want more than the %d before the attack", got, before["northwind-master"])
	}

	// The human deletes the sub key in the web UI.
	deleted := srv.Clock().Now()
	if !srv.DeleteKey(demoSubKey) {
		t.Fatal("delete-key: no such key")
	}
	atDelete := report(t, base, sub.ID)
	waitFor(t, "10 more attempts on the deleted key", 10*time.Second, func() bool {
		return report(t, base, sub.ID).Attempts >= atDelete.Attempts+10
	})
	after := report(t, base, sub.ID)
	// A request already inside the venue when the key died may still be
	// accepted; none that arrived later.
	if after.Accepted > atDelete.Accepted+1 {
		t.Errorf("deleted key: accepted went from %d to %d", atDelete.Accepted, after.Accepted)
	}
	if r := after.Keys[0].LastRefusal; !strings.Contains(r, "-2015") && !strings.Contains(r, "-2008") {
		t.Errorf("deleted key: last refusal %q, want -2015 or -2008", r)
	}
	if after.Keys[0].KeyDeleted == nil || after.AcceptedAfterDeleted != 0 {
		t.Errorf("deleted key: key_deleted %v, accepted after %d; want a time and 0", after.Keys[0].KeyDeleted, after.AcceptedAfterDeleted)
	}
	if rm := report(t, base, master.ID); rm.Keys[0].KeyDeleted != nil {
		t.Errorf("master key reported deleted at %v", rm.Keys[0].KeyDeleted)
	}
	var late, lateAccepted, masterAccepted int
	for _, e := range srv.Requests() {
		if e.Kind != emu.KindAttacker {
			if e.Key == demoSubKey || e.Key == demoMasterKey {
				t.Errorf("attacker request not marked: %+v", e)
			}
			continue
		}
		if e.Accepted == nil {
			t.Errorf("attacker entry without accepted: %+v", e)
			continue
		}
		if strings.Contains(e.Query, "signature=") && !strings.Contains(e.Query, "signature=%5BREDACTED%5D") {
			t.Errorf("attacker request logged with its signature: %s", e.Query)
		}
		if e.Attacker == sub.ID && e.Time.After(deleted) {
			late++
			if *e.Accepted {
				lateAccepted++
			}
		}
		if e.Attacker == master.ID && *e.Accepted && strings.HasSuffix(e.Action, "-order") {
			masterAccepted++
		}
	}
	if late < 10 || lateAccepted != 0 {
		t.Errorf("log after deletion: %d requests of the sub's attacker, %d accepted; want >= 10 and 0", late, lateAccepted)
	}
	if masterAccepted == 0 {
		t.Error("log: no accepted order of the master's attacker")
	}

	// Stopping keeps the counters.
	resp = do(t, http.MethodDelete, base+"/_emulator/attacker?id="+master.ID, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE attacker: %d", resp.StatusCode)
	}
	stopped := report(t, base, master.ID)
	time.Sleep(150 * time.Millisecond)
	if again := report(t, base, master.ID); stopped.Running || again.Attempts != stopped.Attempts || stopped.Stopped == nil {
		t.Errorf("after DELETE: running %v, attempts %d then %d", stopped.Running, stopped.Attempts, again.Attempts)
	}
}

// A key that may withdraw gets a withdrawal attempt to an outside address;
// Binance refuses it while the key has no IP restriction, and takes it once
// the key is IP-locked.
func TestAttackerBinanceWithdraw(t *testing.T) {
	srv, base := startDemo(t)
	rep, err := srv.StartAttacker("binance:northwind-master/northwind-arb:rate=40/s")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a refused withdrawal", 10*time.Second, func() bool {
		return report(t, base, rep.ID).Keys[0].Actions["withdraw"].Refused >= 1
	})
	if r := report(t, base, rep.ID); r.Keys[0].Actions["withdraw"].Accepted != 0 {
		t.Errorf("withdrawal from an unrestricted key accepted: %+v", r.Keys[0].Actions["withdraw"])
	}
	resp := do(t, http.MethodPost, base+"/_emulator/edit-key", `{"api_key": "fALcmFkDhywnLLhrMS5DfPJUDFZreKSXa3hzWnJGGSKt5wD1XUFbyeuhigdgb038", "ips": ["127.0.0.1"]}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("edit-key: %d", resp.StatusCode)
	}
	waitFor(t, "an accepted withdrawal", 10*time.Second, func() bool {
		r := report(t, base, rep.ID)
		return r.Keys[0].Actions["withdraw"].Accepted >= 1
	})
}

// Bad admin input answers 400 with a clear message and starts nothing.
func TestAttackerAdminBadInput(t *testing.T) {
	_, base := startDemo(t)
	tests := []struct {
		name, body, want string
	}{
		{"unknown field", `{"spec": "binance:northwind-master", "speed": 3}`, "unknown field"},
		{"bad rate", `{"spec": "binance:northwind-master:rate=fast"}`, "rate"},
		{"zero rate", `{"venue": "binance", "account": "northwind-master", "rate": "0/s"}`, "positive"},
		{"too fast", `{"spec": "binance:northwind-master:rate=500/s"}`, "more than 50"},
		{"unknown key", `{"spec": "binance:northwind-master:key=AAAAAAAAAAAAAAAAAAAA"}`, "no key"},
		{"unknown account", `{"spec": "binance:nobody"}`, "no account"},
		{"unknown sub", `{"spec": "binance:northwind-master/nobody"}`, "no sub-account"},
		{"unknown venue", `{"spec": "bitmex:northwind-master"}`, "unknown venue"},
		{"unknown option", `{"spec": "binance:northwind-master:turbo=on"}`, "unknown option"},
		{"bad on/off", `{"spec": "binance:northwind-master:withdraw=maybe"}`, "on or off"},
		{"spec and fields", `{"spec": "binance:northwind-master", "rate": "1/s"}`, "not both"},
		{"empty", `{}`, "venue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := do(t, http.MethodPost, base+"/_emulator/attacker", tt.body)
			var e struct{ Error string }
			_ = json.NewDecoder(resp.Body).Decode(&e)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(e.Error, tt.want) {
				t.Errorf("got %d %q, want 400 mentioning %q", resp.StatusCode, e.Error, tt.want)
			}
		})
	}
	resp := do(t, http.MethodGet, base+"/_emulator/attacker", "")
	var list []attacker.Report
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || len(list) != 0 {
		t.Errorf("after bad input: %d attackers (%v), want none", len(list), err)
	}
	if resp := do(t, http.MethodDelete, base+"/_emulator/attacker?id=binance:nobody", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("DELETE unknown attacker: got %d, want 404", resp.StatusCode)
	}
	if resp := do(t, http.MethodDelete, base+"/_emulator/attacker?who=x", ""); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("DELETE with an unknown parameter: got %d, want 400", resp.StatusCode)
	}
}

func do(t *testing.T, method, url, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// On KuCoin the attacker trades with the master key (HF and classic spot,
// futures), creates a sub-account key for itself and trades with it too,
// and the sub key's attacker gets only refusals once that key is deleted.
func TestAttackerKucoinMasterAndSub(t *testing.T) {
	srv, base := startDemo(t)
	master, err := srv.StartAttacker("kucoin:kucoin-main:rate=30/s")
	if err != nil {
		t.Fatal(err)
	}
	sub, err := srv.StartAttacker("kucoin:kucoin-main/mmbot01:rate=20/s")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the master's attacker to create a key and use it", 15*time.Second, func() bool {
		r := report(t, base, master.ID)
		return len(r.Keys) > 1 && r.Keys[1].Accepted > 0
	})
	rm := report(t, base, master.ID)
	created := rm.Keys[1]
	if !created.CreatedByAttacker || rm.Keys[0].Actions["create-key"].Accepted == 0 {
		t.Errorf("created key: got %+v, create-key %+v", created, rm.Keys[0].Actions["create-key"])
	}
	for _, p := range []string{"spot", "classic", "margin", "futures", "create-key"} {
		if !contains(rm.Products, p) {
			t.Errorf("master attacker products: got %v, want %s among them", rm.Products, p)
		}
	}
	waitFor(t, "the sub's attacker accepting 5 orders", 10*time.Second, func() bool { return report(t, base, sub.ID).Accepted >= 5 })
	rs := report(t, base, sub.ID)
	subKey := rs.Keys[0].APIKey
	if rs.Keys[0].Account != "mmbot01" || !contains(rs.Products, "spot") {
		t.Errorf("sub attacker: account %s, products %v", rs.Keys[0].Account, rs.Products)
	}
	if got := srv.OpenOrders()["kucoin:mmbot01"]; got < 5 {
		t.Errorf("mmbot01 open orders in the emulator state: got %d, want the attacker's", got)
	}

	deleted := srv.Clock().Now()
	if !srv.DeleteKey(subKey) {
		t.Fatal("delete-key: no such key")
	}
	at := report(t, base, sub.ID)
	waitFor(t, "10 more attempts on the deleted key", 10*time.Second, func() bool { return report(t, base, sub.ID).Attempts >= at.Attempts+10 })
	after := report(t, base, sub.ID)
	if after.AcceptedAfterDeleted != 0 || after.Keys[0].KeyDeleted == nil || !strings.Contains(after.Keys[0].LastRefusal, "400003") {
		t.Errorf("deleted key: accepted after %d, deleted %v, last refusal %q; want 0, a time, 400003", after.AcceptedAfterDeleted, after.Keys[0].KeyDeleted, after.Keys[0].LastRefusal)
	}
	for _, e := range srv.Requests() {
		if e.Attacker == sub.ID && e.Time.After(deleted) && e.Accepted != nil && *e.Accepted {
			t.Errorf("accepted after the key was deleted: %+v", e)
		}
		if e.Kind == emu.KindAttacker && e.Venue != "kucoin" && e.Venue != "kucoin-futures" {
			t.Errorf("kucoin attacker request on %s", e.Venue)
		}
	}
}

// A KuCoin key with the Withdrawal permission and an IP whitelist gets a
// withdrawal accepted; key= picks the key (and names the attacker).
func TestAttackerKucoinWithdraw(t *testing.T) {
	srv, base := startDemo(t)
	resp := do(t, http.MethodPost, base+"/_emulator/edit-key", `{"api_key": "6650a1b2c3d4e5f600000001", "withdrawals": true}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("edit-key: %d", resp.StatusCode)
	}
	rep, err := srv.StartAttacker("kucoin:kucoin-main:rate=40/s,subkeys=off,key=6650a1b2c3d4e5f600000001")
	if err != nil {
		t.Fatal(err)
	}
	if rep.ID != "kucoin:kucoin-main:key=6650a1b2c3d4e5f600000001" {
		t.Errorf("id: got %s", rep.ID)
	}
	waitFor(t, "an accepted withdrawal", 10*time.Second, func() bool {
		return report(t, base, rep.ID).Keys[0].Actions["withdraw"].Accepted >= 1
	})
	if r := report(t, base, rep.ID); r.Keys[0].Actions["create-key"].Attempts != 0 || len(r.Keys) != 1 {
		t.Errorf("subkeys=off: got %+v", r.Keys)
	}
}
