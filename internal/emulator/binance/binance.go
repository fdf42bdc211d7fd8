// Package binance is the emulator's Binance venue: spot (/api), wallet,
// margin and sub-account (/sapi), USDⓈ-M futures (/fapi) and COIN-M
// futures (/dapi) endpoints over one state, with Binance's signing,
// timestamp, permission, IP-restriction, weight and error rules and its
// documented quirks. The state format is in ../STATE.md.
package binance

import (
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

// Venue is the emulated Binance.
type Venue struct {
	file string
	node *yaml.Node
	env  emu.Env
	log  *slog.Logger

	mu     sync.Mutex
	st     *state
	rl     *rateLimiter
	routes map[string]*route
}

var (
	_ emu.Venue    = (*Venue)(nil)
	_ emu.Exporter = (*Venue)(nil)
)

// Load builds the Binance venue from its state node (an emu.Loader).
func Load(file string, node *yaml.Node, env emu.Env) ([]emu.Venue, error) {
	if env.Clock == nil {
		env.Clock = emu.NewClock(nil)
	}
	if env.Logger == nil {
		env.Logger = slog.New(slog.DiscardHandler)
	}
	st, err := parseState(file, node, env.Clock.Now())
	if err != nil {
		return nil, err
	}
	v := &Venue{file: file, node: node, env: env, log: env.Logger, st: st, rl: newRateLimiter()}
	v.routes = v.buildRoutes()
	return []emu.Venue{v}, nil
}

// Name implements emu.Venue.
func (v *Venue) Name() string { return "binance" }

// Handler implements emu.Venue.
func (v *Venue) Handler() http.Handler { return http.HandlerFunc(v.serve) }

// Reset implements emu.Venue: the state is parsed again from the loaded
// YAML (relative times resolve against the current clock) and every rate
// limit and ban is cleared.
func (v *Venue) Reset() {
	st, err := parseState(v.file, v.node, v.env.Clock.Now())
	if err != nil {
		v.log.Error("binance: reset failed; keeping the current state", "err", err)
		return
	}
	v.mu.Lock()
	v.st = st
	v.rl = newRateLimiter()
	v.mu.Unlock()
}

type family int

const (
	famAPI family = iota
	famSAPI
	famFAPI
	famDAPI
)

type security int

const (
	secNone   security = iota
	secAPIKey          // MARKET_DATA: a known API key in X-MBX-APIKEY, no signature
	secSigned
)

// route is one endpoint: its weight, security, permission and handler.
type route struct {
	method, path string
	fam          family
	sec          security
	kind         string
	perm         string // "" = reading only
	master       bool   // master accounts only (sub-account management)
	uid          bool   // /sapi: UID-limited (else IP-limited)
	perSecond    bool   // /sapi: the UID budget is per second (withdraw history)
	weight       func(p url.Values) int
	// uidWeight, on an IP-limited /sapi endpoint, is a UID weight charged
	// on top of the IP weight (universalTransfer: IP 1 + UID 360,
	// EXCHANGES.md C4).
	uidWeight func(p url.Values) int
	// noSubFunction: a non-master calling this master-only endpoint gets
	// 400 -8012 "Sub-account function is not enabled." (EXCHANGES.md C2)
	// instead of 401 -1002.
	noSubFunction bool
	handle        func(c *call)
}

func fixed(n int) func(url.Values) int { return func(url.Values) int { return n } }

// call is one request being handled.
type call struct {
	v    *Venue
	st   *state
	w    http.ResponseWriter
	r    *http.Request
	p    url.Values
	now  time.Time
	ip   string
	rt   *route
	key  *key
	acct *account
	e    *emu.Entry
}

// obj is a JSON object.
type obj = map[string]any

func (c *call) ok(v any) {
	emu.WriteJSON(c.w, http.StatusOK, v)
}

// fail answers with Binance's error body.
func (c *call) fail(status, code int, msg string) {
	c.e.Code = strconv.Itoa(code)
	emu.WriteJSON(c.w, status, obj{"code": code, "msg": msg})
}

func (c *call) mandatory(name string) {
	c.fail(http.StatusBadRequest, -1102, "Mandatory parameter '"+name+"' was not sent, was empty/null, or malformed.")
}

func (c *call) badParam(name string) {
	c.fail(http.StatusBadRequest, -1100, "Illegal characters found in parameter '"+name+"'; legal range is '^[0-9]{1,20}$'.")
}

// intParam reads the integer parameter name: def when absent, at most
// most. It answers -1100 and returns false when the value is not an
// integer or is below least.
func (c *call) intParam(name string, def, least, most int) (int, bool) {
	s := c.p.Get(name)
	if s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < least {
		c.badParam(name)
		return 0, false
	}
	return min(n, most), true
}

// paginate returns at most n items of list, starting at from (or at its end).
func paginate[T any](list []T, from, n int) []T {
	list = list[min(from, len(list)):]
	return list[:min(n, len(list))]
}

func (c *call) invalidSymbol() {
	c.fail(http.StatusBadRequest, -1121, "Invalid symbol.")
}

// unknownKey answers a request whose API key the venue does not know
// (never created, or deleted in API Management): /sapi endpoints answer
// 400 -2008 "Invalid Api-Key ID." (EXCHANGES.md C1), the others 401
// -2015 like any refused key.
func (c *call) unknownKey() {
	if c.rt != nil && c.rt.fam == famSAPI {
		c.fail(http.StatusBadRequest, -2008, "Invalid Api-Key ID.")
		return
	}
	c.rejectKey()
}

func (c *call) rejectKey() {
	msg := "Invalid API-key, IP, or permissions for action."
	if c.rt != nil && (c.rt.fam == famFAPI || c.rt.fam == famDAPI) {
		msg += ", request ip: " + c.ip
	}
	c.fail(http.StatusUnauthorized, -2015, msg)
}

func (v *Venue) serve(w http.ResponseWriter, r *http.Request) {
	e := emu.Annotate(r)
	path := r.URL.Path
	rt := v.routes[r.Method+" "+path]
	if rt == nil {
		e.Endpoint = r.Method + " " + path
		e.Kind = emu.KindPublic
		// Unknown or discontinued endpoints (e.g. the v1 POST
		// sub-account ipRestriction, gone since 2023) get a bare 404.
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, "<html><body><h2>404 Not found</h2></body></html>")
		return
	}
	e.Endpoint = rt.method + " " + rt.path
	e.Kind = rt.kind
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rawQuery := r.URL.RawQuery
	rawBody := string(body)
	params, perr := mergeParams(rawQuery, rawBody)
	ip := emu.RemoteIP(r)
	now := v.env.Clock.Now()

	v.mu.Lock()
	defer v.mu.Unlock()
	c := &call{v: v, st: v.st, w: w, r: r, p: params, now: now, ip: ip, rt: rt, e: e}
	v.fireCountdowns(now)
	v.advanceWithdrawals(now)
	if perr != nil {
		c.fail(http.StatusBadRequest, -1100, "Illegal characters found in a parameter.")
		return
	}
	weight := rt.weight(params)
	e.Weight = weight
	if !v.chargeIP(c, weight) {
		return
	}
	if rt.sec == secAPIKey {
		apiKey := r.Header.Get("X-MBX-APIKEY")
		if apiKey == "" || !apiKeyHeaderRE.MatchString(apiKey) {
			c.fail(http.StatusUnauthorized, -2014, "API-key format invalid.")
			return
		}
		if c.st.keyByAPIKey(apiKey) == nil {
			c.unknownKey()
			return
		}
		e.Key = apiKey
	}
	if rt.sec == secSigned {
		if !v.authenticate(c, rawQuery, rawBody) {
			return
		}
		if rt.fam == famSAPI && rt.uid && !v.chargeUID(c, weight) {
			return
		}
		if rt.uidWeight != nil && !v.chargeUID(c, rt.uidWeight(params)) {
			return
		}
		if rt.perm != "" && !c.key.Perms[rt.perm] {
			c.rejectKey()
			return
		}
		if rt.master && !c.acct.Master && rt.noSubFunction {
			c.fail(http.StatusBadRequest, -8012, "Sub-account function is not enabled.")
			return
		}
		if rt.master && !c.acct.Master {
			c.fail(http.StatusUnauthorized, -1002, "You are not authorized to execute this request.")
			return
		}
	}
	rt.handle(c)
}

// mergeParams reads parameters from the query and the form body; the
// query wins when both carry a name.
func mergeParams(rawQuery, rawBody string) (url.Values, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, err
	}
	if rawBody != "" {
		b, err := url.ParseQuery(rawBody)
		if err != nil {
			return nil, err
		}
		for k, vs := range b {
			if _, ok := q[k]; !ok {
				q[k] = vs
			}
		}
	}
	return q, nil
}

var _ emu.KeyDeleter = (*Venue)(nil)

// DeleteKey deletes any key, as a user does in Binance's API Management
// page; the key is rejected from its next request on (-2008 on /sapi,
// -2015 elsewhere).
func (v *Venue) DeleteKey(apiKey string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	k := v.st.keys[apiKey]
	if k == nil {
		return false
	}
	if a := k.account; a != nil {
		keep := a.Keys[:0:0]
		for _, x := range a.Keys {
			if x != k {
				keep = append(keep, x)
			}
		}
		a.Keys = keep
	}
	delete(v.st.keys, apiKey)
	return true
}

// keyByAPIKey is used by the auth layer and by sub-account handlers.
func (st *state) keyByAPIKey(k string) *key { return st.keys[k] }

func upper(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }
