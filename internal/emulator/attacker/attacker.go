package attacker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

// Header carries the mark the emulator core recognises as its own
// attacker's request: "TOKEN ID ACTION" (the token is per server, so no
// outside client can pass for the attacker).
const Header = "X-Emulator-Attacker"

// Config is what an attacker needs besides its spec.
type Config struct {
	// BaseURL is the emulator's listener ("http://127.0.0.1:PORT").
	BaseURL string
	// Key is the leaked key the attacker starts with.
	Key emu.Credential
	// Token marks the attacker's requests (see Header).
	Token string
	// Now is the emulator clock (request timestamps, report times).
	Now func() time.Time
	// Client sends the requests (default: a client with a 5 s timeout).
	Client *http.Client
	// KeyAlive, if set, tells whether the venue still knows a key; the
	// report uses it to count what was accepted after the key died.
	KeyAlive func(apiKey string) bool
}

// Counts are the outcomes of one kind of action.
type Counts struct {
	Attempts int `json:"attempts"`
	Accepted int `json:"accepted"`
	Refused  int `json:"refused"`
	Failed   int `json:"failed,omitempty"` // no answer (transport error, 5xx)
}

// KeyReport is what the attacker did with one key.
type KeyReport struct {
	APIKey  string `json:"api_key"`
	Account string `json:"account"`
	// CreatedByAttacker is set for a sub-account key the attacker made for
	// itself (KuCoin).
	CreatedByAttacker bool `json:"created_by_attacker,omitempty"`
	Counts
	LastAccepted *time.Time        `json:"last_accepted,omitempty"` // when the last accepted action was sent
	LastRefusal  string            `json:"last_refusal,omitempty"`
	Actions      map[string]Counts `json:"actions"`
	// KeyDeleted is when the attacker first found its key gone from the
	// venue (checked before each action); AcceptedAfterDeleted counts the
	// actions sent after that which the venue accepted (it should be 0).
	KeyDeleted           *time.Time `json:"key_deleted,omitempty"`
	AcceptedAfterDeleted int        `json:"accepted_after_deleted"`
}

// Report is GET /_emulator/attacker's view of one attacker. Attempts count
// actions (orders, withdrawals, key creations), not the reads it makes to
// find what to trade (Reads).
type Report struct {
	ID      string     `json:"id"`
	Spec    string     `json:"spec"`
	Running bool       `json:"running"`
	Started time.Time  `json:"started"`
	Stopped *time.Time `json:"stopped,omitempty"`
	Counts
	Reads                int         `json:"reads"`
	AcceptedAfterDeleted int         `json:"accepted_after_deleted"` // over every key: should be 0
	LastAccepted         *time.Time  `json:"last_accepted,omitempty"`
	Products             []string    `json:"products"` // what it found it can do: spot, margin, isolated, usdm, coinm, withdraw, create-key…
	Note                 string      `json:"note,omitempty"`
	Keys                 []KeyReport `json:"keys"`
}

// Attacker is one running (or stopped) attack loop.
type Attacker struct {
	spec   Spec
	cfg    Config
	player player

	mu       sync.Mutex
	started  time.Time
	stopped  time.Time
	running  bool
	reads    int
	products []string
	note     string
	keys     []*keyStats
	accepted []time.Time // emulator-clock times of accepted actions (bounded)

	cancel context.CancelFunc
	done   chan struct{}
}

type keyStats struct {
	KeyReport
}

// player is one venue's way of attacking.
type player interface {
	// discover finds what the key can do (reads; may fail when the key is
	// dead, leaving the last targets in place).
	discover(ctx context.Context)
	// act performs action number n.
	act(ctx context.Context, n int)
}

// maxAcceptedTimes bounds the accepted-action times kept for AcceptedSince.
const maxAcceptedTimes = 100000

// rediscoverEvery is how often the attacker re-reads what it can trade.
const rediscoverEvery = 10 * time.Second

// New returns an attacker (not yet running).
func New(spec Spec, cfg Config) (*Attacker, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 5 * time.Second}
	}
	a := &Attacker{spec: spec, cfg: cfg}
	a.key(cfg.Key.APIKey, cfg.Key.Account, false)
	switch spec.Venue {
	case "binance":
		p, err := newBinance(a, cfg.Key)
		if err != nil {
			return nil, err
		}
		a.player = p
	case "kucoin":
		p, err := newKucoin(a, cfg.Key)
		if err != nil {
			return nil, err
		}
		a.player = p
	default:
		return nil, fmt.Errorf("unknown venue %q", spec.Venue)
	}
	return a, nil
}

// Spec returns the attacker's spec.
func (a *Attacker) Spec() Spec { return a.spec }

// Start runs the loop in the background until Stop (or ctx ends).
func (a *Attacker) Start(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	a.mu.Lock()
	a.cancel, a.done = cancel, make(chan struct{})
	a.started, a.running = a.cfg.Now(), true
	a.mu.Unlock()
	go a.loop(ctx)
}

