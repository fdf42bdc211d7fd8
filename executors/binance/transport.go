package binance

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/panicbutton/panicbutton/executors"
)

// Weight limits per bucket (EXCHANGES.md §1.6). The pacer keeps a safety
// margin below them so that a burst never trips a 429 (or a 418 ban).
const (
	limitAPI     = 6000   // /api/*: weight per minute per IP
	limitFutures = 2400   // /fapi/*, /dapi/*: weight per minute per IP
	limitSAPIIP  = 12000  // each IP-limited /sapi endpoint, per minute
	limitSAPIUID = 180000 // each UID-limited /sapi endpoint, per minute
	// UID weight of every sub-account API-key endpoint (list, delete,
	// permission, IP restriction).
	weightSubKeyCall = 3000
	pacerMargin      = 0.9
)

// cost is what one request costs against one bucket.
type cost struct {
	bucket string // e.g. "api", "fapi", "sapi-uid:DELETE /sapi/v1/sub-account/subAccountApi"
	// ip is true for limits counted per IP address (/api, /fapi, /dapi, the
	// IP-limited /sapi endpoints): they are shared by every account whose
	// requests leave from this process, so they are paced in the
	// process-wide budget of the host (see sharedBudgets).
	ip     bool
	host   string        // the request's host; set by the transport for ip costs
	limit  int           // bucket limit per window
	window time.Duration // the limit's interval
	weight int
	header string // response header reporting the bucket's used weight
}

// costOf returns the weight of a request (EXCHANGES.md §1.3–1.6; the
// weights not verified there default to 1).
func costOf(method, path string, q url.Values) cost {
	hasSymbol := q.Get("symbol") != ""
	switch {
	case strings.HasPrefix(path, "/api/"):
		c := cost{bucket: "api", ip: true, limit: limitAPI, window: time.Minute, weight: 1, header: "X-Mbx-Used-Weight-1m"}
		switch {
		case path == "/api/v3/openOrders" && method == http.MethodGet:
			c.weight = 80
			if hasSymbol {
				c.weight = 6
			}
		case path == "/api/v3/account", path == "/api/v3/myTrades":
			c.weight = 20
		}
		return c
	case strings.HasPrefix(path, "/fapi/"), strings.HasPrefix(path, "/dapi/"):
		c := cost{bucket: path[1:5], ip: true, limit: limitFutures, window: time.Minute, weight: 1, header: "X-Mbx-Used-Weight-1m"}
		switch {
		case (strings.HasSuffix(path, "/openOrders") || path == "/fapi/v1/openAlgoOrders") && method == http.MethodGet:
			// 1 with a symbol, 40 without (openAlgoOrders too:
			// EXCHANGES.md C3).
			c.weight = 40
			if hasSymbol {
				c.weight = 1
			}
		case strings.HasSuffix(path, "/countdownCancelAll"):
			c.weight = 10
		case strings.HasSuffix(path, "/positionSide/dual"):
			c.weight = 30
		case path == "/dapi/v1/userTrades":
			c.weight = 20
		case strings.HasPrefix(path, "/fapi/v3/"), path == "/fapi/v1/userTrades":
			c.weight = 5
		}
		return c
	case strings.HasPrefix(path, "/sapi/"):
		switch {
		case strings.Contains(path, "/sub-account/subAccountApi"):
			return cost{bucket: "sapi-uid:" + method + " " + path, limit: limitSAPIUID, window: time.Minute, weight: weightSubKeyCall, header: "X-Sapi-Used-Uid-Weight-1m"}
		case path == "/sapi/v4/sub-account/assets":
			return cost{bucket: "sapi-uid:" + method + " " + path, limit: limitSAPIUID, window: time.Minute, weight: 60, header: "X-Sapi-Used-Uid-Weight-1m"}
		case path == "/sapi/v1/capital/withdraw/history":
			return cost{bucket: "sapi-uid:" + method + " " + path, limit: limitSAPIUID, window: time.Second, weight: 18000, header: "X-Sapi-Used-Uid-Weight-1s"}
		}
		c := cost{bucket: "sapi-ip:" + method + " " + path, ip: true, limit: limitSAPIIP, window: time.Minute, weight: 1, header: "X-Sapi-Used-Ip-Weight-1m"}
		switch path {
		case "/sapi/v1/margin/openOrders":
			// 10 with a symbol; Binance says much more without one and
			// gives no number (EXCHANGES.md C5): count it as 40.
			c.weight = 10
			if !hasSymbol && method == http.MethodGet {
				c.weight = 40
			}
		case "/sapi/v1/margin/account", "/sapi/v1/margin/isolated/account", "/sapi/v1/margin/myTrades":
			c.weight = 10
		case "/sapi/v1/asset/wallet/balance":
			c.weight = 60
		case "/sapi/v3/asset/getUserAsset":
			c.weight = 5
		}
		// universalTransfer's IP weight is 1; its UID weight (360) is
		// charged by uidCostOf.
		return c
	}
	return cost{bucket: "other", ip: true, limit: limitAPI, window: time.Minute, weight: 1}
}

