// Package secret holds credential values in a type that never prints its
// contents: fmt, log/slog, JSON, YAML and text marshalling all render
// "[REDACTED]". The only way to read the value is Reveal, which call sites
// use exactly where a request is signed.
package secret

import (
	"fmt"
	"log/slog"
)

// Redacted is what a Value prints as, everywhere.
const Redacted = "[REDACTED]"

// Value is a credential (API secret, passphrase, private key, API key).
// The zero Value is empty.
type Value struct {
	v *string // pointer so that copies share nothing printable by reflection walkers like %#v
}

// New wraps s.
func New(s string) Value { return Value{v: &s} }

// Reveal returns the plain value. Call it only to sign or send a request.
func (s Value) Reveal() string {
	if s.v == nil {
		return ""
	}
	return *s.v
}

// IsZero reports whether the value is empty.
func (s Value) IsZero() bool { return s.Reveal() == "" }

// String implements fmt.Stringer.
func (s Value) String() string { return Redacted }

// GoString implements fmt.GoStringer (%#v).
func (s Value) GoString() string { return Redacted }

// Format implements fmt.Formatter so every verb (%s %v %q %x %d …) prints the redaction.
func (s Value) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = f.Write([]byte(`"` + Redacted + `"`))
		return
	}
	_, _ = f.Write([]byte(Redacted))
}

// LogValue implements slog.LogValuer.
func (s Value) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalJSON implements json.Marshaler.
func (s Value) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler (also used by YAML encoders).
func (s Value) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// MarshalYAML implements yaml.Marshaler.
func (s Value) MarshalYAML() (any, error) { return Redacted, nil }

// Mask returns a short, non-secret fingerprint of a public identifier such as
// an API key: its first and last four characters. Values of eight characters
// or fewer are fully masked.
func Mask(id string) string {
	if len(id) <= 8 {
		return "****"
	}
	return id[:4] + "…" + id[len(id)-4:]
}
