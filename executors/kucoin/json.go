package kucoin

import (
	"bytes"
	"encoding/json"
	"math/big"
	"strings"
	"time"
)

// flex is a decimal that KuCoin sends as a JSON string or a JSON number
// (futures); it keeps the text exactly as sent.
type flex string

// UnmarshalJSON implements json.Unmarshaler.
func (f *flex) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*f = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flex(s)
		return nil
	}
	*f = flex(b)
	return nil
}

// String returns the text.
func (f flex) String() string { return string(f) }

// rat parses a decimal ("" and junk are zero).
func rat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(strings.TrimSpace(s))
	if !ok {
		return new(big.Rat)
	}
	return r
}

// isZero reports whether the decimal s is zero (or empty).
func isZero(s string) bool { return rat(s).Sign() == 0 }

// isPositive reports whether the decimal s is > 0.
func isPositive(s string) bool { return rat(s).Sign() > 0 }

// decimals is the number of fractional digits of s.
func decimals(s string) int {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return len(s) - i - 1
	}
	return 0
}

// addDec adds decimal strings exactly, keeping the largest scale.
func addDec(xs ...string) string {
	sum, scale := new(big.Rat), 0
	for _, x := range xs {
		sum.Add(sum, rat(x))
		scale = max(scale, decimals(x))
	}
	return sum.FloatString(scale)
}

// subDec returns a - b exactly.
func subDec(a, b string) string {
	return new(big.Rat).Sub(rat(a), rat(b)).FloatString(max(decimals(a), decimals(b)))
}

// msTime converts KuCoin's millisecond timestamps (0: zero time).
func msTime(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	// Futures orderTime is in nanoseconds; anything past year 3000 in ms is not ms.
	if ms > 32503680000000 {
		return time.Unix(0, ms).UTC()
	}
	return time.UnixMilli(ms).UTC()
}
