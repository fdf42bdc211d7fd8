package emulator

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration that reads and writes JSON as "40ms" (a bare
// number is taken as nanoseconds).
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err2 := json.Unmarshal(b, &n); err2 != nil {
			return fmt.Errorf("duration must be a string like \"40ms\": %w", err)
		}
		*d = Duration(n)
		return nil
	}
	if s == "" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("parse duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// Faults is the run-time fault configuration (POST /_emulator/faults).
// Setting it replaces the previous configuration as a whole.
type Faults struct {
	// Latency is added before every venue response; Jitter adds a uniformly
	// random extra delay in [0, Jitter).
	Latency Duration `json:"latency,omitempty"`
	Jitter  Duration `json:"jitter,omitempty"`
	// ErrorRate is the probability (0..1) that a venue request is answered
	// with a 5xx and a venue-appropriate body instead of being handled.
	ErrorRate float64 `json:"error_rate,omitempty"`
	// Seed seeds the pseudo-random choice of failed requests and jitter
	// (0: a fixed default, so runs are reproducible).
	Seed uint64 `json:"seed,omitempty"`
	// Hang holds matching requests until the client gives up.
	Hang *HangFault `json:"hang,omitempty"`
	// Skew moves the emulator clock ahead (positive) or behind (negative).
	Skew Duration `json:"skew,omitempty"`
	// Handshake is how long a new connection carries nothing after it is
	// opened: what a client pays on the real venue to open a connection
	// before it can send anything (a TCP and a TLS 1.3 handshake: two
	// round trips). A request on a connection younger than that is
	// answered that much later than it would be, less the connection's
	// age: a connection opened while its request waited for another, and
	// used later, has paid it. Over loopback a new connection costs
	// nothing, so without it a run that opens hundreds of connections
	// looks as fast as one that reuses a few.
	Handshake Duration `json:"handshake,omitempty"`
	// Down lists venues that answer every request with 503.
	Down []string `json:"down,omitempty"`
	// Script lists scripted responses, each firing on the next Count
	// matching requests.
	Script []ScriptFault `json:"script,omitempty"`
	// Edge is a CDN's per-IP request limit in front of both KuCoin hosts
	// (EXCHANGES.md §2.6, code 1015: Cloudflare, about 500 requests per
	// 10 s, then a 30 s block). KuCoin's older docs state it and its
	// current ones do not, so it is off unless set.
	Edge *EdgeFault `json:"edge,omitempty"`
}

// EdgeFault answers every KuCoin request of a client IP (both hosts, the
// attacker's excepted: it leaves through another address) with 429 and
// Cloudflare's HTML page for Block, once the IP has sent more than Limit
// requests within the last Window. Requests answered during a block do
// not extend it (what the real edge does then is not documented).
type EdgeFault struct {
	Limit  int      `json:"limit"`
	Window Duration `json:"window"`
	Block  Duration `json:"block"`
}

// ParseEdge reads an edge fault written LIMIT/WINDOW[:BLOCK], e.g.
// "500/10s:30s" (the figures of KuCoin's older docs); the block defaults
// to 30 s.
func ParseEdge(s string) (*EdgeFault, error) {
	rate, block, hasBlock := strings.Cut(s, ":")
	n, window, ok := strings.Cut(rate, "/")
	if !ok {
		return nil, fmt.Errorf("edge %q: want LIMIT/WINDOW[:BLOCK], e.g. 500/10s:30s", s)
	}
	limit, err := strconv.Atoi(n)
	if err != nil || limit <= 0 {
		return nil, fmt.Errorf("edge %q: the limit %q is not a number of requests above zero", s, n)
	}
	w, err := time.ParseDuration(window)
	if err != nil || w <= 0 {
		return nil, fmt.Errorf("edge %q: the window %q is not a duration above zero", s, window)
	}
	b := 30 * time.Second
	if hasBlock {
		if b, err = time.ParseDuration(block); err != nil || b <= 0 {
			return nil, fmt.Errorf("edge %q: the block %q is not a duration above zero", s, block)
		}
	}
	return &EdgeFault{Limit: limit, Window: Duration(w), Block: Duration(b)}, nil
}

// EdgeBody is the body of an edge block: Cloudflare's rate-limit page,
// HTML (KuCoin's SDK fails to parse it), as field reports show it.
const EdgeBody = `<!DOCTYPE html>
<html lang="en-US"><head><title>Access denied | api.kucoin.com used Cloudflare to restrict access</title></head>
<body><h1>Error 1015</h1><h2>You are being rate limited</h2>
<p>The owner of this website (api.kucoin.com) has banned you temporarily from accessing this website.</p></body></html>
`

// HangFault holds the next Count requests matching Venue and Path (empty
// matches any) until the client cancels them or the server closes.
type HangFault struct {
	Venue  string `json:"venue,omitempty"`
	Method string `json:"method,omitempty"`
	Path   string `json:"path,omitempty"`
	Count  int    `json:"count,omitempty"` // 0: every matching request
}

// ScriptFault answers the next Count requests matching Venue, Method and
// Path (empty matches any) with Status, Body and Headers. With After, the
// request is first handled by the venue (its effects happen) and only the
// answer is replaced: the "outcome unknown" case of a 5xx after a cancel.
type ScriptFault struct {
	Venue   string            `json:"venue,omitempty"`
	Method  string            `json:"method,omitempty"`
	Path    string            `json:"path,omitempty"`
	Count   int               `json:"count,omitempty"` // 0 is taken as 1
	Status  int               `json:"status"`
	Body    string            `json:"body,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	After   bool              `json:"after,omitempty"`
}

func (f Faults) validate() error {
	if f.ErrorRate < 0 || f.ErrorRate > 1 {
		return fmt.Errorf("error_rate %v is outside 0..1", f.ErrorRate)
	}
	if f.Latency < 0 || f.Jitter < 0 {
		return fmt.Errorf("latency and jitter must not be negative")
	}
	for i, s := range f.Script {
		if s.Status < 100 || s.Status > 599 {
			return fmt.Errorf("script[%d]: status %d is not an HTTP status", i, s.Status)
		}
		if s.Count < 0 {
			return fmt.Errorf("script[%d]: count %d is negative", i, s.Count)
		}
	}
	if e := f.Edge; e != nil && (e.Limit <= 0 || e.Window <= 0 || e.Block <= 0) {
		return fmt.Errorf("edge: limit, window and block must all be above zero")
	}
	if f.Hang != nil && f.Hang.Count < 0 {
		return fmt.Errorf("hang: count %d is negative", f.Hang.Count)
	}
	return nil
}

func matches(venue, method, path, wantVenue, wantMethod, wantPath string) bool {
	if wantVenue != "" && wantVenue != venue {
		return false
	}
	if wantMethod != "" && !strings.EqualFold(wantMethod, method) {
		return false
	}
	if wantPath != "" && wantPath != path {
		return false
	}
	return true
}

func (f Faults) isDown(venue string) bool {
	for _, d := range f.Down {
		if d == venue {
			return true
		}
	}
	return false
}

// errorBody is the body of an injected 5xx (error_rate) or of a down venue,
// shaped like the venue's own error envelope.
func errorBody(venue string, status int) string {
	switch {
	case venue == "binance":
		if status == 503 {
			return `{"code":-1008,"msg":"Service Unavailable."}`
		}
		return `{"code":-1001,"msg":"Internal error; unable to process your request. Please try again."}`
	case strings.HasPrefix(venue, "kucoin"):
		if status == 503 {
			return `{"code":"503000","msg":"Service unavailable"}`
		}
		return `{"code":"500000","msg":"Internal Server Error"}`
	}
	return `{"error":"internal server error"}`
}
