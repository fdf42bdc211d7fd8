package connwarm

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type acceptedKey struct{}

// server answers every request after hold, counting the connections it
// accepted and the requests served on a connection accepted after late
// (zero: none counted).
type server struct {
	*httptest.Server
	accepted atomic.Int64
	mu       sync.Mutex
	late     time.Time
	onLate   int
}

func newServer(t *testing.T, tlsMode string, hold time.Duration) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at, _ := r.Context().Value(acceptedKey{}).(time.Time)
		s.mu.Lock()
		if !s.late.IsZero() && at.After(s.late) {
			s.onLate++
		}
		s.mu.Unlock()
		time.Sleep(hold)
	}))
	s.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		s.accepted.Add(1)
		return context.WithValue(ctx, acceptedKey{}, time.Now())
	}
	switch tlsMode {
	case "":
		s.Start()
	case "http/1.1":
		s.StartTLS()
	case "h2":
		s.EnableHTTP2 = true
		s.StartTLS()
	}
	t.Cleanup(s.Close)
	return s
}

// markLate counts, from now on, requests served on connections accepted
// after now.
func (s *server) markLate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.late, s.onLate = time.Now(), 0
}

func (s *server) servedLate() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.onLate
}

func transportFor(s *server) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 512
	t.Proxy = nil
	if s.TLS != nil {
		t.TLSClientConfig = s.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	}
	return t
}

// burst sends n requests at once and waits for their answers.
func burst(t *testing.T, rt http.RoundTripper, url string, n int) []*http.Response {
	t.Helper()
	out := make([]*http.Response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			_ = resp.Body.Close()
			out[i] = resp
		})
	}
	wg.Wait()
	return out
}

