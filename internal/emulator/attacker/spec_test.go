package attacker

import (
	"strings"
	"testing"
	"time"
)

func TestParseSpec(t *testing.T) {
	tests := []struct {
		in       string
		want     string // canonical form
		interval time.Duration
		err      string
	}{
		{in: "binance:fund-master", want: "binance:fund-master:rate=2/s,withdraw=on", interval: 500 * time.Millisecond},
		{in: "binance:fund-master/bot-1:rate=5/s,withdraw=off", want: "binance:fund-master/bot-1:rate=5/s,withdraw=off", interval: 200 * time.Millisecond},
		{in: "KuCoin:kc-master/kc-bot:rate=30/m,subkeys=off", want: "kucoin:kc-master/kc-bot:rate=30/m,withdraw=on,subkeys=off", interval: 2 * time.Second},
		{in: "binance:m:key=AbCdEf123456,address=0xa77ac4e5a77ac4e5a77ac4e5a77ac4e5a77ac4e5", want: "binance:m:rate=2/s,withdraw=on,key=AbCdEf123456,address=0xa77ac4e5a77ac4e5a77ac4e5a77ac4e5a77ac4e5", interval: 500 * time.Millisecond},
		{in: "binance:m:rate=50/s", want: "binance:m:rate=50/s,withdraw=on", interval: 20 * time.Millisecond},
		{in: "binance", err: "want VENUE:ACCOUNT"},
		{in: "ftx:m", err: `unknown venue "ftx"`},
		{in: "binance:m:rate=51/s", err: "more than 50"},
		{in: "binance:m:rate=-1/s", err: "positive"},
		{in: "binance:m:rate=5", err: "want N/s"},
		{in: "binance:m:rate=5/d", err: `unit "d"`},
		{in: "binance:m:speed=5/s", err: `unknown option "speed"`},
		{in: "binance:m:withdraw", err: "want NAME=VALUE"},
		{in: "binance:m:withdraw=sometimes", err: "not on or off"},
		{in: "binance:bad name", err: "not a valid name"},
		{in: "binance:m/", err: ""},
		{in: "binance:m:key=short", err: "not an API key"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, err := ParseSpec(tt.in)
			if tt.err != "" || tt.want == "" {
				if tt.err == "" {
					// "binance:m/" has an empty sub: the account alone.
					if err != nil || s.Sub != "" {
						t.Fatalf("got %+v, %v; want the account alone", s, err)
					}
					return
				}
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an error with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if s.Interval != tt.interval {
				t.Errorf("interval: got %v, want %v", s.Interval, tt.interval)
			}
			again, err := ParseSpec(s.String())
			if err != nil || again.String() != s.String() {
				t.Errorf("round trip: got %q, %v", again.String(), err)
			}
		})
	}
}

func TestRoundTo(t *testing.T) {
	tests := []struct {
		x    float64
		step string
		up   bool
		want string
	}{
		{0.000155, "0.00001000", true, "0.00016"},
		{0.000155, "0.00001000", false, "0.00015"},
		{57825.45, "0.01", false, "57825.45"},
		{3.0000000001, "1", true, "3"},
		{0.2, "1", true, "1"},
	}
	for _, tt := range tests {
		if got := roundTo(tt.x, tt.step, tt.up); got != tt.want {
			t.Errorf("roundTo(%v, %s, %v): got %s, want %s", tt.x, tt.step, tt.up, got, tt.want)
		}
	}
}
