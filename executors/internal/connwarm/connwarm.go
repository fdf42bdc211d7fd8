// Package connwarm opens a host's connections before its requests need
// them (issue 12: containment near the round-trip bound).
//
// Over HTTP/1.1 a connection carries one request at a time, so a burst of
// N parallel requests needs N connections, and each one that the pool
// does not hold costs a TCP and a TLS handshake (two round trips) on that
// request's path. A freeze's cancel burst is such a burst: the listing
// before it is one request per product, the cancels one per symbol, and
// they go the moment the listing answers. Measured against the emulator
// charging handshakes (make bench, shape 1x-handshakes), the cancels that
// opened a connection answered two round trips late, and every later
// step of that account waited for them.
//
// A Pool keeps, per host, more connections than are in use: whenever a
// request starts, it dials ahead (TCP and, for https, the TLS handshake)
// until the host has as many connections as requests in flight plus a
// headroom of up to as many again (Headroom at most). A connection the
// transport then asks for is one already dialled, or being dialled (it
// waits for that rather than starting another). Spares not asked for
// within MaxAge are closed, well before a venue's keep-alive timeout.
//
// A host that negotiates HTTP/2 carries any number of requests on one
// connection: from its first such handshake the host is never warmed
// again and its spares are closed. Requests through a proxy are not
// warmed (the transport dials the proxy, not the host).
package connwarm

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Defaults of a Pool.
const (
	// Headroom caps how many connections a host is given beyond those
	// its requests in flight use.
	Headroom = 64
	// MaxConns caps a host's connections counted by the pool; past it
	// nothing is dialled ahead (the transport still dials on demand).
	MaxConns = 512
	// MaxAge is how long a spare waits to be used before it is closed.
	MaxAge = 10 * time.Second
)

// Pool is an http.RoundTripper over an *http.Transport whose dials it
// takes over (New). It is safe for concurrent use.
type Pool struct {
	base        *http.Transport
	dial        func(ctx context.Context, network, addr string) (net.Conn, error)
	tlsConfig   *tls.Config
	tlsTimeout  time.Duration
	headroom    int
	maxConns    int
	maxAge      time.Duration
	mu          sync.Mutex
	hosts       map[key]*host
	warmTimeout time.Duration
}

type key struct {
	tls  bool
	addr string // host:port, as the transport dials it
}

type host struct {
	inFlight int
	warmed   int        // dials ever started ahead
	opening  int        // dials under way (ahead or on demand)
	live     int        // open connections: in use, idle in the transport, spare
	queue    []*pending // dialled ahead and not yet handed out (oldest first)
	h2       bool       // negotiated HTTP/2: never warmed again
}

// pending is a connection dialled ahead: done is closed when c (or err)
// is set.
type pending struct {
	done chan struct{}
	c    net.Conn
	err  error
	at   time.Time // when the dial finished
}

// New returns a Pool over t, setting t's DialContext and DialTLSContext
// to the pool's (t's own DialContext, TLSClientConfig and
// TLSHandshakeTimeout are what the pool dials with). t must not be used
// by anything else from then on.
func New(t *http.Transport) *Pool {
	dial := t.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	cfg := t.TLSClientConfig
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg = cfg.Clone()
	if len(cfg.NextProtos) == 0 {
		// What the transport itself offers: HTTP/2 when it would attempt it.
		cfg.NextProtos = []string{"http/1.1"}
		if t.ForceAttemptHTTP2 {
			cfg.NextProtos = []string{"h2", "http/1.1"}
		}
	}
	tlsTimeout := t.TLSHandshakeTimeout
	if tlsTimeout <= 0 {
		tlsTimeout = 10 * time.Second
	}
	p := &Pool{base: t, dial: dial, tlsConfig: cfg, tlsTimeout: tlsTimeout,
		headroom: Headroom, maxConns: MaxConns, maxAge: MaxAge,
		hosts: map[key]*host{}, warmTimeout: 30 * time.Second}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return p.conn(ctx, key{addr: addr}, network)
	}
	t.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return p.conn(ctx, key{tls: true, addr: addr}, network)
	}
	return p
}

// RoundTrip sends req through the transport, dialling ahead for its host.
func (p *Pool) RoundTrip(req *http.Request) (*http.Response, error) {
	k, ok := p.keyOf(req)
	if !ok {
		return p.base.RoundTrip(req)
	}
	p.begin(k)
	defer p.end(k)
	return p.base.RoundTrip(req)
}

