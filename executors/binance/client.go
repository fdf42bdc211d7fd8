package binance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gobinance "github.com/adshao/go-binance/v2"
	"github.com/adshao/go-binance/v2/common"
	"github.com/adshao/go-binance/v2/delivery"
	"github.com/adshao/go-binance/v2/futures"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/internal/clocksync"
	"github.com/panicbutton/panicbutton/executors/internal/retry"
)

// Production hosts, used when Account.BaseURL is empty.
const (
	prodSpot     = "https://api.binance.com"
	prodFutures  = "https://fapi.binance.com"
	prodDelivery = "https://dapi.binance.com"
)

// wallNow is the clock request timestamps are taken from. The SDK stamps
// its requests with the wall clock (time.Now), so the server-time offset is
// measured against the same clock, and the signed-request helper uses it
// too; only tests replace it.
var wallNow = time.Now

// family is the API family of a request, which picks its host and client.
type family int

const (
	famSpot     family = iota // /api and /sapi
	famFutures                // /fapi
	famDelivery               // /dapi
)

func familyOf(path string) family {
	switch {
	case strings.HasPrefix(path, "/fapi/"):
		return famFutures
	case strings.HasPrefix(path, "/dapi/"):
		return famDelivery
	}
	return famSpot
}

// Driver returns the Binance driver.
func Driver() executors.Driver {
	return executors.Driver{
		Exchange: "binance",
		Actions: []string{
			executors.SnapshotBalances, executors.OrdersList, executors.OrdersCancelAll, executors.OrdersDeadman,
			executors.KeysInventory, executors.KeysRevoke, executors.KeysVerifyRejected,
			executors.WithdrawalsList, executors.WithdrawalsCancelPending,
			executors.PositionsClose, executors.FundsSweep, executors.TradesRecent,
		},
		KeyTypes: []string{"hmac", "ed25519", "rsa"},
		New: func(acct executors.Account, env executors.Env) (executors.Executor, error) {
			return New(acct, env)
		},
	}
}

// Executor performs catalog actions against one Binance account. It is safe
// for concurrent use.
type Executor struct {
	acct    executors.Account
	env     executors.Env
	keyType string // SDK spelling: HMAC, ED25519, RSA

	spot *gobinance.Client
	fut  *futures.Client
	dlv  *delivery.Client

	bases [3]string       // per family
	https [3]*http.Client // per family, each its own
	pacer *pacer

	// clockMu guards the server-time offset of every client: requests hold
	// it for reading while they are built and signed (see call), a sync
	// for writing.
	clockMu sync.RWMutex
	offset  int64             // ms, local wall clock minus server time
	clocks  *clocksync.Syncer // the background syncs that set offset (syncWithTimeout)
	// subs is the latest listing of the sub-accounts, made at subsAt
	// (subListReuse).
	subsMu     sync.Mutex
	subs       []subAccount
	subsMaster bool
	subsAt     time.Time

	// off names products that cannot hold an order on this account, with
	// why (a sub-account's executor: margin or futures disabled in the
	// master's status of it); cancel-all neither lists nor cancels them.
	off map[string]string

	// venue is the latest offset any executor of the process measured
	// against this host (see hostClock): the pacer places Binance's
	// windows on that one clock.
	venue *hostClock

	// concurrency bounds parallel per-symbol calls (128; the pacer keeps
	// them within the budgets). At 64 the benchmark's 1x account (60 spot
	// and 20 USDⓈ-M cancel groups) cancelled in two waves, a round trip
	// more; the shared transport keeps the connections of a burst
	// (executors.IdleConnsPerHost).
	concurrency int

	// retry is how failed requests are retried (executors/internal/retry).
	retry retry.Policy
	// skew records the server-time offsets measured and the -1021
	// rejections seen (reported by ClockSkew).
	skew clocksync.Skew
}

var _ executors.Executor = (*Executor)(nil)