// uidCostOf returns the UID weight an IP-limited /sapi endpoint costs on
// top of its IP weight: POST /sapi/v1/sub-account/universalTransfer is IP 1
// + UID 360 (EXCHANGES.md C4).
func uidCostOf(method, path string) (cost, bool) {
	if method == http.MethodPost && path == "/sapi/v1/sub-account/universalTransfer" {
		return cost{bucket: "sapi-uid:" + method + " " + path, limit: limitSAPIUID, window: time.Minute, weight: 360, header: "X-Sapi-Used-Uid-Weight-1m"}, true
	}
	return cost{}, false
}

// budgets is a set of weight buckets and the lock that guards them.
type budgets struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

func newBudgets() *budgets { return &budgets{buckets: map[string]*bucket{}} }

// ipBudgets is the process-wide registry of IP-scoped budgets, keyed by
// host: Binance counts /api, /fapi, /dapi and the IP-limited /sapi
// endpoints per egress IP, so four accounts behind one address share one
// 6000/min /api budget. Every executor of this process draws from it.
var ipBudgets = struct {
	mu    sync.Mutex
	hosts map[string]*budgets
}{hosts: map[string]*budgets{}}

// sharedBudgets returns the IP-scoped budgets of host (created on first use).
func sharedBudgets(host string) *budgets {
	ipBudgets.mu.Lock()
	defer ipBudgets.mu.Unlock()
	b := ipBudgets.hosts[host]
	if b == nil {
		b = newBudgets()
		ipBudgets.hosts[host] = b
	}
	return b
}

// pacer delays requests so that each weight bucket stays under its limit
// within the current window. It counts locally what it lets through and
// takes the venue's used-weight headers as a floor, and it holds a bucket
// closed for Retry-After after a 429/418. UID-scoped buckets are the
// account's own; IP-scoped ones (cost.ip with a host) live in the
// process-wide sharedBudgets of the host, so executors of several accounts
// together stay under the IP limits.
type pacer struct {
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
	// scale multiplies every limit (tests shrink it); 0 means 1.
	scale float64

	own *budgets
}

type bucket struct {
	window  time.Time // start of the current window
	used    int
	blocked time.Time // closed until then (Retry-After)
}

func newPacer(now func() time.Time, sleep func(context.Context, time.Duration) error) *pacer {
	return &pacer{now: now, sleep: sleep, own: newBudgets()}
}

// set returns the budgets c is charged to.
func (p *pacer) set(c cost) *budgets {
	if c.ip && c.host != "" {
		return sharedBudgets(c.host)
	}
	return p.own
}

func (p *pacer) budget(c cost) int {
	s := p.scale
	if s == 0 {
		s = 1
	}
	return int(float64(c.limit) * s * pacerMargin)
}

// wait blocks until c fits its bucket's budget, then reserves it.
func (p *pacer) wait(ctx context.Context, c cost) error {
	set := p.set(c)
	for {
		set.mu.Lock()
		now := p.now()
		b := set.buckets[c.bucket]
		if b == nil {
			b = &bucket{}
			set.buckets[c.bucket] = b
		}
		win := now.Truncate(c.window)
		if win.After(b.window) {
			b.window, b.used = win, 0
		}
		var d time.Duration
		switch {
		case now.Before(b.blocked):
			d = b.blocked.Sub(now)
		case b.used == 0 || b.used+c.weight <= p.budget(c):
			b.used += c.weight
			set.mu.Unlock()
			return nil
		default:
			d = win.Add(c.window).Sub(now)
		}
		set.mu.Unlock()
		if err := p.sleep(ctx, d); err != nil {
			return err
		}
	}
}

// observe feeds a response's headers back into the bucket.
func (p *pacer) observe(c cost, h http.Header, status int, retryAfter time.Duration) {
	set := p.set(c)
	set.mu.Lock()
	defer set.mu.Unlock()
	b := set.buckets[c.bucket]
	if b == nil {
		return
	}
	if v, err := strconv.Atoi(h.Get(c.header)); err == nil && c.header != "" && v > b.used {
		b.used = v
	}
	if status == http.StatusTooManyRequests || status == http.StatusTeapot {
		wait := retryAfter
		if wait <= 0 {
			wait = time.Second
		}
		if until := p.now().Add(wait); until.After(b.blocked) {
			b.blocked = until
		}
	}
}

