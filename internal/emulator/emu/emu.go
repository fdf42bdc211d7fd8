// Package emu holds what the emulator core and its venues share: the venue
// interface, the request-log entry each request annotates, the emulator
// clock (with injectable skew), and scripted faults. It imports no other
// project package.
package emu

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"time"
)

// Venue is one emulated exchange mounted under a path prefix.
//
// The core strips the prefix before calling Handler, so the venue sees (and
// verifies signatures over) exactly the path the real exchange would.
type Venue interface {
	// Name is "binance", "kucoin" or "kucoin-futures" (also the path prefix without "/").
	Name() string
	Handler() http.Handler
	// Snapshot returns the venue's full current state, JSON-serialisable.
	Snapshot() any
	// Reset restores the state the venue was loaded with.
	Reset()
}

// Kind of a request in the log.
const (
	KindRead     = "read"
	KindMutation = "mutation"
	KindPublic   = "public"
	KindAdmin    = "admin"
)

// Entry is one line of the request log (GET /_emulator/requests).
type Entry struct {
	Seq      int64         `json:"seq"`
	Time     time.Time     `json:"time"`
	Venue    string        `json:"venue"`
	Method   string        `json:"method"`
	Path     string        `json:"path"`            // without the venue prefix
	Query    string        `json:"query,omitempty"` // as sent, credential parameters (passphrase, signature, secret) redacted
	Key      string        `json:"key,omitempty"`   // API key that signed (public id)
	Account  string        `json:"account,omitempty"`
	Endpoint string        `json:"endpoint,omitempty"` // route name, e.g. "DELETE /api/v3/openOrders"
	Kind     string        `json:"kind"`
	Weight   int           `json:"weight,omitempty"`
	Status   int           `json:"status"`
	Code     string        `json:"code,omitempty"`  // venue error code, if any
	Fault    string        `json:"fault,omitempty"` // injected fault, if any
	Duration time.Duration `json:"duration_ns"`

	// Set on the scripted attacker's requests (Kind is KindAttacker).
	Attacker string `json:"attacker,omitempty"` // the attacker's id
	Action   string `json:"action,omitempty"`   // what it tried: spot-order, withdraw, create-key, discover…
	Accepted *bool  `json:"accepted,omitempty"` // whether the venue accepted it
}

type entryKey struct{}

// WithEntry attaches e to ctx (the core does this for every request).
func WithEntry(ctx context.Context, e *Entry) context.Context {
	return context.WithValue(ctx, entryKey{}, e)
}

// Annotate returns the log entry of r, for the venue to fill in Key, Kind,
// Endpoint, Weight and Code. It never returns nil.
func Annotate(r *http.Request) *Entry {
	if e, ok := r.Context().Value(entryKey{}).(*Entry); ok && e != nil {
		return e
	}
	return &Entry{}
}

// Clock is the emulator's notion of "now": real time plus a skew that
// faults can change at run time. Safe for concurrent use.
type Clock struct {
	mu   sync.Mutex
	base func() time.Time
	skew time.Duration
}

// NewClock returns a clock over base (nil: time.Now).
func NewClock(base func() time.Time) *Clock {
	if base == nil {
		base = time.Now
	}
	return &Clock{base: base}
}

// Now returns the emulator's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base().Add(c.skew)
}

// SetSkew sets how far the emulator's clock is ahead of real time.
func (c *Clock) SetSkew(d time.Duration) {
	c.mu.Lock()
	c.skew = d
	c.mu.Unlock()
}

// Skew returns the current skew.
func (c *Clock) Skew() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.skew
}

// RemoteIP is the address r came from, without its port (the client's
// IP, which IP limits and whitelists are about).
func RemoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// WriteJSON writes v with status and Content-Type application/json.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
