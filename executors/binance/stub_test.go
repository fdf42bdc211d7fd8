package binance

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// stub is a tiny Binance stand-in for unit tests of single workarounds: it
// answers the routes a test gives it with the documented bodies, checks
// HMAC signatures exactly as the venue does (raw query minus signature,
// plus raw body) and records every request.
type stub struct {
	t      *testing.T
	key    string
	secret string
	srv    *httptest.Server

	mu     sync.Mutex
	routes map[string]http.HandlerFunc
	reqs   []stubReq
}

type stubReq struct {
	Method, Path, Query, Body string
	Params                    url.Values
}

const (
	stubKey    = "stubAPIKey0123456789abcdef"
	stubSecret = "stubSecret0123456789"
)

func newStub(t *testing.T) *stub {
	t.Helper()
	s := &stub{t: t, key: stubKey, secret: stubSecret, routes: map[string]http.HandlerFunc{}}
	s.handle("GET /api/v3/time", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]int64{"serverTime": time.Now().UnixMilli()})
	})
	s.srv = httptest.NewServer(s)
	t.Cleanup(s.srv.Close)
	return s
}

func (s *stub) handle(route string, h http.HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.routes[route] = h
}

// json answers route with status and body.
func (s *stub) json(route string, status int, body string) {
	s.handle(route, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *stub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	body := string(raw)
	params, _ := url.ParseQuery(r.URL.RawQuery)
	if form, err := url.ParseQuery(body); err == nil {
		for k, v := range form {
			if _, ok := params[k]; !ok {
				params[k] = v
			}
		}
	}
	if sig := params.Get("signature"); sig != "" {
		q := r.URL.RawQuery
		i := strings.Index(q, "&signature=")
		if i < 0 || r.Header.Get("X-MBX-APIKEY") != s.key {
			writeJSON(w, 401, map[string]any{"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."})
			return
		}
		mac := hmac.New(sha256.New, []byte(s.secret))
		mac.Write([]byte(q[:i] + body))
		if !strings.EqualFold(hex.EncodeToString(mac.Sum(nil)), sig) {
			writeJSON(w, 400, map[string]any{"code": -1022, "msg": "Signature for this request is not valid."})
			return
		}
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, stubReq{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: body, Params: params})
	h := s.routes[r.Method+" "+r.URL.Path]
	s.mu.Unlock()
	if h == nil {
		writeJSON(w, 404, map[string]any{"code": -1000, "msg": "stub: no route " + r.Method + " " + r.URL.Path})
		return
	}
	h(w, r.WithContext(context.WithValue(r.Context(), stubParamsKey{}, params)))
}

type stubParamsKey struct{}

// stubParams returns the request's parameters (query, then form body).
func stubParams(r *http.Request) url.Values {
	p, _ := r.Context().Value(stubParamsKey{}).(url.Values)
	return p
}

// requests returns the recorded requests to path (any method when method
// is "").
func (s *stub) requests(method, path string) []stubReq {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []stubReq
	for _, r := range s.reqs {
		if r.Path == path && (method == "" || r.Method == method) {
			out = append(out, r)
		}
	}
	return out
}

// executor returns an executor for the stub's account.
func (s *stub) executor(t *testing.T) *Executor {
	t.Helper()
	e, err := New(executors.Account{Name: "stub", Exchange: "binance", APIKey: secret.New(s.key), Secret: secret.New(s.secret), BaseURL: s.srv.URL}, executors.Env{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

func permJSON(spotTrade, futures bool) string {
	return fmt.Sprintf(`{"ipRestrict":true,"createTime":1698645219000,"enableReading":true,"enableWithdrawals":false,
"enableInternalTransfer":true,"permitsUniversalTransfer":true,"enableMargin":false,"enableFutures":%t,
"enableVanillaOptions":false,"enableSpotAndMarginTrading":%t,"tradingAuthorityExpirationTime":0}`, futures, spotTrade)
}
