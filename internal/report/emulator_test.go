package report

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/emulator/emu"
	"github.com/panicbutton/panicbutton/internal/emulator/venues"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// The demo fund's accounts (internal/emulator/states/demo.yaml), the fund
// `make demo` runs on.
const (
	demoBinance = "northwind-master"
	demoKuCoin  = "kucoin-main"
)

// demoFund is the in-process emulator loaded with the demo state, and the
// accounts it exports, as an accounts file would give them to the
// executors.
type demoFund struct {
	srv     *emulator.Server
	base    string
	now     func() time.Time // the emulator's clock
	accts   []executors.Account
	deleted sync.Map // accounts whose master key the human deleted
}

// startDemoFund starts the emulator with the demo state on the clock now;
// it closes with the test.
func startDemoFund(t *testing.T, now func() time.Time) *demoFund {
	t.Helper()
	cfg := emulator.Config{Loaders: venues.DefaultLoaders(), Now: now}
	fsys, name := venues.DemoState()
	vs, err := emulator.LoadState(fsys, name, cfg)
	if err != nil {
		t.Fatalf("load the demo state: %v", err)
	}
	srv := emulator.New(cfg, vs)
	base, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("start the emulator: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	f := &demoFund{srv: srv, base: base, now: now}
	for _, v := range srv.Venues() {
		ex, ok := v.(emu.Exporter)
		if !ok {
			continue
		}
		for _, a := range ex.ExportAccounts() {
			acct := executors.Account{Name: a.Name, Exchange: a.Exchange, Tags: a.Tags, KeyType: a.KeyType,
				APIKey: secret.New(a.APIKey), Secret: secret.New(a.Secret), Passphrase: secret.New(a.Passphrase), KeyVersion: a.KeyVersion}
			switch a.Exchange {
			case "binance":
				acct.BaseURL = base + "/binance"
			case "kucoin":
				acct.BaseURL, acct.FuturesBaseURL = base+"/kucoin", base+"/kucoin-futures"
			}
			for _, sk := range a.SubKeys {
				acct.SubKeys = append(acct.SubKeys, executors.SubKey{Sub: sk.Sub, APIKey: sk.APIKey, Passphrase: secret.New(sk.Passphrase)})
			}
			f.accts = append(f.accts, acct)
		}
	}
	if len(f.accts) != 2 {
		t.Fatalf("demo fund exports %d accounts, want 2 (%s, %s)", len(f.accts), demoBinance, demoKuCoin)
	}
	return f
}

// account returns the exported account name.
func (f *demoFund) account(t *testing.T, name string) executors.Account {
	t.Helper()
	for _, a := range f.accts {
		if a.Name == name {
			return a
		}
	}
	t.Fatalf("no account %q in the demo fund", name)
	return executors.Account{}
}

// admin POSTs body to the emulator's admin endpoint (e.g. delete-key), as
// the human in the exchange's web UI.
func (f *demoFund) admin(t *testing.T, endpoint string, body any) {
	b, _ := json.Marshal(body)
	resp, err := http.Post(f.base+"/_emulator/"+endpoint, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Errorf("%s: %v", endpoint, err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		t.Errorf("%s: HTTP %d %s", endpoint, resp.StatusCode, msg)
	}
}

// deleteMasterKey plays the human deleting the account's key by hand
// (once: later calls do nothing).
func (f *demoFund) deleteMasterKey(t *testing.T, account string) {
	if _, done := f.deleted.LoadOrStore(account, true); done {
		return
	}
	f.admin(t, "delete-key", map[string]string{"api_key": f.account(t, account).APIKey.Reveal()})
}

// binance sends a signed request with the account's own (leaked) key, as
// the attacker holding it does, and decodes the answer into out.
func (f *demoFund) binance(t *testing.T, account, method, path string, q url.Values, out any) {
	a := f.account(t, account)
	q.Set("timestamp", strconv.FormatInt(f.now().UnixMilli(), 10))
	mac := hmac.New(sha256.New, []byte(a.Secret.Reveal()))
	mac.Write([]byte(q.Encode()))
	req, _ := http.NewRequest(method, a.BaseURL+path+"?"+q.Encode()+"&signature="+hex.EncodeToString(mac.Sum(nil)), nil)
	req.Header.Set("X-MBX-APIKEY", a.APIKey.Reveal())
	f.do(t, req, out)
}

// kucoinFutures sends a signed (version 3) request to the KuCoin futures
// host with the account's own key.
func (f *demoFund) kucoinFutures(t *testing.T, account, method, path string, body any, out any) {
	a := f.account(t, account)
	b, _ := json.Marshal(body)
	ts := strconv.FormatInt(f.now().UnixMilli(), 10)
	sign := func(s string) string {
		mac := hmac.New(sha256.New, []byte(a.Secret.Reveal()))
		mac.Write([]byte(s))
		return base64.StdEncoding.EncodeToString(mac.Sum(nil))
	}
	req, _ := http.NewRequest(method, a.FuturesBaseURL+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("KC-API-KEY", a.APIKey.Reveal())
	req.Header.Set("KC-API-TIMESTAMP", ts)
	req.Header.Set("KC-API-SIGN", sign(ts+method+path+string(b)))
	req.Header.Set("KC-API-PASSPHRASE", sign(a.Passphrase.Reveal()))
	req.Header.Set("KC-API-KEY-VERSION", "3")
	var env struct {
		Code string          `json:"code"`
		Msg  string          `json:"msg"`
		Data json.RawMessage `json:"data"`
	}
	f.do(t, req, &env)
	if env.Code != "200000" {
		t.Errorf("%s %s: code %s %s", method, path, env.Code, env.Msg)
		return
	}
	if out != nil {
		if err := json.Unmarshal(env.Data, out); err != nil {
			t.Errorf("%s %s: decode %s: %v", method, path, env.Data, err)
		}
	}
}

func (f *demoFund) do(t *testing.T, req *http.Request, out any) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", req.Method, req.URL.Path, err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("%s %s: HTTP %d %s", req.Method, req.URL.Path, resp.StatusCode, b)
		return
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Errorf("%s %s: decode %s: %v", req.Method, req.URL.Path, b, err)
		}
	}
}

