package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestNeverPrinted(t *testing.T) {
	const plain = "s3cr3t-value-xyz"
	v := New(plain)
	type holder struct {
		Name string
		Key  Value
	}
	h := holder{Name: "acct", Key: v}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		outs = append(outs, fmt.Sprintf(verb, v), fmt.Sprintf(verb, h), fmt.Sprintf(verb, &h))
	}
	j, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, string(j))
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "key", v, "holder", h)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "key", v)
	outs = append(outs, buf.String())
	for _, o := range outs {
		if strings.Contains(o, plain) {
			t.Errorf("secret leaked in %q", o)
		}
	}
	if !strings.Contains(string(j), Redacted) {
		t.Errorf("JSON %s does not show %s", j, Redacted)
	}
	if v.Reveal() != plain {
		t.Errorf("Reveal = %q", v.Reveal())
	}
}

func TestMask(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", "****"},
		{"short", "****"},
		{"12345678", "****"},
		{"abcdefghijkl", "abcd…ijkl"},
	} {
		if got := Mask(tt.in); got != tt.want {
			t.Errorf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
