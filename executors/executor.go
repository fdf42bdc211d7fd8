package executors

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/panicbutton/panicbutton/executors/internal/budget"
	"github.com/panicbutton/panicbutton/executors/internal/connwarm"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// Account is one configured exchange account with its resolved credentials.
type Account struct {
	Name     string
	Exchange string // "binance", "kucoin"
	Tags     []string
	// KeyType is the Binance key type: "hmac" (default), "ed25519" or "rsa".
	KeyType    string
	APIKey     secret.Value
	Secret     secret.Value // HMAC secret, or PEM private key for ed25519/rsa
	Passphrase secret.Value // KuCoin
	KeyVersion int          // KuCoin: 1, 2 or 3 (default 3)
	// BaseURL points at the venue (or the emulator); empty means production.
	BaseURL string
	// FuturesBaseURL is KuCoin's second host; empty derives it from BaseURL.
	FuturesBaseURL string
	// SubKeys are sub-account keys this team created (KuCoin needs their
	// passphrases to delete or modify them).
	SubKeys []SubKey
}

// SubKey is a sub-account API key known to the accounts file.
type SubKey struct {
	Sub        string // sub-account name (KuCoin subName, Binance e-mail)
	APIKey     string // public key id
	Passphrase secret.Value
	// Secret, when set, lets the executor sign with the sub key itself
	// (cancel that sub-account's orders without minting a temporary key).
	Secret secret.Value
	// KeyType is the Binance key type of Secret ("" or "hmac", "ed25519",
	// "rsa").
	KeyType string
}

// Env is what the process gives every executor: clock, logging, transport.
// Zero fields get sensible defaults from Defaults.
type Env struct {
	Now    func() time.Time
	Sleep  func(ctx context.Context, d time.Duration) error
	Logger *slog.Logger
	// Transport is the base RoundTripper of every HTTP client the executor
	// builds (each client still gets its own http.Client); Defaults sets
	// it to SharedTransport.
	Transport http.RoundTripper
	// Observer, when set, sees every HTTP exchange (status, rate-limit
	// headers) after it completes; used for pacing and benchmarks.
	Observer func(account string, req *http.Request, resp *http.Response, err error)
}

// Defaults fills zero fields.
func (e Env) Defaults() Env {
	if e.Now == nil {
		e.Now = time.Now
	}
	if e.Sleep == nil {
		e.Sleep = SleepContext
	}
	if e.Logger == nil {
		e.Logger = slog.New(slog.DiscardHandler)
	}
	if e.Transport == nil {
		e.Transport = SharedTransport()
	}
	return e
}

// SharedTransport is the process's one HTTP transport, the base of every
// executor built without Env.Transport: one connection pool per host for
// every account, product and temporary key, so that a connection opened
// by one account's burst serves the next burst of any account on the
// same host. Per-client transports (as before) kept their own pools, and
// about half of a run's requests opened a new connection (in production:
// a TCP and a TLS handshake, a round trip or two each); the default's 2
// idle connections per host would do the same after every parallel burst.
// It dials ahead of a burst (connwarm): a freeze's cancels, one per symbol,
// go the moment the listing answers, on connections opened meanwhile.
var SharedTransport = sync.OnceValue(func() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 0 // no limit across hosts: each host has its own below
	t.MaxIdleConnsPerHost = IdleConnsPerHost
	return connwarm.New(t)
})

// IdleConnsPerHost is how many idle connections per host SharedTransport
// keeps: enough for a parallel burst of several accounts on one host (an
// account has up to 128 per-symbol calls in flight).
const IdleConnsPerHost = 512

// SleepContext sleeps for d or until ctx is done.
func SleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Executor performs catalog actions against one account of one exchange.
//
// Do performs the action. Read-only actions must not change anything.
// Mutating actions must call req.Hooks.Intent before every state-changing
// request and must not send it when Intent fails; they call Outcome after
// it. Mutating actions are idempotent in effect: running one again after a
// partial failure converges (cancel_all re-lists, revoke skips keys already
// gone), so the runner may retry them on retryable errors.
//
// Plan, for a mutating action, reads the current state and returns a
// StatusWouldChange (or StatusOK when there is nothing to do) Result whose
// Changes name the exact targets Do would act on now. It never mutates. For
// a read-only action Plan is the same as Do.
//
// Both return errors wrapped in *Error with a class (see errors.go).
type Executor interface {
	// Exchange is the driver name ("binance", "kucoin", …).
	Exchange() string
	Do(ctx context.Context, req Request) (Result, error)
	Plan(ctx context.Context, req Request) (Result, error)
}