// New builds an executor for acct. It validates the credentials' form (a
// PEM key must sign) but sends nothing.
func New(acct executors.Account, env executors.Env) (*Executor, error) {
	env = env.Defaults()
	kt, err := sdkKeyType(acct.KeyType)
	if err != nil {
		return nil, fmt.Errorf("account %s: %w", acct.Name, err)
	}
	if acct.APIKey.IsZero() || acct.Secret.IsZero() {
		return nil, fmt.Errorf("account %s: binance needs api_key and secret", acct.Name)
	}
	sf, err := common.SignFunc(kt)
	if err != nil {
		return nil, fmt.Errorf("account %s: %w", acct.Name, err)
	}
	if _, err := sf(acct.Secret.Reveal(), "probe"); err != nil {
		return nil, fmt.Errorf("account %s: secret does not work as a %s signing key (is it a PKCS#8 PEM private key?)", acct.Name, strings.ToLower(kt))
	}
	e := &Executor{acct: acct, env: env, keyType: kt, concurrency: 128, retry: retry.Default}
	e.clocks = clocksync.New(e.syncWithTimeout)
	base := strings.TrimRight(acct.BaseURL, "/")
	if base == "" {
		e.bases = [3]string{prodSpot, prodFutures, prodDelivery}
	} else {
		e.bases = [3]string{base, base, base}
	}
	e.venue = hostClockOf(e.bases[famSpot])
	e.pacer = newPacer(func() time.Time {
		return env.Now().Add(-time.Duration(e.venue.offset.Load()) * time.Millisecond)
	}, env.Sleep)
	for i := range e.https {
		e.https[i] = newHTTPClient(env, acct.Name, e.bases[i], e.pacer, e.retry.Request, e.resign)
	}
	e.spot = gobinance.NewClient(acct.APIKey.Reveal(), acct.Secret.Reveal())
	e.spot.KeyType, e.spot.BaseURL, e.spot.HTTPClient = kt, e.bases[famSpot], e.https[famSpot]
	e.fut = futures.NewClient(acct.APIKey.Reveal(), acct.Secret.Reveal())
	e.fut.KeyType, e.fut.BaseURL, e.fut.HTTPClient = kt, e.bases[famFutures], e.https[famFutures]
	e.dlv = delivery.NewClient(acct.APIKey.Reveal(), acct.Secret.Reveal())
	e.dlv.KeyType, e.dlv.BaseURL, e.dlv.HTTPClient = kt, e.bases[famDelivery], e.https[famDelivery]
	// The SDK loggers only print with Debug set; make sure they never do.
	e.spot.Debug, e.fut.Debug, e.dlv.Debug = false, false, false
	if e.venue.measured.Load() {
		// Sign with the offset another executor measured until this
		// one's own sync lands (a temporary key's first requests).
		off := e.venue.offset.Load()
		e.offset = off
		e.spot.TimeOffset, e.fut.TimeOffset, e.dlv.TimeOffset = off, off, off
	}
	return e, nil
}

// hostClock is the server-time offset (ms, local minus Binance) last
// measured against one host by any executor of the process. Executors
// behind one IP share that IP's rate-limit windows (budget.Shared), so
// they must place the windows' boundaries on one clock: with each its
// own, one whose clock runs ahead would start a window the others still
// fill, and the same budget would go out twice.
type hostClock struct {
	offset   atomic.Int64
	measured atomic.Bool
}

var hostClocks sync.Map // host -> *hostClock

func hostClockOf(base string) *hostClock {
	host := base
	if u, err := url.Parse(base); err == nil && u.Host != "" {
		host = u.Host
	}
	c, _ := hostClocks.LoadOrStore(host, &hostClock{})
	return c.(*hostClock)
}

func sdkKeyType(kt string) (string, error) {
	switch strings.ToLower(kt) {
	case "", "hmac":
		return common.KeyTypeHmac, nil
	case "ed25519":
		return common.KeyTypeEd25519, nil
	case "rsa":
		return common.KeyTypeRsa, nil
	}
	return "", fmt.Errorf("unknown binance key_type %q (want hmac, ed25519 or rsa)", kt)
}

// Exchange implements executors.Executor.
func (e *Executor) Exchange() string { return "binance" }