// attackerOrder places an order with the account's leaked key, a Binance
// spot order or a KuCoin futures order, and returns its id.
func (f *demoFund) attackerOrder(t *testing.T, account string) string {
	switch account {
	case demoBinance:
		var out struct {
			OrderID int64 `json:"orderId"`
		}
		f.binance(t, account, http.MethodPost, "/api/v3/order", url.Values{"symbol": {"DOGEUSDT"}, "side": {"BUY"}, "type": {"LIMIT"},
			"timeInForce": {"GTC"}, "price": {"0.05"}, "quantity": {"1000"}}, &out)
		return strconv.FormatInt(out.OrderID, 10)
	default:
		var out struct {
			OrderID string `json:"orderId"`
		}
		f.kucoinFutures(t, account, http.MethodPost, "/api/v1/orders", map[string]any{"clientOid": "attacker-" + strconv.FormatInt(time.Now().UnixNano(), 36),
			"side": "buy", "symbol": "SOLUSDTM", "type": "limit", "price": "50", "size": 7, "leverage": "2"}, &out)
		return out.OrderID
	}
}

// drain withdraws amount USDT from the Binance account's spot wallet, as an
// attacker who talked the owner into enabling withdrawals on the key would.
func (f *demoFund) drain(t *testing.T, account, amount string) {
	f.admin(t, "edit-key", map[string]any{"api_key": f.account(t, account).APIKey.Reveal(), "withdrawals": true})
	f.binance(t, account, http.MethodPost, "/sapi/v1/capital/withdraw/apply", url.Values{"coin": {"USDT"}, "network": {"ETH"},
		"address": {"0x00000000000000000000000000000000000a77ac"}, "amount": {amount}}, nil)
}

// allowWithdrawalCancel gives the account's key the withdrawal permission
// (KuCoin: Transfer), which cancelling a withdrawal by API needs.
func (f *demoFund) allowWithdrawalCancel(t *testing.T, account string) {
	f.admin(t, "edit-key", map[string]any{"api_key": f.account(t, account).APIKey.Reveal(), "withdrawals": true})
}

// transport is an HTTP transport for the executors whose idle connections
// close before the emulator does (it waits for every connection to be
// idle or closed, up to 2 s, when it shuts down).
func (f *demoFund) transport(t *testing.T) http.RoundTripper {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}