// capture receives what the transport saw of one request: the SDK does not
// expose the HTTP status or headers, so each call puts a capture in its
// context and the transport fills it in.
type capture struct {
	mu           sync.Mutex
	status       int
	retryAfter   time.Duration
	method, path string // of the last request sent
}

// request returns the method and path of the request the call sent last.
func (c *capture) request() (method, path string) {
	if c == nil {
		return "", ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.method, c.path
}

func (c *capture) get() (int, time.Duration) {
	if c == nil {
		return 0, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status, c.retryAfter
}

type captureKey struct{}

func withCapture(ctx context.Context, c *capture) context.Context {
	return context.WithValue(ctx, captureKey{}, c)
}

// observingTransport paces each request, then records its status,
// Retry-After and used-weight headers and reports it to Env.Observer.
type observingTransport struct {
	base     http.RoundTripper
	pacer    *pacer
	account  string
	observer func(account string, req *http.Request, resp *http.Response, err error)
	// timeout bounds one request from the moment it is sent (after any
	// wait for budget) until its body is read; 0 means none.
	timeout time.Duration
}

func (t *observingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	unlockBuilt(req)
	c := costOf(req.Method, req.URL.Path, req.URL.Query())
	if c.ip {
		c.host = req.URL.Host
	}
	costs := []cost{c}
	if uc, ok := uidCostOf(req.Method, req.URL.Path); ok {
		costs = append(costs, uc)
	}
	for _, c := range costs {
		if err := t.pacer.wait(req.Context(), c); err != nil {
			if req.Body != nil {
				_ = req.Body.Close()
			}
			return nil, err
		}
	}
	cp, _ := req.Context().Value(captureKey{}).(*capture)
	if cp != nil {
		cp.mu.Lock()
		cp.method, cp.path = req.Method, req.URL.Path
		cp.mu.Unlock()
	}
	sent := req
	var cancel context.CancelFunc = func() {}
	if t.timeout > 0 {
		// The per-request timeout starts now, after the wait for budget,
		// and covers reading the body (cancel runs when it is closed).
		var ctx context.Context
		ctx, cancel = context.WithTimeout(req.Context(), t.timeout)
		sent = req.WithContext(ctx)
	}
	resp, err := t.base.RoundTrip(sent)
	if err != nil {
		cancel()
	} else {
		resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	}
	if err == nil {
		ra := parseRetryAfter(resp.Header.Get("Retry-After"))
		for _, c := range costs {
			t.pacer.observe(c, resp.Header, resp.StatusCode, ra)
		}
		if cp != nil {
			cp.mu.Lock()
			cp.status, cp.retryAfter = resp.StatusCode, ra
			cp.mu.Unlock()
		}
	}
	if t.observer != nil {
		t.observer(t.account, redactedRequest(req), resp, err)
	}
	if resp != nil {
		// The spot SDK client copies these into unsynchronised fields of
		// the shared *Client on every response, a data race under our
		// parallel calls; the pacer has read them already.
		for _, h := range sdkRacyHeaders {
			resp.Header.Del(h)
		}
	}
	return resp, err
}

// cancelOnClose releases a request's timeout once its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// sdkRacyHeaders are the response headers the spot SDK client stores in
// Client.UsedWeight / Client.OrderCount (go-binance client.go callAPI).
var sdkRacyHeaders = []string{"X-Mbx-Used-Weight", "X-Mbx-Used-Weight-1m", "X-Mbx-Order-Count-10s", "X-Mbx-Order-Count-1d"}

func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// idleConnsPerHost is how many idle connections per host each private
// transport keeps (up to Executor.concurrency requests go out at once).
const idleConnsPerHost = 64

// newHTTPClient builds one client's own http.Client over env.Transport (or
// a private clone of the default transport).
func newHTTPClient(env executors.Env, account string, p *pacer, timeout time.Duration) *http.Client {
	base := env.Transport
	if base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		// Keep the connections of a parallel burst for the next one: the
		// default keeps 2 idle per host, so every later wave would open
		// (in production: TLS-handshake) most of its connections again,
		// a round trip or two each.
		t.MaxIdleConnsPerHost = idleConnsPerHost
		base = t
	}
	// No http.Client.Timeout: it would count the wait for budget; the
	// transport bounds each request from the moment it is sent.
	return &http.Client{
		Transport: &observingTransport{base: base, pacer: p, account: account, observer: env.Observer, timeout: timeout},
	}
}

// redactedRequest is what observers see: the request without the API key
// header and without the signature, so a logging or metrics observer
// cannot leak either.
func redactedRequest(r *http.Request) *http.Request {
	c := r.Clone(r.Context())
	c.Header.Del("X-MBX-APIKEY")
	if q := c.URL.Query(); q.Has("signature") {
		q.Del("signature")
		c.URL.RawQuery = q.Encode()
	}
	return c
}