// sync measures the server-time offset and applies it to every client.
func (e *Executor) sync(ctx context.Context) error {
	var server int64
	cp := &capture{}
	before := wallNow()
	st, err := e.spot.NewServerTimeService().Do(withCapture(ctx, cp))
	if err != nil {
		status, ra := cp.get()
		return classify("sync server time", false, status, ra, err)
	}
	after := wallNow()
	server = st
	// The server stamped its time somewhere between before and after.
	local := (before.UnixMilli() + after.UnixMilli()) / 2
	off := local - server
	e.skew.Measured(time.Duration(off) * time.Millisecond)
	e.clockMu.Lock()
	e.offset = off
	e.venue.offset.Store(off)
	e.venue.measured.Store(true)
	e.spot.TimeOffset, e.fut.TimeOffset, e.dlv.TimeOffset = off, off, off
	e.clockMu.Unlock()
	return nil
}

// ClockSkew reports the server-time offsets this executor measured (local
// clock minus Binance's) and the -1021 rejections it got: the skew a run
// saw (issue 12 item 2).
func (e *Executor) ClockSkew() (last, maxAbs time.Duration, syncs, rejections int) {
	return e.skew.Report()
}

// startSync launches the first server-time sync in the background (see
// clocksync) and returns at once: the first requests go out with the
// local clock instead of waiting a round trip for the venue's, and a
// -1021 on one of them resyncs and retries it (call).
func (e *Executor) startSync(ctx context.Context) {
	e.clocks.Start(ctx)
}

// syncWithTimeout is sync bounded to 10 s (a background sync has no
// caller's deadline).
func (e *Executor) syncWithTimeout(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return e.sync(ctx)
}

// call runs fn, one request through an SDK client or the signed helper,
// and classifies its error. It persists (issue 12 item 4; see
// executors/internal/retry): a transient failure (5xx, -1001/-1006/-1007,
// a timeout, a reset connection, a non-JSON error page, a 429 the budget
// did not foresee) is sent again with jittered backoff for as long as
// ctx's deadline (the step's timeout) leaves room; fn builds and signs a
// new request each time. A permanent error returns at once. A mutation
// whose outcome is unknown is not repeated here: it is returned as
// ErrUnknownOutcome for the caller to re-read before it repeats it (the
// revoke loops re-list, then send again what is left, until the
// deadline); callCancel is the exception. On
// -1021 (timestamp outside recvWindow) it waits for a server-time sync
// started after the rejection and tries again: the venue rejected the
// request before executing it, so the retry is safe even for a mutation.
//
// fn builds its request under clockMu held for reading (the SDK reads
// TimeOffset while it signs); the transport releases the lock as soon as
// the request is built and about to be paced and sent (unlockBuilt), so a
// sync that lands meanwhile waits microseconds, not a round trip.
func (e *Executor) call(ctx context.Context, op string, mutation bool, fn func(ctx context.Context) error) error {
	return e.callRepeating(ctx, op, mutation, false, fn)
}

// callCancel is call for a cancel of every open order on one symbol
// (spot, margin, futures, algo): sending it again does nothing the first
// send did not mean to do (it cancels what is open on the symbol then,
// orders placed meanwhile included, which is the point), so an unknown
// outcome (5xx, no answer, -1001/-1006/-1007) is repeated at once like a
// failed read instead of costing a re-list of every product first (issue
// 12 item 4: cancels are idempotent). Under a 5xx storm the re-lists,
// 40–80 weight each on /fapi and /api, were what emptied the minute's
// budget. The caller's re-list still confirms what is left.
func (e *Executor) callCancel(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	return e.callRepeating(ctx, op, true, true, fn)
}

