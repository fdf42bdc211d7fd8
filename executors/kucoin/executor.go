package kucoin

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	sdk "github.com/Kucoin/kucoin-go-sdk"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/internal/clocksync"
	"github.com/panicbutton/panicbutton/executors/internal/retry"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// Exchange is the driver name.
const Exchange = "kucoin"

// Production base URLs.
const (
	ProductionBaseURL        = "https://api.kucoin.com"
	ProductionFuturesBaseURL = "https://api-futures.kucoin.com"
)

// actions lists what the executor supports.
var actions = []string{
	executors.SnapshotBalances,
	executors.OrdersList,
	executors.OrdersCancelAll,
	executors.OrdersDeadman,
	executors.KeysInventory,
	executors.KeysRevoke,
	executors.KeysVerifyRejected,
	executors.WithdrawalsList,
	executors.WithdrawalsCancelPending,
	executors.PositionsClose,
	executors.FundsSweep,
	executors.TradesRecent,
}

// Driver returns the KuCoin driver for the registry.
func Driver() executors.Driver {
	return executors.Driver{
		Exchange: Exchange,
		Actions:  append([]string(nil), actions...),
		New: func(acct executors.Account, env executors.Env) (executors.Executor, error) {
			return New(acct, env)
		},
	}
}

// Executor performs catalog actions against one KuCoin account. It is safe
// for concurrent use.
type Executor struct {
	acct executors.Account
	env  executors.Env
	spot *sdk.ApiService // api.kucoin.com (spot, margin, account, sub-accounts)
	// pacer is the requesters' (a temporary key's creation waits for its
	// budget before it is sent: mintTempKey).
	pacer   *pacer
	futures *sdk.ApiService // api-futures.kucoin.com

	mu   sync.Mutex
	self *apiKeyInfo // the calling key, once read
	// toldBlock is the end of the last edge block a result of this
	// account's told of (one finding per block, not one per step).
	toldBlock time.Time

	// retry is how failed requests are retried (executors/internal/retry).
	retry retry.Policy
	// skew records the server-time offsets measured and the 400002
	// rejections seen (reported by ClockSkew).
	skew *clocksync.Skew
	// edges are the CDN edges in front of the two hosts (one when they
	// share a domain).
	edges []*edge
	// clocks are the two hosts' server clocks (spot, futures): a
	// temporary key's executor adopts them (subExecutor).
	clocks []*serverClock
}

// blockedUntil is the end of the last block of the executor's edges (zero
// when none blocked).
func (x *Executor) blockedUntil() time.Time {
	var until time.Time
	for _, e := range x.edges {
		if _, u := e.state(); u.After(until) {
			until = u
		}
	}
	return until
}

// ClockSkew reports the server-time offsets this executor measured (local
// clock minus KuCoin's, either host) and the 400002 rejections it got: the
// skew a run saw (issue 12 item 2).
func (x *Executor) ClockSkew() (last, maxAbs time.Duration, syncs, rejections int) {
	return x.skew.Report()
}

var _ executors.Executor = (*Executor)(nil)

// New builds the executor for acct. It sends nothing: the server clock is
// synced by the first request.
func New(acct executors.Account, env executors.Env) (*Executor, error) {
	env = env.Defaults()
	if acct.APIKey.IsZero() || acct.Secret.IsZero() || acct.Passphrase.IsZero() {
		return nil, fmt.Errorf("account %s: kucoin needs api_key, secret and passphrase", acct.Name)
	}
	version := acct.KeyVersion
	switch version {
	case 0:
		version = 2
	case 1, 2, 3:
	default:
		return nil, fmt.Errorf("account %s: kucoin key_version %d is not 1, 2 or 3", acct.Name, acct.KeyVersion)
	}
	base, futures, err := baseURLs(acct.BaseURL, acct.FuturesBaseURL)
	if err != nil {
		return nil, fmt.Errorf("account %s: %w", acct.Name, err)
	}
	client := newHTTPClient(env.Transport)
	pc := newPacer(env)
	skew := &clocksync.Skew{}
	creds := credentials{key: acct.APIKey, secret: acct.Secret, passphrase: acct.Passphrase, version: version}
	var edges []*edge
	var clocks []*serverClock
	mk := func(venue, baseURL string) *sdk.ApiService {
		// No key is given to the SDK: its signer would sign the encoded
		// query and could not send version 3. The requester signs. Each
		// host has its own clock sync: a timestamp rejected by one host is
		// resynced against that host.
		e := edgeOf(baseURL)
		edges = append(edges, e)
		clock := newServerClock(client, env.Now, baseURL)
		clock.skew, clock.pacer, clock.edge, clock.venue = skew, pc, e, venue
		clocks = append(clocks, clock)
		return sdk.NewApiService(
			sdk.ApiBaseURIOption(baseURL),
			sdk.ApiRequesterOption(&requester{account: acct.Name, venue: venue, creds: creds,
				client: client, env: env, clock: clock, pacer: pc, edge: e, skew: skew}),
		)
	}
	spot, fut := mk(venueSpot, base), mk(venueFutures, futures) // before edges is read
	return &Executor{
		acct:    acct,
		env:     env,
		spot:    spot,
		futures: fut,
		pacer:   pc,
		retry:   retry.Default,
		skew:    skew,
		edges:   edges,
		clocks:  clocks,
	}, nil
}

