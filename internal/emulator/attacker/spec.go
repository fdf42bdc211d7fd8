// Package attacker is the emulator's scripted attacker: a loop that uses one
// API key through the emulator's own signed HTTP surface, the way the bots
// of the Syscoin and 3Commas incidents used leaked keys. It places orders on
// every product the key can trade, at a given rate; submits a withdrawal to
// an outside address when the key may withdraw; and on KuCoin creates a
// sub-account key for itself when its key can, then uses that one too.
//
// Every request it sends is signed with the key and goes to the emulator's
// listener, so signatures, permissions, IP restrictions, weights,
// order-rate limits and balances all apply to it. The emulator core marks
// its requests in the request log (kind "attacker") and reports its
// counters (GET /_emulator/attacker). STATE.md documents the SPEC syntax.
package attacker

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Spec says which key an attacker uses and how it behaves.
//
//	VENUE:ACCOUNT[/SUB][:OPTION,OPTION...]
//
// Options: rate=N/s|N/m (actions per second or minute, default 2/s, at most
// 50/s), withdraw=on|off (default on: try when the key may withdraw),
// subkeys=on|off (KuCoin, default on: create a sub-account key when the key
// can), key=API_KEY (which of the account's keys; default its first usable
// one), address=ADDR (withdrawal destination; default an outside address
// that fits the network).
type Spec struct {
	Venue    string        `json:"venue"`
	Account  string        `json:"account"`
	Sub      string        `json:"sub,omitempty"`
	Key      string        `json:"key,omitempty"`
	Interval time.Duration `json:"-"` // time between actions (1/rate)
	Rate     string        `json:"rate"`
	Withdraw bool          `json:"withdraw"`
	SubKeys  bool          `json:"subkeys"`
	Address  string        `json:"address,omitempty"`
}

// MaxRate is the highest rate an attacker may run at (actions per second).
const MaxRate = 50

// DefaultRate is the rate when the spec gives none.
const DefaultRate = "2/s"

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]*$`)

// ID is the attacker's name: venue:account[/sub], plus ":key=KEY" when
// the spec names one.
func (s Spec) ID() string {
	id := s.Venue + ":" + s.Account
	if s.Sub != "" {
		id += "/" + s.Sub
	}
	if s.Key != "" {
		id += ":key=" + s.Key
	}
	return id
}

// String is the spec in canonical form (ParseSpec reads it back).
func (s Spec) String() string {
	out := s.Venue + ":" + s.Account
	if s.Sub != "" {
		out += "/" + s.Sub
	}
	opts := []string{"rate=" + s.Rate, "withdraw=" + onOff(s.Withdraw)}
	if s.Venue == "kucoin" {
		opts = append(opts, "subkeys="+onOff(s.SubKeys))
	}
	if s.Key != "" {
		opts = append(opts, "key="+s.Key)
	}
	if s.Address != "" {
		opts = append(opts, "address="+s.Address)
	}
	return out + ":" + strings.Join(opts, ",")
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// ParseSpec reads VENUE:ACCOUNT[/SUB][:OPTIONS] (see Spec).
func ParseSpec(text string) (Spec, error) {
	s := Spec{Rate: DefaultRate, Withdraw: true, SubKeys: true}
	text = strings.TrimSpace(text)
	venue, rest, ok := strings.Cut(text, ":")
	if !ok || rest == "" {
		return Spec{}, fmt.Errorf("attacker %q: want VENUE:ACCOUNT[/SUB][:rate=N/s,withdraw=on|off,subkeys=on|off,key=K,address=A]", text)
	}
	s.Venue = strings.ToLower(venue)
	who, opts, _ := strings.Cut(rest, ":")
	s.Account, s.Sub, _ = strings.Cut(who, "/")
	if opts != "" {
		for _, opt := range strings.Split(opts, ",") {
			name, value, ok := strings.Cut(strings.TrimSpace(opt), "=")
			if !ok || value == "" {
				return Spec{}, fmt.Errorf("attacker %q: option %q: want NAME=VALUE", text, opt)
			}
			var err error
			switch strings.ToLower(name) {
			case "rate":
				s.Rate = value
			case "withdraw":
				s.Withdraw, err = parseOnOff(value)
			case "subkeys":
				s.SubKeys, err = parseOnOff(value)
			case "key":
				s.Key = value
			case "address":
				s.Address = value
			default:
				return Spec{}, fmt.Errorf("attacker %q: unknown option %q (known: rate, withdraw, subkeys, key, address)", text, name)
			}
			if err != nil {
				return Spec{}, fmt.Errorf("attacker %q: %s: %w", text, name, err)
			}
		}
	}
	if err := s.Validate(); err != nil {
		return Spec{}, fmt.Errorf("attacker %q: %w", text, err)
	}
	return s, nil
}

func parseOnOff(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "on", "true", "yes", "1":
		return true, nil
	case "off", "false", "no", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not on or off", v)
}

// Validate checks the spec and sets Interval from Rate.
func (s *Spec) Validate() error {
	switch s.Venue {
	case "binance", "kucoin":
	default:
		return fmt.Errorf("unknown venue %q (binance or kucoin)", s.Venue)
	}
	if !nameRE.MatchString(s.Account) {
		return fmt.Errorf("account %q is not a valid name", s.Account)
	}
	if s.Sub != "" && !nameRE.MatchString(s.Sub) {
		return fmt.Errorf("sub-account %q is not a valid name", s.Sub)
	}
	if s.Key != "" && !regexp.MustCompile(`^[A-Za-z0-9-]{8,128}$`).MatchString(s.Key) {
		return fmt.Errorf("key %q is not an API key", s.Key)
	}
	if s.Rate == "" {
		s.Rate = DefaultRate
	}
	iv, err := ParseRate(s.Rate)
	if err != nil {
		return err
	}
	s.Interval = iv
	if strings.ContainsAny(s.Address, " ,:") {
		return fmt.Errorf("address %q has a space, comma or colon", s.Address)
	}
	return nil
}

// ParseRate reads N/s, N/m or N/h (N > 0, at most MaxRate per second) and
// returns the time between two actions.
func ParseRate(r string) (time.Duration, error) {
	num, unit, ok := strings.Cut(strings.TrimSpace(r), "/")
	if !ok {
		return 0, fmt.Errorf("rate %q: want N/s, N/m or N/h (e.g. 5/s)", r)
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n <= 0 || n != n {
		return 0, fmt.Errorf("rate %q: %q is not a positive number", r, num)
	}
	var per time.Duration
	switch unit {
	case "s":
		per = time.Second
	case "m":
		per = time.Minute
	case "h":
		per = time.Hour
	default:
		return 0, fmt.Errorf("rate %q: unit %q is not s, m or h", r, unit)
	}
	perSecond := n * float64(time.Second) / float64(per)
	if perSecond > MaxRate {
		return 0, fmt.Errorf("rate %q: more than %d actions per second", r, MaxRate)
	}
	return time.Duration(float64(per) / n), nil
}