// callRepeating is call; idempotent says the mutation may be sent again
// when its outcome is unknown (callCancel).
func (e *Executor) callRepeating(ctx context.Context, op string, mutation, idempotent bool, fn func(ctx context.Context) error) error {
	resynced := false
	var last error // the previous attempt's classified error
	for attempt := 0; ; attempt++ {
		cp := &capture{}
		ul := &buildLock{mu: &e.clockMu}
		e.clockMu.RLock()
		err := fn(withBuildLock(withCapture(ctx, cp), ul))
		ul.unlock()
		if err == nil {
			return nil
		}
		if !resynced && apiCode(err) == codeBadTimestamp {
			resynced = true
			e.skew.Rejected()
			if serr := e.clocks.Resync(ctx); serr == nil {
				continue
			}
		}
		status, ra := cp.get()
		cerr := classify(op, mutation, status, ra, err)
		if last != nil && ctx.Err() != nil {
			// The deadline cut this attempt short: the venue's last
			// answer says more than "deadline exceeded".
			return last
		}
		last = cerr
		if !repeatable(cerr, apiCode(err), status, idempotent) {
			return cerr
		}
		if idempotent && errors.Is(cerr, executors.ErrUnknownOutcome) && !e.retry.RepeatUnknown(attempt+1) {
			return cerr
		}
		wait := e.retry.Backoff(attempt, ra)
		if !e.retry.Room(ctx, wallNow(), attempt+1, wait) {
			return cerr
		}
		if throttledStatus(status) {
			// The answer closed the request's buckets for Retry-After
			// (pacer.observe): the pacer holds the next attempt that
			// long, with every other request on those limits, and tells
			// the operator of a long wait once for them all.
			wait = e.retry.Backoff(attempt, 0)
		}
		e.env.Logger.Debug("binance: retrying", "account", e.acct.Name, "op", op, "attempt", attempt+1, "class", executors.ClassOf(cerr), "after", wait)
		if serr := e.env.Sleep(ctx, wait); serr != nil {
			return cerr
		}
	}
}

// repeatable reports whether the request that failed with err (HTTP
// status, 0 when no answer came; code, Binance's error code) may simply be sent again: a read that
// failed for a passing reason (no answer, a timeout, a reset connection,
// a 5xx, -1001/-1006/-1007), or a rate-limit answer (the venue did not
// execute the request). A 4xx page that is not Binance's (a WAF block)
// is not retried here: it does not pass in seconds. A mutation whose
// outcome is unknown is not either (its caller re-reads, re-lists, before
// it repeats it) unless it is idempotent (callCancel), when it is
// repeated for the same passing reasons as a read.
func repeatable(err error, code int64, status int, idempotent bool) bool {
	if errors.Is(err, executors.ErrRateLimited) {
		return true
	}
	if !errors.Is(err, executors.ErrTransient) && (!idempotent || !errors.Is(err, executors.ErrUnknownOutcome)) {
		return false
	}
	switch code {
	case codeDisconnected, codeUnknownStatus, codeTimeout:
		return true
	}
	return status == 0 || status >= http.StatusInternalServerError
}

// buildLock is clockMu held for reading while a request is being built;
// unlock releases it once, whichever of the transport and call comes first.
type buildLock struct {
	once sync.Once
	mu   *sync.RWMutex
}

func (b *buildLock) unlock() { b.once.Do(b.mu.RUnlock) }

type buildLockKey struct{}

func withBuildLock(ctx context.Context, b *buildLock) context.Context {
	return context.WithValue(ctx, buildLockKey{}, b)
}

// unlockBuilt releases the build lock of the call that made req, if any:
// the request is built and signed, its timestamp taken.
func unlockBuilt(req *http.Request) {
	if b, ok := req.Context().Value(buildLockKey{}).(*buildLock); ok {
		b.unlock()
	}
}

// signed sends a signed request the SDK cannot (see doc.go), built exactly
// as the SDK builds one (client.go parseRequest): query params sorted by
// url.Values.Encode, recvWindow then timestamp added to the query, the form
// in the body, the signature computed over query+body and appended last to
// the query; the spot family turns %40 back into @ in both. It returns the
// body of a 2xx response, or a *common.APIError like the SDK. Callers hold
// clockMu for reading (call does).
func (e *Executor) signed(ctx context.Context, method, path string, query, form url.Values) ([]byte, error) {
	fam := familyOf(path)
	req, err := buildSigned(signParams{
		base: e.bases[fam], method: method, path: path, query: query, form: form,
		apiKey: e.acct.APIKey.Reveal(), secret: e.acct.Secret.Reveal(), keyType: e.keyType,
		timestamp: wallNow().UnixMilli() - e.offset, spotFamily: fam == famSpot,
	})
	if err != nil {
		return nil, signingError(method+" "+path, err)
	}
	req = req.WithContext(ctx)
	resp, err := e.https[fam].Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= http.StatusBadRequest {
		return nil, decodeAPIError(data)
	}
	return data, nil
}