// newHTTPClient returns a private client over base (env.Transport,
// executors.SharedTransport by default): the SDK's BasicRequester mutates
// http.DefaultClient, so nothing here ever uses it.
func newHTTPClient(base http.RoundTripper) *http.Client {
	return &http.Client{Transport: base}
}

// baseURLs resolves the spot and futures base URLs of an account.
func baseURLs(base, futures string) (string, string, error) {
	base = strings.TrimRight(base, "/")
	futures = strings.TrimRight(futures, "/")
	if base == "" {
		base = ProductionBaseURL
	}
	if futures == "" {
		if strings.HasSuffix(base, "/kucoin") {
			futures = base + "-futures"
		} else {
			futures = ProductionFuturesBaseURL
		}
	}
	for _, u := range []string{base, futures} {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return "", "", fmt.Errorf("kucoin base url %q is not an http(s) URL", u)
		}
	}
	return base, futures, nil
}

// Exchange implements executors.Executor.
func (x *Executor) Exchange() string { return Exchange }

// Do implements executors.Executor.
func (x *Executor) Do(ctx context.Context, req executors.Request) (executors.Result, error) {
	return x.run(ctx, req, false)
}

// Plan implements executors.Executor: reads are real, mutating actions
// report the exact targets they would act on and send nothing.
func (x *Executor) Plan(ctx context.Context, req executors.Request) (executors.Result, error) {
	return x.run(ctx, req, true)
}

func (x *Executor) run(ctx context.Context, req executors.Request, plan bool) (executors.Result, error) {
	ctx, blocks := withEdgeBlocks(ctx, req.Notice)
	res, err := x.dispatch(ctx, req, plan)
	if f, until := blocks.finding(); f != nil && x.tell(until) {
		res.Findings = append(res.Findings, *f)
	}
	return res, err
}

// tell reports whether a result should tell of the edge block ending at
// until: the first of this account's results to meet it does.
func (x *Executor) tell(until time.Time) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !until.After(x.toldBlock) {
		return false
	}
	x.toldBlock = until
	return true
}

func (x *Executor) dispatch(ctx context.Context, req executors.Request, plan bool) (executors.Result, error) {
	req.Params = executors.WithDefaults(req.Action, req.Params)
	// When a pool is scarce, its budget goes first to what contains
	// fastest (executors.RequestPriority), and at equal priority to work
	// begun first.
	ctx = executors.WithRequestPriority(ctx, req, x.pacer.p.Now())
	ctx = executors.WithBudgetNotices(ctx, req, "KuCoin", func(pool string) string { return pool + " pool" })
	switch req.Action {
	case executors.SnapshotBalances:
		return x.snapshot(ctx, req)
	case executors.OrdersList:
		return x.ordersList(ctx, req)
	case executors.OrdersCancelAll:
		return x.cancelAllScoped(ctx, req, plan)
	case executors.OrdersDeadman:
		return x.deadman(ctx, req, plan)
	case executors.KeysInventory:
		return x.keysInventory(ctx, req)
	case executors.KeysRevoke:
		res, err := x.keysRevoke(ctx, req, plan)
		executors.NoteKeysNotFound(&res)
		return res, err
	case executors.KeysVerifyRejected:
		return x.verifyRejected(ctx, req)
	case executors.WithdrawalsList:
		return x.withdrawalsList(ctx, req)
	case executors.WithdrawalsCancelPending:
		return x.cancelWithdrawals(ctx, req, plan)
	case executors.PositionsClose:
		return x.closePositions(ctx, req, plan)
	case executors.FundsSweep:
		return x.sweep(ctx, req, plan)
	case executors.TradesRecent:
		return x.tradesRecent(ctx, req)
	}
	return executors.Result{}, &executors.Error{Class: executors.ErrUnsupported, Op: req.Action,
		Msg: "action not supported by the kucoin executor"}
}

// mask is secret.Mask, for key ids in results and mutation targets.
func mask(id string) string { return secret.Mask(id) }

// ownKey returns the account's own public key id (it is not secret, but it
// is only ever shown masked).
func (x *Executor) ownKey() string { return x.acct.APIKey.Reveal() }

// apiKeyInfo is GET /api/v1/user/api-key and an item of GET /api/v1/sub/api-key.
type apiKeyInfo struct {
	SubName     string `json:"subName"`
	Remark      string `json:"remark"`
	APIKey      string `json:"apiKey"`
	APIVersion  int    `json:"apiVersion"`
	Permission  string `json:"permission"`
	IPWhitelist string `json:"ipWhitelist"`
	CreatedAt   int64  `json:"createdAt"`
	UID         any    `json:"uid"`
	IsMaster    bool   `json:"isMaster"`
}

// whoami reads (once) the calling key's own record.
func (x *Executor) whoami(ctx context.Context) (*apiKeyInfo, error) {
	x.mu.Lock()
	self := x.self
	x.mu.Unlock()
	if self != nil {
		return self, nil
	}
	var k apiKeyInfo
	if err := x.call(ctx, x.spot, "read calling api key", false, http.MethodGet, "/api/v1/user/api-key", nil, &k); err != nil {
		return nil, err
	}
	x.mu.Lock()
	x.self = &k
	x.mu.Unlock()
	return &k, nil
}