// Stop ends the loop and waits for it.
func (a *Attacker) Stop() {
	a.mu.Lock()
	cancel, done := a.cancel, a.done
	a.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

func (a *Attacker) loop(ctx context.Context) {
	defer func() {
		a.mu.Lock()
		a.running, a.stopped = false, a.cfg.Now()
		a.mu.Unlock()
		close(a.done)
	}()
	a.player.discover(ctx)
	last := time.Now()
	t := time.NewTicker(a.spec.Interval)
	defer t.Stop()
	for n := 0; ; n++ {
		if ctx.Err() != nil {
			return
		}
		if time.Since(last) >= rediscoverEvery {
			a.player.discover(ctx)
			last = time.Now()
		}
		a.player.act(ctx, n)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Report returns the attacker's counters.
func (a *Attacker) Report() Report {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := Report{ID: a.spec.ID(), Spec: a.spec.String(), Running: a.running, Started: a.started,
		Reads: a.reads, Products: append([]string{}, a.products...), Note: a.note, Keys: []KeyReport{}}
	if !a.stopped.IsZero() {
		t := a.stopped
		r.Stopped = &t
	}
	for _, k := range a.keys {
		kr := k.KeyReport
		kr.Actions = map[string]Counts{}
		for name, c := range k.Actions {
			kr.Actions[name] = c
		}
		r.Attempts += kr.Attempts
		r.Accepted += kr.Accepted
		r.Refused += kr.Refused
		r.Failed += kr.Failed
		r.AcceptedAfterDeleted += kr.AcceptedAfterDeleted
		if kr.LastAccepted != nil && (r.LastAccepted == nil || kr.LastAccepted.After(*r.LastAccepted)) {
			t := *kr.LastAccepted
			r.LastAccepted = &t
		}
		r.Keys = append(r.Keys, kr)
	}
	return r
}

// AcceptedSince counts the actions the venue accepted at or after t
// (emulator clock).
func (a *Attacker) AcceptedSince(t time.Time) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	i := sort.Search(len(a.accepted), func(i int) bool { return !a.accepted[i].Before(t) })
	return len(a.accepted) - i
}

func (a *Attacker) key(apiKey, account string, created bool) *keyStats {
	for _, k := range a.keys {
		if k.APIKey == apiKey {
			return k
		}
	}
	k := &keyStats{KeyReport{APIKey: apiKey, Account: account, CreatedByAttacker: created, Actions: map[string]Counts{}}}
	a.keys = append(a.keys, k)
	return k
}

// addKey registers a key the attacker created for itself.
func (a *Attacker) addKey(apiKey, account string) {
	a.mu.Lock()
	a.key(apiKey, account, true)
	a.mu.Unlock()
}

func (a *Attacker) setFound(products []string, note string) {
	a.mu.Lock()
	a.products, a.note = products, note
	a.mu.Unlock()
}

// outcome is the answer to one request.
type outcome struct {
	status int
	body   []byte
	err    error  // transport error
	refuse string // the venue's refusal ("HTTP 401 -2015 …"), empty when accepted
}

func (o outcome) accepted() bool { return o.err == nil && o.refuse == "" && o.status < 300 }

// attempt sends one action with apiKey and counts its outcome.
func (a *Attacker) attempt(ctx context.Context, apiKey, action string, req *http.Request, err error, refusal func(int, []byte) string) outcome {
	dead := false
	if a.cfg.KeyAlive != nil && !a.cfg.KeyAlive(apiKey) {
		dead = true
		a.mu.Lock()
		if k := a.key(apiKey, "", false); k.KeyDeleted == nil {
			t := a.cfg.Now()
			k.KeyDeleted = &t
		}
		a.mu.Unlock()
	}
	var o outcome
	sent := a.cfg.Now()
	if err != nil {
		o = outcome{err: err}
	} else {
		o = a.send(ctx, action, req, refusal)
	}
	if ctx.Err() != nil && o.err != nil {
		return o // stopped mid-request: not an attempt the venue saw
	}
	a.record(apiKey, action, o, dead, sent)
	return o
}

// record counts an action's outcome against the key; dead says the key
// was already gone when the action was sent, at sent.
func (a *Attacker) record(apiKey, action string, o outcome, dead bool, sent time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	k := a.key(apiKey, "", false)
	c := k.Actions[action]
	c.Attempts++
	k.Attempts++
	switch {
	case o.accepted():
		c.Accepted++
		k.Accepted++
		if dead {
			k.AcceptedAfterDeleted++
		}
		// When it was sent: an action sent just before its key died may
		// be answered just after, and that is not the key outliving its
		// deletion.
		t := sent
		k.LastAccepted = &t
		if len(a.accepted) >= maxAcceptedTimes {
			a.accepted = append([]time.Time(nil), a.accepted[len(a.accepted)/2:]...)
		}
		a.accepted = append(a.accepted, t)
	case o.err != nil || o.status >= 500:
		c.Failed++
		k.Failed++
		if o.err != nil {
			k.LastRefusal = "no answer: " + o.err.Error()
		} else {
			k.LastRefusal = o.refuse
		}
	default:
		c.Refused++
		k.Refused++
		k.LastRefusal = o.refuse
	}
	k.Actions[action] = c
}

func (a *Attacker) countRead() {
	a.mu.Lock()
	a.reads++
	a.mu.Unlock()
}

// send performs one request marked as the attacker's action; refusal
// parses the venue's error out of the answer.
func (a *Attacker) send(ctx context.Context, action string, req *http.Request, refusal func(status int, body []byte) string) outcome {
	req = req.WithContext(ctx)
	req.Header.Set(Header, a.cfg.Token+" "+a.spec.ID()+" "+action)
	resp, err := a.cfg.Client.Do(req)
	if err != nil {
		return outcome{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return outcome{status: resp.StatusCode, err: err}
	}
	o := outcome{status: resp.StatusCode, body: body}
	o.refuse = refusal(resp.StatusCode, body)
	return o
}

// decode unmarshals a JSON answer.
func decode(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	return dec.Decode(v)
}
