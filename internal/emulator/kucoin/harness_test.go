package kucoin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	kucoin "github.com/Kucoin/kucoin-go-sdk"
	"go.yaml.in/yaml/v3"

	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

// harness mounts both venues the way the core does (prefix stripped, a
// log entry per request) on a real loopback server.
type harness struct {
	t     *testing.T
	srv   *httptest.Server
	clock *emu.Clock
	spot  *Venue
	mu    sync.Mutex
	log   []*emu.Entry
	// signSkew moves the timestamp raw requests sign with (to follow a
	// skewed emulator clock).
	signSkew time.Duration
}

func testdataPath(name string) string {
	return filepath.Join("..", "..", "..", "testdata", "emulator", name)
}

func loadFile(t testing.TB, name string, clock *emu.Clock) []emu.Venue {
	t.Helper()
	file := testdataPath(name)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	vs, err := Load(file, &doc, emu.Env{Clock: clock})
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return vs
}

func newHarness(t testing.TB, state string) *harness {
	clock := emu.NewClock(nil)
	return mountHarness(t, clock, loadFile(t, state, clock))
}

// newHarnessYAML loads a state written inline in a test.
func newHarnessYAML(t testing.TB, state string) *harness {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(state), &doc); err != nil {
		t.Fatal(err)
	}
	clock := emu.NewClock(nil)
	vs, err := Load("inline.yaml", &doc, emu.Env{Clock: clock})
	if err != nil {
		t.Fatalf("load inline state: %v", err)
	}
	return mountHarness(t, clock, vs)
}

func mountHarness(t testing.TB, clock *emu.Clock, vs []emu.Venue) *harness {
	h := &harness{clock: clock}
	if tt, ok := t.(*testing.T); ok {
		h.t = tt
	}
	mux := http.NewServeMux()
	for _, v := range vs {
		prefix := "/" + v.Name()
		inner := http.StripPrefix(prefix, v.Handler())
		mux.Handle(prefix+"/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			e := &emu.Entry{Venue: v.Name(), Method: r.Method, Path: strings.TrimPrefix(r.URL.Path, prefix)}
			h.mu.Lock()
			h.log = append(h.log, e)
			h.mu.Unlock()
			inner.ServeHTTP(w, r.WithContext(emu.WithEntry(r.Context(), e)))
		}))
		if sv, ok := v.(*Venue); ok && sv.Name() == SpotName {
			h.spot = sv
		}
	}
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	return h
}

func (h *harness) lastEntry() emu.Entry {
	h.mu.Lock()
	defer h.mu.Unlock()
	return *h.log[len(h.log)-1]
}

// v3Requester is how a client sends KC-API-KEY-VERSION: 3 with the
// unmodified SDK (its signer always says 2).
type v3Requester struct{ kucoin.BasicRequester }

func (r *v3Requester) Request(ctx context.Context, req *kucoin.Request, timeout time.Duration) (*kucoin.Response, error) {
	req.Header.Set("KC-API-KEY-VERSION", "3")
	return r.BasicRequester.Request(ctx, req, timeout)
}

type creds struct {
	key, secret, pass string
	version           int
}

var (
	masterV3 = creds{"k-master-v3", "s-master-v3", "pm3", 3}
	masterV1 = creds{"k-master-v1", "s-master-v1", "pm1", 1}
	locked   = creds{"k-master-locked", "s-master-locked", "plocked", 3}
	sub1     = creds{"k-sub1", "s-sub1", "p@ss word!", 3}
	sub2V2   = creds{"k-sub2-v2", "s-sub2", "p-sub2", 2}
)

// client returns an unmodified-SDK client for venue ("kucoin" or
// "kucoin-futures").
func (h *harness) client(venue string, c creds) *kucoin.ApiService {
	opts := []kucoin.ApiServiceOption{
		kucoin.ApiBaseURIOption(h.srv.URL + "/" + venue),
		kucoin.ApiKeyOption(c.key), kucoin.ApiSecretOption(c.secret), kucoin.ApiPassPhraseOption(c.pass),
	}
	switch c.version {
	case 2:
		opts = append(opts, kucoin.ApiKeyVersionOption(kucoin.ApiKeyVersionV2))
	case 3:
		opts = append(opts, kucoin.ApiKeyVersionOption(kucoin.ApiKeyVersionV2), kucoin.ApiRequesterOption(&v3Requester{}))
	}
	return kucoin.NewApiService(opts...)
}

// mustOK asserts an SDK response is HTTP 200 with code 200000 and decodes
// data into v (if not nil).
func mustOK(t *testing.T, rsp *kucoin.ApiResponse, err error, v any) {
	t.Helper()
	if err != nil {
		t.Fatalf("call failed: %v", err)
	}
	if rsp == nil {
		t.Fatal("got nil response (SDK recovered a panic)")
	}
	if !rsp.HttpSuccessful() || rsp.Code != "200000" {
		t.Fatalf("got code %s (%s), want 200000", rsp.Code, rsp.Message)
	}
	if v != nil {
		if err := rsp.ReadData(v); err != nil {
			t.Fatalf("read data: %v", err)
		}
	}
}

func wantCode(t *testing.T, rsp *kucoin.ApiResponse, err error, code string) {
	t.Helper()
	if err != nil {
		t.Fatalf("call failed: %v", err)
	}
	if rsp == nil {
		t.Fatal("got nil response")
	}
	if rsp.Code != code {
		t.Fatalf("got code %s (%s), want %s", rsp.Code, rsp.Message, code)
	}
}

// call sends a hand-built request through the SDK's own NewRequest+Call.
func sdkCall(svc *kucoin.ApiService, method, path string, params any) (*kucoin.ApiResponse, error) {
	return svc.Call(context.Background(), kucoin.NewRequest(method, path, params))
}

// raw sends a request signed by hand: sigQuery is the query string that goes
// into the prehash (nil: same as sent).
func (h *harness) raw(t *testing.T, c creds, method, path, rawQuery string, sigQuery *string, body string) (*http.Response, map[string]any) {
	t.Helper()
	return h.rawOn(t, SpotName, c, method, path, rawQuery, sigQuery, body)
}

// rawOn is raw on venue ("kucoin" or "kucoin-futures").
func (h *harness) rawOn(t *testing.T, venue string, c creds, method, path, rawQuery string, sigQuery *string, body string) (*http.Response, map[string]any) {
	t.Helper()
	u := h.srv.URL + "/" + venue + path
	sq := rawQuery
	if sigQuery != nil {
		sq = *sigQuery
	}
	if rawQuery != "" {
		u += "?" + rawQuery
	}
	pre := path
	if sq != "" {
		pre += "?" + sq
	}
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Now().Add(h.signSkew).UnixMilli()
	tsS := itoa(ts)
	req.Header.Set("KC-API-KEY", c.key)
	req.Header.Set("KC-API-TIMESTAMP", tsS)
	req.Header.Set("KC-API-SIGN", hmacB64(c.secret, tsS+method+pre+body))
	if c.version >= 2 {
		req.Header.Set("KC-API-PASSPHRASE", hmacB64(c.secret, c.pass))
		req.Header.Set("KC-API-KEY-VERSION", itoa(int64(c.version)))
	} else {
		req.Header.Set("KC-API-PASSPHRASE", c.pass)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("decode body: %v", err)
	}
	return resp, m
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }
