// Package emulator is the local exchange emulator's core: one HTTP listener
// with every venue mounted under its own path prefix (/binance, /kucoin,
// /kucoin-futures), a request log, injected latency and faults, the admin
// endpoints under /_emulator/, and loading of the YAML state that the
// venues (subpackages binance and kucoin) are built from.
//
// The venues speak the real wire protocol; this package knows nothing about
// any exchange except the shape of an injected 5xx body.
package emulator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/panicbutton/panicbutton/internal/emulator/attacker"
	"github.com/panicbutton/panicbutton/internal/emulator/emu"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// Config configures the emulator.
type Config struct {
	// Loaders maps a top-level state key to the loader of its venues
	// ("binance" -> binance.Load, "kucoin" -> kucoin.Load).
	Loaders map[string]emu.Loader
	// Latency and Jitter are the initial fault latency (see Faults).
	Latency, Jitter time.Duration
	// Faults is the rest of the initial fault configuration; Latency and
	// Jitter above win when set. POST /_emulator/reset returns to it.
	Faults Faults
	// Now is the base clock (nil: time.Now).
	Now func() time.Time
	// Clock, if set, is the emulator clock shared by the venues and the
	// server. LoadState and New create one from Now when it is nil (the
	// venues returned by LoadState carry theirs to New).
	Clock  *emu.Clock
	Logger *slog.Logger
}

func (c Config) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

func (c Config) initialFaults() Faults {
	f := c.Faults
	if c.Latency != 0 {
		f.Latency = Duration(c.Latency)
	}
	if c.Jitter != 0 {
		f.Jitter = Duration(c.Jitter)
	}
	return f
}

// Server is a running (or ready to run) emulator.
type Server struct {
	cfg     Config
	clock   *emu.Clock
	log     *slog.Logger
	venues  []emu.Venue
	handler http.Handler

	mu       sync.Mutex
	faults   Faults
	initial  Faults
	rng      *rand.Rand
	hangLeft int // remaining hangs when Hang.Count > 0
	// edge is each client IP's recent KuCoin requests and block
	// (Faults.Edge).
	edge     map[string]*edgeIP
	script   []ScriptFault
	requests []emu.Entry
	seq      int64

	httpSrv  *http.Server
	connMu   sync.Mutex
	fresh    map[net.Conn]struct{} // connections without a request yet (trackConn)
	listener net.Listener
	base     string // "http://127.0.0.1:PORT" once listening
	closing  chan struct{}

	// scripted attackers (attackers.go)
	attackMu    sync.Mutex
	attackers   map[string]*attacker.Attacker
	attackOrder []string
	attackToken string
}

// New returns a server over venues. The venues' clock (when they came from
// LoadState) becomes the server's clock, so that skew faults move both.
func New(cfg Config, venues []emu.Venue) *Server {
	clock := cfg.Clock
	if clock == nil {
		for _, v := range venues {
			if lv, ok := v.(*loadedVenue); ok && lv.clock != nil {
				clock = lv.clock
				break
			}
		}
	}
	if clock == nil {
		clock = emu.NewClock(cfg.Now)
	}
	s := &Server{
		cfg:     cfg,
		clock:   clock,
		log:     cfg.logger(),
		venues:  append([]emu.Venue(nil), venues...),
		closing: make(chan struct{}),

		attackers:   map[string]*attacker.Attacker{},
		attackToken: newAttackToken(),
	}
	s.initial = cfg.initialFaults()
	s.SetFaults(s.initial)
	mux := http.NewServeMux()
	mux.Handle("/_emulator/", s.adminHandler())
	sorted := append([]emu.Venue(nil), venues...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name() < sorted[j].Name() })
	for _, v := range sorted {
		prefix := "/" + v.Name()
		h := s.venueMiddleware(v.Name(), http.StripPrefix(prefix, v.Handler()))
		mux.Handle(prefix+"/", h)
	}
	s.handler = mux
	return s
}

// Handler returns the emulator's HTTP handler (venues and admin).
func (s *Server) Handler() http.Handler { return s.handler }

// Clock returns the emulator clock.
func (s *Server) Clock() *emu.Clock { return s.clock }

// Venues returns the mounted venues.
func (s *Server) Venues() []emu.Venue { return append([]emu.Venue(nil), s.venues...) }

// Start listens on addr (default 127.0.0.1:0), which must be a loopback
// address, serves in the background and returns the base URL
// ("http://127.0.0.1:PORT").
func (s *Server) Start(addr string) (string, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("emulator address %q: %w", addr, err)
	}
	if !isLoopbackHost(host) {
		return "", fmt.Errorf("emulator address %q: refusing to listen on a non-loopback address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listen on %s: %w", addr, err)
	}
	s.mu.Lock()
	s.listener = ln
	s.base = "http://" + ln.Addr().String()
	s.httpSrv = &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, ConnState: s.trackConn,
		ConnContext: func(ctx context.Context, _ net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, time.Now())
		}}
	srv := s.httpSrv
	s.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("emulator server stopped", "err", err)
		}
	}()
	return "http://" + ln.Addr().String(), nil
}

// Close stops the server (and every attacker), releasing hanging requests.
func (s *Server) Close() error {
	s.StopAttackers()
	s.mu.Lock()
	srv := s.httpSrv
	select {
	case <-s.closing:
	default:
		close(s.closing)
	}
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	// A connection a client dialled but never used (its transport found an
	// idle one first) stays "new" to the server, and Shutdown waits for
	// such connections for seconds: close them now, they carry no request.
	s.connMu.Lock()
	for c := range s.fresh {
		_ = c.Close()
	}
	s.connMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
	}
	return nil
}

// trackConn remembers the connections that have not carried a request yet.
func (s *Server) trackConn(c net.Conn, st http.ConnState) {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if st == http.StateNew {
		if s.fresh == nil {
			s.fresh = map[net.Conn]struct{}{}
		}
		s.fresh[c] = struct{}{}
		return
	}
	delete(s.fresh, c)
}

// connKey carries, in a request's context, when its connection was
// accepted (Faults.Handshake).
type connKey struct{}

// connOpened returns when r's connection was accepted (zero if unknown).
func connOpened(r *http.Request) time.Time {
	t, _ := r.Context().Value(connKey{}).(time.Time)
	return t
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Requests returns a copy of the request log.
func (s *Server) Requests() []emu.Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]emu.Entry(nil), s.requests...)
}

// SetFaults replaces the fault configuration (and sets the clock skew).
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setFaultsLocked(f)
}

func (s *Server) setFaultsLocked(f Faults) {
	f.Down = append([]string(nil), f.Down...)
	f.Script = append([]ScriptFault(nil), f.Script...)
	if f.Hang != nil {
		h := *f.Hang
		f.Hang = &h
		s.hangLeft = h.Count
	}
	if f.Edge != nil {
		e := *f.Edge
		f.Edge = &e
	}
	s.faults = f
	s.edge = nil // every IP starts afresh under the new edge
	s.script = append([]ScriptFault(nil), f.Script...)
	for i := range s.script {
		if s.script[i].Count == 0 {
			s.script[i].Count = 1
		}
	}
	seed := f.Seed
	if seed == 0 {
		seed = 0x5eed
	}
	s.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s.clock.SetSkew(time.Duration(f.Skew))
}

// Faults returns the current fault configuration; Script holds what is left
// of each scripted entry.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faults
	f.Script = nil
	for _, sc := range s.script {
		if sc.Count > 0 {
			f.Script = append(f.Script, sc)
		}
	}
	if f.Hang != nil {
		h := *f.Hang
		if h.Count > 0 {
			h.Count = s.hangLeft
		}
		f.Hang = &h
	}
	return f
}

// Reset restores every venue's loaded state, clears the request log and
// DeleteKey deletes an API key on whichever venue knows it, as the
// exchange's web UI would (see emu.KeyDeleter). It reports whether a venue
// had the key.
func (s *Server) DeleteKey(apiKey string) bool {
	for _, v := range s.venues {
		if d, ok := Unwrap(v).(emu.KeyDeleter); ok && d.DeleteKey(apiKey) {
			return true
		}
	}
	return false
}

// returns the faults to the initial configuration.
func (s *Server) Reset() {
	for _, v := range s.venues {
		v.Reset()
	}
	s.mu.Lock()
	s.requests = nil
	s.setFaultsLocked(s.initial)
	s.mu.Unlock()
}

// decision is what the fault layer decided for one request.
type decision struct {
	down   bool
	hang   bool
	edge   bool // Faults.Edge: the client's IP is blocked
	fail   bool // error_rate
	script *ScriptFault
	delay  time.Duration
}

// decide draws what happens to one venue request; opened: when its
// connection was accepted (Faults.Handshake: a connection carries nothing
// until its handshake is over, zero if unknown); ip is the client's address ("" for
// the scripted attacker's requests, which the edge does not count).
func (s *Server) decide(venue, method, path string, opened time.Time, ip string) decision {
	s.mu.Lock()
	defer s.mu.Unlock()
	var d decision
	f := s.faults
	d.delay = time.Duration(f.Latency)
	if f.Handshake > 0 && !opened.IsZero() {
		d.delay += max(0, time.Until(opened.Add(time.Duration(f.Handshake))))
	}
	if f.Jitter > 0 {
		d.delay += time.Duration(s.rng.Int64N(int64(f.Jitter)))
	}
	if f.isDown(venue) {
		d.down = true
		return d
	}
	if f.Edge != nil && ip != "" && strings.HasPrefix(venue, "kucoin") && s.edgeBlocks(ip, *f.Edge) {
		d.edge = true
		return d
	}
	if h := f.Hang; h != nil && matches(venue, method, path, h.Venue, h.Method, h.Path) {
		if h.Count == 0 {
			d.hang = true
			return d
		}
		if s.hangLeft > 0 {
			s.hangLeft--
			d.hang = true
			return d
		}
	}
	for i := range s.script {
		sc := &s.script[i]
		if sc.Count > 0 && matches(venue, method, path, sc.Venue, sc.Method, sc.Path) {
			sc.Count--
			cp := *sc
			d.script = &cp
			return d
		}
	}
	if f.ErrorRate > 0 && s.rng.Float64() < f.ErrorRate {
		d.fail = true
	}
	return d
}

// edgeIP is one client IP's requests within the edge's window, and the
// end of its block.
type edgeIP struct {
	recent       []time.Time
	blockedUntil time.Time
}

// edgeBlocks counts a request of ip against the edge limit f and reports
// whether it is answered with a block. Callers hold s.mu.
func (s *Server) edgeBlocks(ip string, f EdgeFault) bool {
	now := time.Now()
	if s.edge == nil {
		s.edge = map[string]*edgeIP{} // set afresh by SetFaults
	}
	st := s.edge[ip]
	if st == nil {
		st = &edgeIP{}
		s.edge[ip] = st
	}
	if now.Before(st.blockedUntil) {
		return true
	}
	keep := st.recent[:0]
	for _, t := range st.recent {
		if now.Sub(t) < time.Duration(f.Window) {
			keep = append(keep, t)
		}
	}
	st.recent = append(keep, now)
	if len(st.recent) <= f.Limit {
		return false
	}
	st.blockedUntil = now.Add(time.Duration(f.Block))
	st.recent = st.recent[:0]
	return true
}

// MaxLogEntries bounds the request log: past it, the oldest half is
// dropped (sequence numbers keep counting).
const MaxLogEntries = 200000

func (s *Server) record(e *emu.Entry) {
	s.mu.Lock()
	s.seq++
	e.Seq = s.seq
	if len(s.requests) >= MaxLogEntries {
		s.requests = append([]emu.Entry(nil), s.requests[len(s.requests)/2:]...)
	}
	s.requests = append(s.requests, *e)
	s.mu.Unlock()
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// bufferWriter captures a response (for scripted faults with After).
type bufferWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *bufferWriter) Header() http.Header { return w.header }
func (w *bufferWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *bufferWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}

