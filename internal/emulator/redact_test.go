package emulator

import (
	"net/url"
	"testing"

	"github.com/panicbutton/panicbutton/internal/secret"
)

func TestRedactQuery(t *testing.T) {
	r := url.QueryEscape(secret.Redacted)
	tests := []struct {
		name, raw, want string
	}{
		{"empty", "", ""},
		{"nothing to redact, kept byte for byte", "symbol=BTCUSDT&timestamp=1&recvWindow=5000&x=a%2Bb", "symbol=BTCUSDT&timestamp=1&recvWindow=5000&x=a%2Bb"},
		{"kucoin sub-key delete", "apiKey=665a&passphrase=p%40ss+word%21&subName=mmbot01", "apiKey=665a&passphrase=" + r + "&subName=mmbot01"},
		{"binance signature last", "timestamp=1&signature=abcdef0123", "timestamp=1&signature=" + r},
		{"any case, encoded name", "PassPhrase=x&api%53ecret=y&secretKey=z&sign=w", "PassPhrase=" + r + "&apiSecret=" + r + "&secretKey=" + r + "&sign=" + r},
		{"repeated and empty", "passphrase=a&passphrase=&passphrase", "passphrase=" + r + "&passphrase=" + r + "&passphrase=" + r},
		{"stray separators", "&&a=1&", "&&a=1&"},
		{"near misses kept, any passphrase name redacted", "signed=1&design=2&passphrases_ok=", "signed=1&design=2&passphrases_ok=" + r},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := redactQuery(tt.raw); got != tt.want {
				t.Errorf("redactQuery(%q) = %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
}