// settle waits until p holds want connections for url's host with no dial
// under way.
func settle(t *testing.T, p *Pool, url string, want func(Stats) bool) Stats {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := p.Stats(req)
		if want(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("pool never settled: %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A burst twice as wide as the one before it is served entirely on
// connections opened before it started: the pool dialled them while the
// first burst was in flight. The same two bursts over the bare transport
// open connections on the second burst's path (what the test would miss
// if it measured nothing).
func TestWiderBurstFindsConnectionsDialledAhead(t *testing.T) {
	for _, mode := range []string{"", "http/1.1"} {
		name := "http"
		if mode != "" {
			name = "https"
		}
		t.Run(name, func(t *testing.T) {
			srv := newServer(t, mode, 20*time.Millisecond)
			p := New(transportFor(srv))
			t.Cleanup(p.CloseIdleConnections)

			resps := burst(t, p, srv.URL, 8)
			if mode != "" && (resps[0] == nil || resps[0].TLS == nil || resps[0].ProtoMajor != 1) {
				t.Fatalf("want HTTP/1.1 over TLS, got %+v", resps[0])
			}
			st := settle(t, p, srv.URL, func(st Stats) bool { return st.Live >= 16 && st.Queued == 8 })
			if st.HTTP2 || st.InFlight != 0 {
				t.Fatalf("stats after the first burst: %+v", st)
			}
			srv.markLate()
			burst(t, p, srv.URL, 16)
			if n := srv.servedLate(); n != 0 {
				t.Errorf("%d of 16 requests waited for a new connection", n)
			}

			bare := newServer(t, mode, 20*time.Millisecond)
			tr := transportFor(bare)
			t.Cleanup(tr.CloseIdleConnections)
			burst(t, tr, bare.URL, 8)
			bare.markLate()
			burst(t, tr, bare.URL, 16)
			if n := bare.servedLate(); n == 0 {
				t.Errorf("bare transport: no request of the wider burst on a new connection")
			}
		})
	}
}

// A spare nobody asks for is closed after MaxAge; the transport's idle
// connections stay (they are its to close).
func TestUnusedSparesAreClosed(t *testing.T) {
	srv := newServer(t, "", 10*time.Millisecond)
	p := New(transportFor(srv))
	p.maxAge = 50 * time.Millisecond
	t.Cleanup(p.CloseIdleConnections)
	burst(t, p, srv.URL, 4)
	st := settle(t, p, srv.URL, func(st Stats) bool { return st.Live == 4 && st.Queued == 0 })
	if st.InFlight != 0 {
		t.Fatalf("stats: %+v", st)
	}
	if got := srv.accepted.Load(); got != 8 {
		t.Errorf("server accepted %d connections, want 8 (4 used, 4 spares)", got)
	}
}

// A spare the server closed while it waited is not handed to the
// transport: a request written to it would fail, not be retried (the
// transport retries only on connections it had used).
func TestSpareClosedByTheServerIsNotUsed(t *testing.T) {
	for _, mode := range []string{"", "http/1.1"} {
		t.Run(map[string]string{"": "http", "http/1.1": "https"}[mode], func(t *testing.T) {
			srv := newServer(t, mode, 10*time.Millisecond)
			p := New(transportFor(srv))
			t.Cleanup(p.CloseIdleConnections)
			burst(t, p, srv.URL, 4)
			settle(t, p, srv.URL, func(st Stats) bool { return st.Live == 8 && st.Queued == 4 })
			srv.CloseClientConnections()                                       // idle ones and spares alike
			settle(t, p, srv.URL, func(st Stats) bool { return st.Live == 4 }) // the transport drops its own
			burst(t, p, srv.URL, 8)                                            // errors are the test's failures
			if st := settle(t, p, srv.URL, func(st Stats) bool { return st.InFlight == 0 }); st.Live < 8 {
				t.Errorf("stats after the burst: %+v", st)
			}
		})
	}
}

// A host that negotiates HTTP/2 carries every request on its connection
// and is not warmed: the pool keeps HTTP/2 working (the transport sees the
// *tls.Conn) and dials nothing ahead of a second burst.
func TestHTTP2HostIsNotWarmed(t *testing.T) {
	srv := newServer(t, "h2", 10*time.Millisecond)
	tr := transportFor(srv)
	tr.TLSClientConfig.NextProtos = nil // as a venue client's: the pool offers h2
	p := New(tr)
	t.Cleanup(p.CloseIdleConnections)
	resps := burst(t, p, srv.URL, 8)
	for i, r := range resps {
		if r != nil && (r.ProtoMajor != 2 || r.TLS == nil) {
			t.Fatalf("response %d: %s, TLS %v: want HTTP/2 over TLS", i, r.Proto, r.TLS != nil)
		}
	}
	st := settle(t, p, srv.URL, func(st Stats) bool { return st.Queued == 0 })
	if !st.HTTP2 {
		t.Fatalf("stats: %+v, want the host known as HTTP/2", st)
	}
	burst(t, p, srv.URL, 16)
	if after := settle(t, p, srv.URL, func(st Stats) bool { return st.InFlight == 0 }); after.Warmed != st.Warmed || after.Queued != 0 {
		t.Errorf("a burst to an HTTP/2 host was warmed: %+v, before it %+v", after, st)
	}
}

// A request through a proxy is passed on untouched: the transport dials
// the proxy, not the request's host, so there is nothing to warm.
func TestProxiedRequestsAreNotWarmed(t *testing.T) {
	proxy := newServer(t, "", 0)
	tr := transportFor(proxy)
	tr.Proxy = http.ProxyURL(mustURL(t, proxy.URL))
	p := New(tr)
	t.Cleanup(p.CloseIdleConnections)
	target := "http://venue.invalid/api"
	resps := burst(t, p, target, 4)
	if resps[0] == nil || resps[0].StatusCode != http.StatusOK {
		t.Fatalf("through the proxy: %+v", resps[0])
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, h := range p.hosts {
		if k.addr == "venue.invalid:80" || h.inFlight+len(h.queue) != 0 {
			t.Errorf("the pool warmed for proxied requests: %v %+v", k, *h)
		}
	}
	if n := proxy.accepted.Load(); n > 4 {
		t.Errorf("the proxy accepted %d connections for 4 requests", n)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
