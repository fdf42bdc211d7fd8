package kucoin

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

// Rate-limit pools (rate limit 2.0).
const (
	poolSpot       = "Spot"
	poolFutures    = "Futures"
	poolManagement = "Management"
	poolPublic     = "Public"
)

// FlagEncodedQuery is appended to emu.Entry.Fault when a request was signed
// over the URL-encoded query (as kucoin-go-sdk does) rather than the decoded
// form KuCoin documents. The emulator accepts it; the real venue may not.
const FlagEncodedQuery = "kucoin: signed the url-encoded query (docs: sign it decoded)"

// route is one endpoint with its rate-limit and permission metadata.
type route struct {
	method, path string
	pool         string
	weight       int
	kind         string
	perm         string // required key permission; "" on public endpoints
	masterOnly   bool
	h            func(c *call) (any, *apiError)
}

// call is one authenticated (or public) request being handled.
type call struct {
	r    *http.Request
	q    url.Values
	body []byte
	now  time.Time
	key  *apiKey
	u    *user
	w    *world
	st   *store
	e    *emu.Entry
	ip   string
}

func (c *call) param(name string) string { return strings.TrimSpace(c.q.Get(name)) }

// apiError is a KuCoin error answer: HTTP status plus {"code","msg"}.
type apiError struct {
	status int
	code   string
	msg    string
}

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

func badParam(format string, args ...any) *apiError {
	return errf(http.StatusBadRequest, "400100", format, args...)
}

var (
	errMissingHeaders = errf(http.StatusBadRequest, "400001", "Please check the header of your request for KC-API-KEY, KC-API-SIGN, KC-API-TIMESTAMP, KC-API-PASSPHRASE")
	errTimestamp      = errf(http.StatusBadRequest, "400002", "Invalid KC-API-TIMESTAMP")
	errNoKey          = errf(http.StatusUnauthorized, "400003", "KC-API-KEY not exists")
	errPassphrase     = errf(http.StatusUnauthorized, "400004", "Invalid KC-API-PASSPHRASE")
	errSign           = errf(http.StatusUnauthorized, "400005", "Invalid KC-API-SIGN")
	errPermission     = errf(http.StatusForbidden, "400007", "Access denied, require more permission.")
	errKeyVersion     = errf(http.StatusUnauthorized, "400009", "Invalid KC-API-KEY-VERSION")
	errRateLimit      = errf(http.StatusTooManyRequests, "429000", "Too Many Requests")
	errNotFound       = errf(http.StatusNotFound, "404000", "interface not exists")
)

type okBody struct {
	Code string `json:"code"`
	Data any    `json:"data"`
}

type errBody struct {
	Code string `json:"code"`
	Msg  string `json:"msg"`
}

// pool is one rate-limit resource pool window.
type pool struct {
	limit int
	used  int
	start time.Time
}

func (w *world) pool(id, name string, now time.Time) *pool {
	k := id + "/" + name
	p := w.limits[k]
	if p == nil || now.Sub(p.start) >= w.window {
		p = &pool{limit: w.poolLimit(name), start: now}
		w.limits[k] = p
	}
	return p
}

func (w *world) poolLimit(name string) int {
	switch name {
	case poolSpot:
		return w.pools.Spot
	case poolFutures:
		return w.pools.Futures
	case poolManagement:
		return w.pools.Management
	}
	return w.pools.Public
}

func setLimitHeaders(h http.Header, p *pool, window time.Duration, now time.Time) {
	rem := p.limit - p.used
	if rem < 0 {
		rem = 0
	}
	reset := p.start.Add(window).Sub(now).Milliseconds()
	if reset < 0 {
		reset = 0
	}
	h.Set("gw-ratelimit-limit", strconv.Itoa(p.limit))
	h.Set("gw-ratelimit-remaining", strconv.Itoa(rem))
	h.Set("gw-ratelimit-reset", strconv.FormatInt(reset, 10))
}