// CloseIdleConnections closes the spares and the transport's idle
// connections.
func (p *Pool) CloseIdleConnections() {
	p.mu.Lock()
	var spares []*pending
	for _, h := range p.hosts {
		spares, h.queue = h.dropDone(spares), h.pendingOnly()
	}
	p.mu.Unlock()
	closeAll(spares)
	p.base.CloseIdleConnections()
}

// Stats is what a Pool holds for one host (tests, diagnostics).
type Stats struct {
	InFlight, Live, Queued int
	Warmed                 int // dials ever started ahead
	HTTP2                  bool
}

// Stats returns what the pool holds for the host req would be sent to.
func (p *Pool) Stats(req *http.Request) Stats {
	k, _ := p.keyOf(req)
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.hosts[k]
	if h == nil {
		return Stats{}
	}
	return Stats{InFlight: h.inFlight, Live: h.live, Queued: len(h.queue), Warmed: h.warmed, HTTP2: h.h2}
}

// keyOf says which connections req will use; false when it goes through
// a proxy or is not http(s).
func (p *Pool) keyOf(req *http.Request) (key, bool) {
	var k key
	switch req.URL.Scheme {
	case "http":
	case "https":
		k.tls = true
	default:
		return k, false
	}
	if p.base.Proxy != nil {
		if u, err := p.base.Proxy(req); err != nil || u != nil {
			return k, false
		}
	}
	port := req.URL.Port()
	if port == "" {
		port = "80"
		if k.tls {
			port = "443"
		}
	}
	k.addr = net.JoinHostPort(req.URL.Hostname(), port)
	return k, true
}

func (p *Pool) host(k key) *host {
	h := p.hosts[k]
	if h == nil {
		h = &host{}
		p.hosts[k] = h
	}
	return h
}

// begin counts a request in flight and dials ahead what its host lacks.
func (p *Pool) begin(k key) {
	p.mu.Lock()
	h := p.host(k)
	h.inFlight++
	n := 0
	if !h.h2 {
		want := min(h.inFlight+min(h.inFlight, p.headroom), p.maxConns)
		n = max(0, want-h.live-h.opening)
	}
	h.opening += n
	h.warmed += n
	var started []*pending
	for range n {
		pd := &pending{done: make(chan struct{})}
		h.queue = append(h.queue, pd)
		started = append(started, pd)
	}
	p.mu.Unlock()
	for _, pd := range started {
		go p.warm(k, pd)
	}
}

func (p *Pool) end(k key) {
	p.mu.Lock()
	p.hosts[k].inFlight--
	p.mu.Unlock()
}

// warm dials pd ahead of any request for it.
func (p *Pool) warm(k key, pd *pending) {
	ctx, cancel := context.WithTimeout(context.Background(), p.warmTimeout)
	defer cancel()
	c, err := p.open(ctx, k, "tcp", true)
	p.mu.Lock()
	pd.c, pd.err, pd.at = c, err, time.Now()
	h := p.hosts[k]
	var drop []*pending
	if err != nil || h.h2 {
		// Nobody should wait on a failed dial or use a spare on an HTTP/2
		// host; one already waiting gets it and decides.
		if i := slices.Index(h.queue, pd); i >= 0 {
			h.queue = slices.Delete(h.queue, i, i+1)
			drop = append(drop, pd)
		}
	}
	close(pd.done)
	p.mu.Unlock()
	closeAll(drop)
	if err == nil && len(drop) == 0 {
		time.AfterFunc(p.maxAge, func() { p.expire(k, pd) })
	}
}

// expire closes pd if it is still a spare.
func (p *Pool) expire(k key, pd *pending) {
	p.mu.Lock()
	h := p.hosts[k]
	i := slices.Index(h.queue, pd)
	if i >= 0 {
		h.queue = slices.Delete(h.queue, i, i+1)
	}
	p.mu.Unlock()
	if i >= 0 {
		closeAll([]*pending{pd})
	}
}

// conn is the transport's dial: the oldest connection dialled ahead for
// k (waiting for it if its dial is under way), else a new one.
func (p *Pool) conn(ctx context.Context, k key, network string) (net.Conn, error) {
	for {
		p.mu.Lock()
		h := p.host(k)
		var pd *pending
		if len(h.queue) > 0 {
			pd = h.queue[0]
			h.queue = h.queue[1:]
		}
		p.mu.Unlock()
		if pd == nil {
			return p.open(ctx, k, network, false)
		}
		select {
		case <-pd.done:
		case <-ctx.Done():
			// Not wanted any more: it becomes a spare again when done.
			go p.requeue(k, pd)
			return nil, ctx.Err()
		}
		if pd.err == nil && time.Since(pd.at) < p.maxAge && alive(pd.c) {
			return pd.c, nil
		}
		closeAll([]*pending{pd})
	}
}

