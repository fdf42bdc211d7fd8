package executortest

import (
	"net/http"
	"sync"
	"time"
)

// HoldUntil is a transport that holds the requests Hold matches (the
// first, or Every one: a hedged copy too) until a request After matches
// has been sent, before or after them, or Timeout has passed: a test that
// After does not wait for the held requests' answers.
type HoldUntil struct {
	Base        http.RoundTripper
	Hold, After func(*http.Request) bool
	Every       bool
	Timeout     time.Duration

	init, sent sync.Once
	after      chan struct{} // closed once an After request is sent
	mu         sync.Mutex
	held       bool
	timedOut   bool
}

// RoundTrip implements http.RoundTripper.
func (h *HoldUntil) RoundTrip(r *http.Request) (*http.Response, error) {
	h.init.Do(func() { h.after = make(chan struct{}) })
	switch {
	case h.After(r):
		h.sent.Do(func() { close(h.after) })
	case h.Hold(r):
		h.mu.Lock()
		hold := h.Every || !h.held
		h.held = true
		h.mu.Unlock()
		if hold {
			select {
			case <-h.after:
			case <-time.After(h.Timeout):
				h.mu.Lock()
				h.timedOut = true
				h.mu.Unlock()
			}
		}
	}
	return h.Base.RoundTrip(r)
}

// Result says whether a request was held, and whether one was let go by
// the timeout (no After request came while it waited).
func (h *HoldUntil) Result() (held, timedOut bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.held, h.timedOut
}