// Request is one action for one account.
type Request struct {
	Action string
	Step   string
	Params Params // validated, with defaults applied
	Hooks  Hooks  // never nil when called by the runner; use HooksOrNop
}

// Hooks observe mutations. The runner implements them with the audit trail.
type Hooks interface {
	// Intent records that m is about to be sent. An error means the intent
	// could not be recorded: the executor must not send m and should return
	// the error (it is of class ErrAudit).
	Intent(ctx context.Context, m Mutation) error
	// Outcome records what happened to m: err nil means the exchange
	// accepted it.
	Outcome(ctx context.Context, m Mutation, err error)
}

// OwnStateReader is implemented by Hooks that want to hear from a read
// step (snapshot.balances) that it has read the account's own state, its
// sub-accounts' still to come: the runner then lets the account's own
// order cancels go (they change nothing of a sub-account's) without
// waiting for the sub-accounts' reads, a round trip sooner.
type OwnStateReader interface {
	OwnStateRead()
}

// MutationsSender is implemented by Hooks that want to hear from a
// mutating step that every mutation it set out to make has been sent and
// answered, all it has left being to confirm them (a freeze's re-list,
// and cancels of what that re-list still shows): the runner then lets the
// account's later mutating steps start, so that a key revocation does not
// wait for a confirming read held back by a scarce rate limit. Only
// orders.cancel_all says so: a key revocation's confirming re-lists are
// what the next revocation's look for keys made mid-run reuses (listed
// again otherwise, on a budget of 60 a minute per Binance master), and
// would list the temporary keys the sub-accounts' freeze mints meanwhile.
type MutationsSender interface {
	MutationsSent()
}

// Noticer is implemented by Hooks that relay to the operator, while the
// step runs, what they must hear at once rather than in its result: a
// wait of many seconds the step cannot avoid (the venue's CDN blocking
// the IP, say), so that a silent terminal is not taken for a hung run.
type Noticer interface {
	Notice(text string)
}

// Notice tells r's hooks, if they listen (Noticer), text: one line, no
// secrets.
func (r Request) Notice(text string) {
	if n, ok := r.Hooks.(Noticer); ok {
		n.Notice(text)
	}
}

// NoteOwnStateRead tells r's hooks, if they listen (OwnStateReader), that
// the account's own state has been read.
func (r Request) NoteOwnStateRead() {
	if o, ok := r.Hooks.(OwnStateReader); ok {
		o.OwnStateRead()
	}
}

// NoteMutationsSent tells r's hooks, if they listen (MutationsSender),
// that the step's mutations have been sent and answered; it goes on only
// to confirm them. A request of scope all says nothing: the account's own
// part is done when its sub-accounts' cancels are still to come.
func (r Request) NoteMutationsSent() {
	if r.Params.String("scope") == ScopeAll {
		return
	}
	if m, ok := r.Hooks.(MutationsSender); ok {
		m.MutationsSent()
	}
}

// Mutation is one state-changing request an executor is about to send.
type Mutation struct {
	// ID is stable for the same target across runs, e.g.
	// "cancel:spot:BTCUSDT" or "delete-key:sub1@x:abcd…wxyz"; resume uses it.
	ID     string
	Kind   string // cancel-orders, delete-key, ip-lock-key, strip-key, cancel-withdrawal, close-position, transfer, deadman
	Target string // human description, no secrets
	// Irreversible marks mutations that cannot be undone (key deletion).
	Irreversible bool
	// Request is a redacted summary of what is sent (no secrets).
	Request map[string]string
}

// OrderSetID is a short digest of a set of order ids. Cancel mutations put
// it in their ID ("cancel:spot:BTCUSDT@1a2b3c4d") so that cancelling a
// different set of orders on the same symbol — e.g. orders placed after a
// crash, found when the run is resumed — is a different mutation, while
// the same cancel is recognised as done.
func OrderSetID(ids []string) string {
	s := append([]string(nil), ids...)
	sort.Strings(s)
	sum := sha256.Sum256([]byte(strings.Join(s, "\n")))
	return hex.EncodeToString(sum[:4])
}

