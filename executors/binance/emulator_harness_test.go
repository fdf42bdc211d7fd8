package binance

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/emulator/emu"
	"github.com/panicbutton/panicbutton/internal/emulator/venues"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// The accounts of testdata/conformance.yaml.
const (
	confMasterKey    = "MASTERKEY0000000000000000000000000000000000000001"
	confMasterSecret = "mastersecret0000000000000000000000000000000000000000000001"
)

var (
	confSubs            = []string{"bot1@fund.example", "bot2@fund.example"}
	confIsolatedSymbols = []string{"BTCUSDT", "ETHUSDT"}
)

// emu is one running emulator with the account the tests act as.
type emuRun struct {
	srv  *emulator.Server
	base string // venue base URL (…/binance)
	acct executors.Account
}

// startEmulator starts a fresh in-process emulator over a state file of
// testdata/ and returns it with the state's master account.
func startEmulator(t *testing.T, state, key, sec, keyType string) *emuRun {
	t.Helper()
	cfg := emulator.Config{Loaders: venues.DefaultLoaders()}
	vs, err := emulator.LoadState(os.DirFS("testdata"), state, cfg)
	if err != nil {
		t.Fatalf("load emulator state %s: %v", state, err)
	}
	srv := emulator.New(cfg, vs)
	base, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("start emulator: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return &emuRun{srv: srv, base: base + "/binance", acct: executors.Account{Name: "fund", Exchange: "binance", KeyType: keyType,
		APIKey: secret.New(key), Secret: secret.New(sec), BaseURL: base + "/binance"}}
}

func (r *emuRun) mutations() int {
	n := 0
	for _, e := range r.srv.Requests() {
		if e.Kind == emu.KindMutation {
			n++
		}
	}
	return n
}

// get sends a signed GET as the master, independently of the executor, and
// decodes the JSON answer into v.
func (r *emuRun) get(t *testing.T, path string, q url.Values, v any) {
	t.Helper()
	kt, err := sdkKeyType(r.acct.KeyType)
	if err != nil {
		t.Fatal(err)
	}
	req, err := buildSigned(signParams{base: r.base, method: http.MethodGet, path: path, query: q, apiKey: r.acct.APIKey.Reveal(),
		secret: r.acct.Secret.Reveal(), keyType: kt, timestamp: time.Now().UnixMilli(), spotFamily: familyOf(path) == famSpot})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: HTTP %d %s", path, resp.StatusCode, data)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("GET %s: decode %s: %v", path, data, err)
	}
}

// openOrders counts the master's open orders on every product.
func (r *emuRun) openOrders(t *testing.T) int {
	t.Helper()
	var list []json.RawMessage
	n := 0
	for _, p := range []string{"/api/v3/openOrders", "/sapi/v1/margin/openOrders", "/fapi/v1/openOrders", "/dapi/v1/openOrders"} {
		r.get(t, p, nil, &list)
		n += len(list)
	}
	for _, s := range confIsolatedSymbols {
		r.get(t, "/sapi/v1/margin/openOrders", url.Values{"symbol": {s}, "isIsolated": {"TRUE"}}, &list)
		n += len(list)
	}
	var raw json.RawMessage
	r.get(t, "/fapi/v1/openAlgoOrders", nil, &raw)
	algo, err := decodeAlgoOrders(raw)
	if err != nil {
		t.Fatalf("decode algo orders: %v", err)
	}
	return n + len(algo)
}

// subKeys lists the sub-account keys the venue still holds.
func (r *emuRun) subKeys(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, email := range confSubs {
		var body struct {
			Rows []subKeyRow `json:"rows"`
		}
		r.get(t, pathSubKeys, url.Values{"email": {email}}, &body)
		for _, row := range body.Rows {
			out = append(out, row.APIKey)
		}
	}
	return out
}

// testEnv is the executors' Env in emulator tests. Without keep-alive no
// connection is left half-open when a test's emulator shuts down (which
// would hold its Close for its 2 s grace period).
func testEnv() executors.Env {
	return executors.Env{Transport: &http.Transport{DisableKeepAlives: true}}.Defaults()
}

// harness adapts the emulator to the conformance suite.
type harness struct {
	cur *emuRun
}

func (h *harness) New(t *testing.T) (executors.Executor, executors.Account) {
	t.Helper()
	h.cur = startEmulator(t, "conformance.yaml", confMasterKey, confMasterSecret, "hmac")
	e, err := Driver().New(h.cur.acct, testEnv())
	if err != nil {
		t.Fatalf("new executor: %v", err)
	}
	return e, h.cur.acct
}

func (h *harness) OpenOrders(t *testing.T) int   { return h.cur.openOrders(t) }
func (h *harness) SubKeys(t *testing.T) []string { return h.cur.subKeys(t) }
func (h *harness) Mutations(t *testing.T) int    { return h.cur.mutations() }
func (h *harness) Capabilities() executortest.Caps {
	return executortest.Caps{
		Products:       []string{executors.ProductSpot, executors.ProductMargin, executors.ProductIsolatedMargin, executors.ProductUSDM, executors.ProductCoinM},
		RevokeMethods:  []string{"delete", "ip_lock", "strip_permissions"},
		DeadMan:        true,
		ClosePositions: true,
		Sweep:          true,
	}
}

func TestConformance(t *testing.T) {
	executortest.Run(t, &harness{})
}