func (s *Server) venueMiddleware(venue string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		path := strings.TrimPrefix(r.URL.Path, "/"+venue)
		if path == "" {
			path = "/"
		}
		e := &emu.Entry{
			Time:   s.clock.Now(),
			Venue:  venue,
			Method: r.Method,
			Path:   path,
			Query:  redactQuery(r.URL.RawQuery),
			Kind:   emu.KindPublic,
		}
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			e.Status = sw.status
			if e.Status == 0 {
				e.Status = http.StatusOK
			}
			e.Duration = time.Since(start)
			s.markAttacker(r, e)
			s.record(e)
		}()
		ip := ""
		if !s.fromAttacker(r) {
			ip = emu.RemoteIP(r)
		}
		d := s.decide(venue, r.Method, path, connOpened(r), ip)
		if d.delay > 0 {
			t := time.NewTimer(d.delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				e.Fault = "latency: client gave up"
				sw.status = 499
				return
			case <-s.closing:
				t.Stop()
			}
		}
		switch {
		case d.down:
			e.Fault = "down"
			writeRaw(sw, http.StatusServiceUnavailable, errorBody(venue, http.StatusServiceUnavailable), nil)
			return
		case d.edge:
			e.Fault = "edge: 1015"
			sw.Header().Set("Content-Type", "text/html; charset=UTF-8")
			writeRaw(sw, http.StatusTooManyRequests, EdgeBody, nil)
			return
		case d.hang:
			e.Fault = "hang"
			select {
			case <-r.Context().Done():
			case <-s.closing:
			}
			sw.status = 499
			return
		case d.script != nil && !d.script.After:
			e.Fault = fmt.Sprintf("script: %d", d.script.Status)
			writeRaw(sw, d.script.Status, d.script.Body, d.script.Headers)
			return
		case d.fail:
			e.Fault = "error_rate: 500"
			writeRaw(sw, http.StatusInternalServerError, errorBody(venue, http.StatusInternalServerError), nil)
			return
		}
		r = r.WithContext(emu.WithEntry(r.Context(), e))
		if d.script != nil {
			bw := &bufferWriter{header: http.Header{}}
			next.ServeHTTP(bw, r)
			e.Fault = fmt.Sprintf("script after handling (venue answered %d): %d", bw.status, d.script.Status)
			for k, v := range bw.header {
				if strings.HasPrefix(strings.ToLower(k), "x-") {
					sw.Header()[k] = v
				}
			}
			writeRaw(sw, d.script.Status, d.script.Body, d.script.Headers)
			return
		}
		next.ServeHTTP(sw, r)
	})
}

func writeRaw(w http.ResponseWriter, status int, body string, headers map[string]string) {
	if body != "" && (strings.HasPrefix(body, "{") || strings.HasPrefix(body, "[")) {
		w.Header().Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		w.Header().Set(k, v)
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// redactQuery is raw with the value of every credential parameter replaced
// by secret.Redacted, the way the executors' observers see requests: the
// KuCoin sub-key passphrase (DELETE /api/v1/sub/api-key sends it in the
// query), Binance's signature, and any other passphrase, secret or
// signature parameter. Everything else stays as sent, in order, so the log
// still shows what the client asked for. Headers and bodies are never
// logged.
func redactQuery(raw string) string {
	if raw == "" {
		return raw
	}
	parts := strings.Split(raw, "&")
	changed := false
	for i, p := range parts {
		name, _, hasValue := strings.Cut(p, "=")
		if dec, err := url.QueryUnescape(name); err == nil {
			name = dec
		}
		if !hasValue && name == "" {
			continue
		}
		if credentialParam(name) {
			parts[i] = url.QueryEscape(name) + "=" + url.QueryEscape(secret.Redacted)
			changed = true
		}
	}
	if !changed {
		return raw
	}
	return strings.Join(parts, "&")
}

// credentialParam reports whether a query parameter carries a credential.
func credentialParam(name string) bool {
	n := strings.ToLower(name)
	return n == "sign" || strings.Contains(n, "passphrase") || strings.Contains(n, "secret") ||
		strings.Contains(n, "signature")
}