func (s *store) mux(routes []route) http.Handler {
	m := http.NewServeMux()
	for _, rt := range routes {
		m.Handle(rt.method+" "+rt.path, s.serve(rt))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := m.Handler(r); pattern == "" {
			s.notFound(w, r)
			return
		}
		m.ServeHTTP(w, r)
	})
}

func (s *store) notFound(w http.ResponseWriter, r *http.Request) {
	e := emu.Annotate(r)
	e.Kind = emu.KindPublic
	e.Code = errNotFound.code
	now := s.now()
	s.mu.Lock()
	p := s.w.pool("ip:"+emu.RemoteIP(r), poolPublic, now)
	setLimitHeaders(w.Header(), p, s.w.window, now)
	s.mu.Unlock()
	emu.WriteJSON(w, errNotFound.status, errBody{Code: errNotFound.code, Msg: errNotFound.msg})
}

func (s *store) serve(rt route) http.Handler {
	endpoint := rt.method + " " + strings.TrimSuffix(rt.path, "{$}")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := emu.Annotate(r)
		e.Endpoint = endpoint
		e.Kind = rt.kind
		e.Weight = rt.weight
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			s.write(w, e, nil, nil, badParam("cannot read request body"), time.Time{})
			return
		}
		now := s.now()
		ip := emu.RemoteIP(r)
		s.mu.Lock()
		defer s.mu.Unlock()
		c := &call{r: r, q: r.URL.Query(), body: body, now: now, w: s.w, st: s, e: e, ip: ip}
		s.w.tick(now)
		var p *pool
		if rt.perm == "" {
			p = s.w.pool("ip:"+ip, poolPublic, now)
		} else {
			k, aerr := s.authenticate(c)
			if aerr != nil {
				s.write(w, e, s.w.pool("ip:"+ip, poolPublic, now), nil, aerr, now)
				return
			}
			c.key, c.u = k, k.owner
			e.Key, e.Account = k.key, k.owner.name
			p = s.w.pool(fmt.Sprintf("uid:%d", k.owner.uid), rt.pool, now)
			if !ipAllowed(k, ip) {
				s.write(w, e, p, nil, errf(http.StatusForbidden, "400006", "Invalid request ip, the current clientIp is:%s", ip), now)
				return
			}
			if !k.has(rt.perm) || (rt.masterOnly && k.owner.master != nil) {
				s.write(w, e, p, nil, errPermission, now)
				return
			}
		}
		if p.limit-p.used < rt.weight {
			s.write(w, e, p, nil, errRateLimit, now)
			return
		}
		p.used += rt.weight
		data, aerr := rt.h(c)
		s.write(w, e, p, data, aerr, now)
	})
}

func (s *store) write(w http.ResponseWriter, e *emu.Entry, p *pool, data any, aerr *apiError, now time.Time) {
	if p != nil {
		setLimitHeaders(w.Header(), p, s.w.window, now)
	}
	if aerr != nil {
		e.Code = aerr.code
		emu.WriteJSON(w, aerr.status, errBody{Code: aerr.code, Msg: aerr.msg})
		return
	}
	emu.WriteJSON(w, http.StatusOK, okBody{Code: "200000", Data: data})
}

func ipAllowed(k *apiKey, ip string) bool {
	if len(k.ipList) == 0 {
		return true
	}
	for _, a := range k.ipList {
		if a == ip {
			return true
		}
		if _, n, err := net.ParseCIDR(a); err == nil && n.Contains(net.ParseIP(ip)) {
			return true
		}
	}
	return false
}

