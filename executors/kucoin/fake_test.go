package kucoin

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// Test credentials of the fake venue.
const (
	testKey        = "6650aaaabbbbccccdddd0001"
	testSecret     = "test-secret-0001"
	testPassphrase = "test-pass-0001"
)

// seen is one request the fake received.
type seen struct {
	Method, Path, RawQuery string
	Futures                bool // sent to the futures base URL (/futures prefix, stripped)
	Query                  url.Values
	Header                 http.Header
	Body                   string
}

// fakeVenue is a tiny KuCoin double: it checks every signed request the
// documented way (decoded query in the prehash, ±5 s clock window, key
// version and passphrase form) and answers from per-route handlers.
type fakeVenue struct {
	t       *testing.T
	srv     *httptest.Server
	version int           // expected key version (1, 2, 3)
	skew    time.Duration // venue clock minus real clock

	mu       sync.Mutex
	reqs     []seen
	routes   map[string]func(r seen) (int, any)
	headers  http.Header // extra response headers on every response
	timeHits int
}

func newFakeVenue(t *testing.T, version int) *fakeVenue {
	t.Helper()
	f := &fakeVenue{t: t, version: version, routes: map[string]func(seen) (int, any){}, headers: http.Header{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// handle registers a route ("GET /api/v1/accounts", futures host: "F GET
// /api/v1/positions"); the handler returns
// the HTTP status and the whole envelope.
func (f *fakeVenue) handle(route string, h func(r seen) (int, any)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[route] = h
}

// ok is a success envelope.
func ok(data any) (int, any) { return http.StatusOK, map[string]any{"code": "200000", "data": data} }

// fail is an error envelope.
func fail(status int, code, msg string) (int, any) {
	return status, map[string]any{"code": code, "msg": msg}
}

func (f *fakeVenue) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return time.Now().Add(f.skew)
}

func (f *fakeVenue) setSkew(d time.Duration) {
	f.mu.Lock()
	f.skew = d
	f.mu.Unlock()
}

// times is how many server-time requests the venue answered.
func (f *fakeVenue) times() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.timeHits
}

func (f *fakeVenue) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.reqs...)
}

func (f *fakeVenue) count(method, path string) int {
	n := 0
	for _, r := range f.requests() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

func mac(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func (f *fakeVenue) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s := seen{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Query: r.URL.Query(), Header: r.Header.Clone(), Body: string(body)}
	route := r.Method + " " + r.URL.Path
	if p, ok := strings.CutPrefix(r.URL.Path, "/futures"); ok {
		s.Path, s.Futures = p, true
		route = "F " + r.Method + " " + p
	}
	write := func(status int, v any) {
		f.mu.Lock()
		for k, vs := range f.headers {
			w.Header()[k] = vs
		}
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if b, ok := v.([]byte); ok {
			_, _ = w.Write(b)
			return
		}
		_ = json.NewEncoder(w).Encode(v)
	}
	if s.Path == "/api/v1/timestamp" {
		f.mu.Lock()
		f.timeHits++
		f.mu.Unlock()
		write(ok(f.now().UnixMilli()))
		return
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, s)
	h := f.routes[route]
	f.mu.Unlock()
	if status, v, bad := f.checkAuth(s); bad {
		write(status, v)
		return
	}
	if h == nil {
		write(fail(http.StatusNotFound, "404000", "no route "+route))
		return
	}
	write(h(s))
}

// checkAuth verifies the KC-API-* headers the documented way.
func (f *fakeVenue) checkAuth(s seen) (int, any, bool) {
	h := s.Header
	if h.Get("KC-API-KEY") != testKey {
		st, v := fail(http.StatusUnauthorized, "400003", "KC-API-KEY not exists")
		return st, v, true
	}
	ts, err := strconv.ParseInt(h.Get("KC-API-TIMESTAMP"), 10, 64)
	if err != nil || absDur(time.UnixMilli(ts).Sub(f.now())) > 5*time.Second {
		st, v := fail(http.StatusUnauthorized, "400002", "KC-API-TIMESTAMP Invalid")
		return st, v, true
	}
	wantVersion, wantPass := "", testPassphrase
	if f.version != 1 {
		wantVersion, wantPass = strconv.Itoa(f.version), mac(testSecret, testPassphrase)
	}
	if h.Get("KC-API-KEY-VERSION") != wantVersion {
		st, v := fail(http.StatusUnauthorized, "400009", "Invalid KC-API-KEY-VERSION")
		return st, v, true
	}
	if h.Get("KC-API-PASSPHRASE") != wantPass {
		st, v := fail(http.StatusUnauthorized, "400004", "Invalid KC-API-PASSPHRASE")
		return st, v, true
	}
	path := s.Path
	if s.RawQuery != "" {
		dq, err := url.QueryUnescape(s.RawQuery)
		if err != nil {
			dq = s.RawQuery
		}
		path += "?" + dq
	}
	if h.Get("KC-API-SIGN") != mac(testSecret, h.Get("KC-API-TIMESTAMP")+s.Method+path+s.Body) {
		st, v := fail(http.StatusUnauthorized, "400005", "Invalid KC-API-SIGN")
		return st, v, true
	}
	return 0, nil, false
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// sleeps records the pauses an executor asked for, without sleeping.
type sleeps struct {
	mu sync.Mutex
	ds []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.ds = append(s.ds, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.ds...)
}

// testAccount is a master account on the fake venue.
func (f *fakeVenue) account(subKeys ...executors.SubKey) executors.Account {
	return executors.Account{Name: "kc-test", Exchange: Exchange, APIKey: secret.New(testKey), Secret: secret.New(testSecret),
		Passphrase: secret.New(testPassphrase), KeyVersion: f.version, BaseURL: f.srv.URL, FuturesBaseURL: f.srv.URL + "/futures",
		SubKeys: subKeys}
}

func (f *fakeVenue) executor(t *testing.T, env executors.Env, subKeys ...executors.SubKey) *Executor {
	t.Helper()
	x, err := New(f.account(subKeys...), env)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return x
}

func req(action string, p executors.Params, hooks executors.Hooks) executors.Request {
	return executors.Request{Action: action, Step: "test", Params: executors.WithDefaults(action, p), Hooks: hooks}
}

func mustJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("body %q: %v", s, err)
	}
	return m
}

func fmtKeys(m map[string]any) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return fmt.Sprint(ks)
}
