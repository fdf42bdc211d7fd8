package binance_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

func (h *harness) postFaults(t *testing.T, f string) {
	t.Helper()
	resp, err := http.Post(h.root+"/_emulator/faults", "application/json", bytes.NewBufferString(f))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST faults %s: got %d", f, resp.StatusCode)
	}
}

// TestFaultsThroughTheCore: the core's faults, seen by a Binance client.
func TestFaultsThroughTheCore(t *testing.T) {
	h := newHarness(t, testdataFS(), testState)
	m := h.creds("acme-master")
	t.Run("latency", func(t *testing.T) {
		h.postFaults(t, `{"latency":"80ms"}`)
		defer h.postFaults(t, `{}`)
		start := time.Now()
		if _, err := h.spot(m).NewGetAccountService().Do(bg); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 80*time.Millisecond {
			t.Errorf("got %v, want at least 80ms", d)
		}
	})
	t.Run("scripted 429 then normal", func(t *testing.T) {
		h.postFaults(t, `{"script":[{"venue":"binance","method":"DELETE","path":"/api/v3/openOrders","count":2,"status":429,"body":"{\"code\":-1003,\"msg\":\"Too many requests\"}","headers":{"Retry-After":"2"}}]}`)
		defer h.postFaults(t, `{}`)
		for i := range 2 {
			r := h.signed(m, http.MethodDelete, "/api/v3/openOrders", url.Values{"symbol": {"ETHUSDT"}}, nil)
			if r.Status != 429 || r.code() != -1003 || r.Header.Get("Retry-After") != "2" {
				t.Errorf("call %d: got %d %s Retry-After %q, want the scripted 429", i+1, r.Status, r.Body, r.Header.Get("Retry-After"))
			}
		}
		r := h.signed(m, http.MethodDelete, "/api/v3/openOrders", url.Values{"symbol": {"ETHUSDT"}}, nil)
		if r.Status != 200 {
			t.Errorf("third call: got %d %s, want the real answer", r.Status, r.Body)
		}
	})
	t.Run("scripted 500 after the cancel happened", func(t *testing.T) {
		h.postFaults(t, `{"script":[{"venue":"binance","path":"/fapi/v1/allOpenOrders","status":503,"body":"{\"code\":-1007,\"msg\":\"Timeout waiting for response from backend server.\"}","after":true}]}`)
		defer h.postFaults(t, `{}`)
		err := h.futures(m).NewCancelAllOpenOrdersService().Symbol("ETHUSDT").Do(bg)
		if apiCode(err) != -1007 {
			t.Fatalf("got %v, want the scripted -1007", err)
		}
		left, _ := h.futures(m).NewListOpenOrdersService().Symbol("ETHUSDT").Do(bg)
		if len(left) != 0 {
			t.Errorf("got %d orders, want the cancel to have happened", len(left))
		}
	})
	t.Run("skew makes timestamps stale", func(t *testing.T) {
		h.postFaults(t, `{"skew":"10s"}`)
		defer h.postFaults(t, `{}`)
		_, err := h.spot(m).NewGetAccountService().Do(bg)
		if apiCode(err) != -1021 {
			t.Errorf("got %v, want -1021", err)
		}
		cl := h.spot(m)
		if _, err := cl.NewSetServerTimeService().Do(bg); err != nil {
			t.Fatal(err)
		}
		if _, err := cl.NewGetAccountService().Do(bg); err != nil {
			t.Errorf("after a time sync: got %v, want success", err)
		}
	})
	t.Run("down venue", func(t *testing.T) {
		h.postFaults(t, `{"down":["binance"]}`)
		defer h.postFaults(t, `{}`)
		r := h.do(http.MethodGet, h.base+"/api/v3/time", "", "")
		if r.Status != 503 {
			t.Errorf("got %d, want 503", r.Status)
		}
	})
	t.Run("error rate 1", func(t *testing.T) {
		h.postFaults(t, `{"error_rate":1}`)
		defer h.postFaults(t, `{}`)
		r := h.do(http.MethodGet, h.base+"/api/v3/time", "", "")
		if r.Status != 500 || r.code() != -1001 {
			t.Errorf("got %d %s, want 500 -1001", r.Status, r.Body)
		}
	})
	t.Run("hang until the client gives up", func(t *testing.T) {
		h.postFaults(t, `{"hang":{"venue":"binance","path":"/api/v3/time","count":1}}`)
		defer h.postFaults(t, `{}`)
		cl := &http.Client{Timeout: 150 * time.Millisecond}
		start := time.Now()
		_, err := cl.Get(h.base + "/api/v3/time")
		if err == nil || time.Since(start) < 150*time.Millisecond {
			t.Errorf("got %v after %v, want a client timeout", err, time.Since(start))
		}
		resp, err := cl.Get(h.base + "/api/v3/time")
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("second request: got %v, want 200 (count 1)", err)
		} else {
			resp.Body.Close()
		}
	})
}

// TestRequestLogAndAdmin: the log marks reads and mutations with the
// venue's route name, key and weight; reset restores the state.
func TestRequestLogAndAdmin(t *testing.T) {
	h := newHarness(t, testdataFS(), testState)
	m := h.creds("acme-master")
	h.signed(m, http.MethodDelete, "/api/v3/openOrders", url.Values{"symbol": {"ETHUSDT"}}, nil)
	h.signed(m, http.MethodGet, "/api/v3/openOrders", nil, nil)
	resp, err := http.Get(h.root + "/_emulator/requests?kind=mutation")
	if err != nil {
		t.Fatal(err)
	}
	var log []emu.Entry
	_ = json.NewDecoder(resp.Body).Decode(&log)
	resp.Body.Close()
	if len(log) != 1 || log[0].Endpoint != "DELETE /api/v3/openOrders" || log[0].Key != m.APIKey || log[0].Account != "acme-master" || log[0].Weight != 1 {
		t.Fatalf("got %+v, want the one cancel", log)
	}
	reads := h.srv.Requests()
	if reads[1].Kind != emu.KindRead || reads[1].Weight != 80 {
		t.Errorf("got %+v, want a read of weight 80", reads[1])
	}
	resp, err = http.Get(h.root + "/_emulator/state")
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]json.RawMessage
	_ = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if !strings.Contains(string(st["binance"]), `"acme-master"`) || st["clock"] == nil {
		t.Errorf("state: got %.200s, want the accounts", st["binance"])
	}
	if strings.Contains(string(st["binance"]), m.Secret) {
		t.Errorf("the state snapshot leaks a secret")
	}
	resp, err = http.Post(h.root+"/_emulator/reset", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got, _ := h.spot(m).NewListOpenOrdersService().Symbol("ETHUSDT").Do(bg)
	if len(got) != 1 || len(h.srv.Requests()) != 1 {
		t.Errorf("after reset: got %d ETHUSDT orders and %d log entries, want 1 and 1", len(got), len(h.srv.Requests()))
	}
}

// TestExportAccounts: masters are exported with their key; subs only
// when their key says export: true; --accounts-out files are 0600.
func TestExportAccounts(t *testing.T) {
	h := newHarness(t, testdataFS(), testState)
	dir := t.TempDir()
	path := dir + "/accounts.yaml"
	if err := h.srv.WriteAccounts(path, h.root); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{"name: acme-master", "exchange: binance", "key_type: hmac", "base_url: " + h.root + "/binance", "acme-master.secret"} {
		if !strings.Contains(s, want) {
			t.Errorf("accounts file lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "acme-risky") || strings.Contains(s, h.creds("acme-master").Secret) {
		t.Errorf("accounts file exports a sub or a secret inline:\n%s", s)
	}
	for _, f := range []string{"accounts.yaml", "acme-master.secret", "acme-master.api_key"} {
		fi, err := os.Stat(dir + "/" + f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: got mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	sec, _ := os.ReadFile(dir + "/acme-master.secret")
	if strings.TrimSpace(string(sec)) != h.creds("acme-master").Secret {
		t.Errorf("secret file does not hold the master's secret")
	}
}