// NopHooks accepts every mutation.
type NopHooks struct{}

// Intent implements Hooks.
func (NopHooks) Intent(context.Context, Mutation) error { return nil }

// Outcome implements Hooks.
func (NopHooks) Outcome(context.Context, Mutation, error) {}

// HooksOrNop returns req.Hooks or NopHooks.
func (r Request) HooksOrNop() Hooks {
	if r.Hooks == nil {
		return NopHooks{}
	}
	return r.Hooks
}

// Mutate records the intent of m, runs send, then records its outcome. It
// is the one way executors should send a mutation. When Intent answers
// ErrAlreadyDone (a resumed run whose trail shows m succeeded), nothing is
// sent and Mutate returns nil.
func (r Request) Mutate(ctx context.Context, m Mutation, send func(ctx context.Context) error) error {
	h := r.HooksOrNop()
	if err := h.Intent(ctx, m); err != nil {
		if errors.Is(err, ErrAlreadyDone) {
			return nil // completed before a crash; never send it twice
		}
		return err
	}
	// A mutation is what a steady loop saves its budget for: it goes at
	// once, whatever the loop's pace (WithSteadyBudget).
	err := send(budget.WithoutSteady(ctx))
	h.Outcome(ctx, m, err)
	return err
}

// Status is the result of one (step, account).
type Status string

// Statuses.
const (
	StatusOK          Status = "ok"           // done, nothing changed (or a read)
	StatusChanged     Status = "changed"      // done, something changed, verified
	StatusWouldChange Status = "would-change" // dry-run/plan: something would change
	StatusSkipped     Status = "skipped"      // not run (when: false, aborted, unsupported…)
	StatusFailed      Status = "failed"       // error, or verification failed
	StatusPending     Status = "pending"      // a human must still act
)

// Result is the outcome of one action on one account.
type Result struct {
	Status  Status `json:"status"`
	Summary string `json:"summary"` // one line, for humans
	// Changes are the mutations done (changed) or that would be done
	// (would-change), each naming its exact target.
	Changes []Change `json:"changes,omitempty"`
	// Remaining lists what is still there after a mutation that was meant
	// to remove it (e.g. orders that survived a cancel-all).
	Remaining []Change       `json:"remaining,omitempty"`
	Manual    []ManualStep   `json:"manual,omitempty"`   // steps a human must take
	Findings  []Finding      `json:"findings,omitempty"` // risky set-ups, pending withdrawals…
	Data      any            `json:"data,omitempty"`     // action payload: *Snapshot, []Order, []Key, …
	Counts    map[string]int `json:"counts,omitempty"`   // e.g. {"cancelled": 12, "remaining": 0}
}

// Change is one mutation, done or intended.
type Change struct {
	Kind         string `json:"kind"`
	Target       string `json:"target"`
	Irreversible bool   `json:"irreversible,omitempty"`
	Product      string `json:"product,omitempty"`
	Symbol       string `json:"symbol,omitempty"`
	ID           string `json:"id,omitempty"`
	// Created is when the venue says an order (cancelled, or still open)
	// was placed (zero when unknown or not an order): orders placed during
	// the run show someone trading with the account's keys while it ran.
	Created time.Time `json:"created,omitzero"`
}

// ManualStep is a step the API cannot do.
type ManualStep struct {
	Title        string `json:"title"`
	Instructions string `json:"instructions"`
	// Verify names how the tool can confirm it (e.g. "key_rejected").
	Verify string `json:"verify,omitempty"`
}

// Finding flags something a human should look at.
type Finding struct {
	Severity string `json:"severity"` // high, medium, low, info
	Subject  string `json:"subject"`  // e.g. "key abcd…wxyz (sub bot1)"
	Message  string `json:"message"`
	Fix      string `json:"fix,omitempty"`
	// Code, when set, names the kind of finding for programs (e.g.
	// FindingKeyNotFound).
	Code string `json:"code,omitempty"`
	// Drift marks a change since the operator's baseline (posture-check
	// --baseline); FirstSeen is when a check first saw it.
	Drift     bool      `json:"drift,omitempty"`
	FirstSeen time.Time `json:"first_seen,omitzero"`
}