// probeWait is how long alive waits for a sign that a spare is closed.
const probeWait = 200 * time.Microsecond

// alive says whether c, a connection nobody has used yet, is still open.
// A server may close a connection while it waits (a keep-alive timeout,
// a restart), and a request written to it would fail: the transport
// retries only on connections it had used before. Over HTTP/1.1 a server
// sends nothing unasked, so anything read (an EOF, a byte) means c is
// not usable; a read that times out means it is (TLS records a server
// sends after the handshake, session tickets, are consumed by the read).
func alive(c net.Conn) bool {
	if err := c.SetReadDeadline(time.Now().Add(probeWait)); err != nil {
		return false
	}
	var b [1]byte
	n, err := c.Read(b[:])
	if c.SetReadDeadline(time.Time{}) != nil {
		return false
	}
	var ne net.Error
	return n == 0 && errors.As(err, &ne) && ne.Timeout()
}

// requeue puts back a connection whose waiter gave up.
func (p *Pool) requeue(k key, pd *pending) {
	<-pd.done
	if pd.err != nil {
		return
	}
	p.mu.Lock()
	h := p.hosts[k]
	ok := !h.h2
	if ok {
		h.queue = append(h.queue, pd)
	}
	p.mu.Unlock()
	if !ok {
		closeAll([]*pending{pd})
		return
	}
	time.AfterFunc(p.maxAge-time.Since(pd.at), func() { p.expire(k, pd) })
}

// open dials a new connection to k (and completes its TLS handshake),
// counted as opening (already, when counted) until the dial is over, then
// live until the connection is closed.
func (p *Pool) open(ctx context.Context, k key, network string, counted bool) (net.Conn, error) {
	if !counted {
		p.mu.Lock()
		p.host(k).opening++
		p.mu.Unlock()
	}
	raw, err := p.dial(ctx, network, k.addr)
	p.mu.Lock()
	h := p.host(k)
	h.opening--
	if err == nil {
		h.live++
	}
	p.mu.Unlock()
	if err != nil {
		return nil, err
	}
	c := &countedConn{Conn: raw, closed: func() {
		p.mu.Lock()
		p.hosts[k].live--
		p.mu.Unlock()
	}}
	if !k.tls {
		return c, nil
	}
	cfg := p.tlsConfig.Clone()
	if cfg.ServerName == "" {
		h, _, err := net.SplitHostPort(k.addr)
		if err != nil {
			h = k.addr
		}
		cfg.ServerName = h
	}
	tc := tls.Client(c, cfg)
	hctx, cancel := context.WithTimeout(ctx, p.tlsTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		_ = tc.Close()
		return nil, err
	}
	if tc.ConnectionState().NegotiatedProtocol == "h2" {
		p.http2(k)
	}
	// The transport needs the *tls.Conn itself (HTTP/2, Response.TLS).
	return tc, nil
}

// http2 marks k as an HTTP/2 host and closes its finished spares.
func (p *Pool) http2(k key) {
	p.mu.Lock()
	h := p.hosts[k]
	if h.h2 {
		p.mu.Unlock()
		return
	}
	h.h2 = true
	spares := h.dropDone(nil)
	h.queue = h.pendingOnly()
	p.mu.Unlock()
	closeAll(spares)
}

// dropDone appends h's finished spares to to.
func (h *host) dropDone(to []*pending) []*pending {
	for _, pd := range h.queue {
		if !pd.at.IsZero() {
			to = append(to, pd)
		}
	}
	return to
}

// pendingOnly returns h's queue without its finished spares.
func (h *host) pendingOnly() []*pending {
	return slices.DeleteFunc(slices.Clone(h.queue), func(pd *pending) bool { return !pd.at.IsZero() })
}

func closeAll(pds []*pending) {
	for _, pd := range pds {
		if pd.c != nil {
			_ = pd.c.Close()
		}
	}
}

// countedConn is a connection that tells its pool when it closes (once).
type countedConn struct {
	net.Conn
	once   sync.Once
	closed func()
}

func (c *countedConn) Close() error {
	c.once.Do(c.closed)
	return c.Conn.Close()
}