// resign stamps a signed request with the current time and signs it
// again, at the moment the transport sends it (after any wait for
// budget), so that a request queued behind pacing is never rejected -1021
// for a timestamp taken before the wait (issue 12 item 2). Both the SDK
// and signed build the query with the signature as its last parameter and
// sign query+body (EXCHANGES.md §1.1); resign keeps every other byte as
// built. A request without a signature (public, server time) is sent as
// it is; so is one whose query is not in that shape.
func (e *Executor) resign(req *http.Request) (*http.Request, error) {
	raw := req.URL.RawQuery
	i := strings.LastIndex(raw, "&signature=")
	if i < 0 || strings.Contains(raw[i+1:], "&") {
		return req, nil
	}
	query := raw[:i]
	ts := strings.Index("&"+query, "&timestamp=")
	if ts < 0 {
		return req, nil
	}
	end := strings.IndexByte(query[ts:], '&')
	if end < 0 {
		end = len(query) - ts
	}
	e.clockMu.RLock()
	now := wallNow().UnixMilli() - e.offset
	e.clockMu.RUnlock()
	query = query[:ts] + "timestamp=" + strconv.FormatInt(now, 10) + query[ts+end:]
	var body []byte
	if req.GetBody != nil && req.ContentLength != 0 {
		rc, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		body, err = io.ReadAll(rc)
		_ = rc.Close()
		if err != nil {
			return nil, err
		}
	}
	sf, err := common.SignFunc(e.keyType)
	if err != nil {
		return nil, signingError(req.Method+" "+req.URL.Path, err)
	}
	sig, err := sf(e.acct.Secret.Reveal(), query+string(body))
	if err != nil {
		return nil, signingError(req.Method+" "+req.URL.Path, err)
	}
	out := req.Clone(req.Context())
	u := *req.URL
	u.RawQuery = query + "&" + url.Values{"signature": {*sig}}.Encode()
	out.URL = &u
	out.Body = req.Body
	return out, nil
}

// signParams is everything one signed request is built from.
type signParams struct {
	base, method, path string
	query, form        url.Values
	apiKey, secret     string
	keyType            string
	timestamp          int64
	recvWindow         int64
	spotFamily         bool
}

// buildSigned builds the HTTP request exactly as the SDK would.
func buildSigned(p signParams) (*http.Request, error) {
	q := url.Values{}
	for k, v := range p.query {
		q[k] = append([]string(nil), v...)
	}
	if p.recvWindow > 0 {
		q.Set("recvWindow", fmt.Sprint(p.recvWindow))
	}
	q.Set("timestamp", fmt.Sprint(p.timestamp))
	queryString := q.Encode()
	bodyString := p.form.Encode()
	if p.spotFamily {
		queryString = strings.ReplaceAll(queryString, "%40", "@")
		bodyString = strings.ReplaceAll(bodyString, "%40", "@")
	}
	sf, err := common.SignFunc(p.keyType)
	if err != nil {
		return nil, err
	}
	sig, err := sf(p.secret, queryString+bodyString)
	if err != nil {
		return nil, err
	}
	v := url.Values{}
	v.Set("signature", *sig)
	queryString += "&" + v.Encode()
	var body io.Reader = http.NoBody
	if bodyString != "" {
		body = strings.NewReader(bodyString)
	}
	req, err := http.NewRequest(p.method, p.base+p.path+"?"+queryString, body)
	if err != nil {
		return nil, err
	}
	if bodyString != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("X-MBX-APIKEY", p.apiKey)
	return req, nil
}

func decodeAPIError(data []byte) error {
	ae := new(common.APIError)
	if err := jsonUnmarshal(data, ae); err != nil || !ae.IsValid() {
		ae.Response = data
	}
	return ae
}