func hmacB64(secret, msg string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(msg))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// authenticate checks the KC-API-* headers in KuCoin's order: presence,
// timestamp, key, key version, passphrase, signature.
func (s *store) authenticate(c *call) (*apiKey, *apiError) {
	h := c.r.Header
	keyID := h.Get("KC-API-KEY")
	sign := h.Get("KC-API-SIGN")
	ts := h.Get("KC-API-TIMESTAMP")
	pass := h.Get("KC-API-PASSPHRASE")
	if keyID == "" || sign == "" || ts == "" || pass == "" {
		return nil, errMissingHeaders
	}
	tms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, errTimestamp
	}
	if d := c.now.UnixMilli() - tms; d >= 5000 || d <= -5000 {
		return nil, errTimestamp
	}
	k := s.w.keys[keyID]
	if k == nil || k.deleted || (!k.expiresAt.IsZero() && !c.now.Before(k.expiresAt)) {
		return nil, errNoKey
	}
	ver := h.Get("KC-API-KEY-VERSION")
	if ver == "" {
		ver = "1"
	}
	// A v2 or v3 key works with either header (EXCHANGES.md C10: ccxt
	// always sends 2, KuCoin's universal SDK always 3); a v1 key only
	// without one (or with 1).
	if ok := ver == strconv.Itoa(k.version) || (k.version >= 2 && (ver == "2" || ver == "3")); !ok {
		return nil, errKeyVersion
	}
	want := k.passphrase
	if k.version >= 2 {
		want = hmacB64(k.secret, k.passphrase)
	}
	if !hmac.Equal([]byte(pass), []byte(want)) {
		return nil, errPassphrase
	}
	if !s.signatureOK(c, k, ts, sign) {
		return nil, errSign
	}
	return k, nil
}

// signatureOK verifies sign over timestamp+METHOD+path[?query]+body. The
// documented form signs the decoded query; the URL-encoded form (what
// kucoin-go-sdk signs) is accepted and flagged on the log entry. The path
// may be the real one or include the emulator's mount prefix (clients whose
// base URL is http://host/kucoin sign that).
func (s *store) signatureOK(c *call, k *apiKey, ts, sign string) bool {
	r := c.r
	paths := []string{r.URL.EscapedPath()}
	if r.URL.Path != paths[0] {
		paths = append(paths, r.URL.Path)
	}
	if orig, _, _ := strings.Cut(r.RequestURI, "?"); orig != "" && orig != paths[0] && strings.HasSuffix(orig, paths[0]) {
		paths = append(paths, orig)
	}
	raw := r.URL.RawQuery
	decoded, err := url.QueryUnescape(raw)
	if err != nil {
		decoded = raw
	}
	try := func(p, q string) bool {
		pre := ts + r.Method + p
		if q != "" {
			pre += "?" + q
		}
		pre += string(c.body)
		return hmac.Equal([]byte(hmacB64(k.secret, pre)), []byte(sign))
	}
	for _, p := range paths {
		if try(p, decoded) {
			return true
		}
	}
	if raw != decoded {
		for _, p := range paths {
			if try(p, raw) {
				if c.e.Fault != "" {
					c.e.Fault += "; "
				}
				c.e.Fault += FlagEncodedQuery
				return true
			}
		}
	}
	return false
}

// decodeBody parses a JSON request body into v.
func (c *call) decodeBody(v any) *apiError {
	if len(c.body) == 0 {
		return badParam("request body is required")
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		return badParam("invalid JSON body")
	}
	return nil
}

// page holds currentPage/pageSize with KuCoin's defaults and bounds.
type page struct{ current, size int }

func (c *call) page(def, min, max int) page {
	p := page{current: 1, size: def}
	if v, err := strconv.Atoi(c.param("currentPage")); err == nil && v > 0 {
		p.current = v
	}
	if v, err := strconv.Atoi(c.param("pageSize")); err == nil && v > 0 {
		p.size = v
		if p.size < min {
			p.size = min
		}
		if p.size > max {
			p.size = max
		}
	}
	return p
}

type paged struct {
	CurrentPage int `json:"currentPage"`
	PageSize    int `json:"pageSize"`
	TotalNum    int `json:"totalNum"`
	TotalPage   int `json:"totalPage"`
	Items       any `json:"items"`
}

func paginate[T any](p page, items []T) paged {
	total := len(items)
	from := (p.current - 1) * p.size
	if from > total {
		from = total
	}
	to := from + p.size
	if to > total {
		to = total
	}
	out := items[from:to]
	if out == nil {
		out = []T{}
	}
	return paged{CurrentPage: p.current, PageSize: p.size, TotalNum: total, TotalPage: (total + p.size - 1) / p.size, Items: out}
}
