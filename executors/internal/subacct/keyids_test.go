package subacct

import (
	"testing"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/secret"
)

func TestCheckKeyIDs(t *testing.T) {
	own, listed, known, stranger := "OWNKEY0123456789abcdef", "LISTED0123456789abcdef", "KNOWN00123456789abcdef", "NOBODY0123456789abcdef"
	c := KeyIDCheck{Venue: "Binance", Account: "main", Own: own,
		Manual: func() executors.ManualStep { return executors.ManualStep{Title: "delete the master key"} },
		Listed: func(id string) bool { return id == listed || id == secret.Mask(listed) },
		Known:  func(id string) bool { return id == known }}
	tests := []struct {
		name    string
		ids     []string
		manual  int
		codes   []string // finding severities
		subject string   // first finding's subject
	}{
		{"own key, twice", []string{own, secret.Mask(own)}, 1, []string{"info", "info"}, "key " + secret.Mask(own)},
		{"listed, masked", []string{" " + secret.Mask(listed) + " ", ""}, 0, nil, ""},
		{"known and gone", []string{known}, 0, []string{"info"}, "key " + secret.Mask(known)},
		{"not found", []string{stranger}, 0, []string{"high"}, "key " + secret.Mask(stranger)},
		{"not found, given masked", []string{secret.Mask(stranger)}, 0, []string{"high"}, "key " + secret.Mask(stranger)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var res executors.Result
			CheckKeyIDs(&res, executors.Params{"key_ids": tt.ids}, c)
			if len(res.Manual) != tt.manual || len(res.Findings) != len(tt.codes) {
				t.Fatalf("manual %d findings %+v; want %d, %v", len(res.Manual), res.Findings, tt.manual, tt.codes)
			}
			for i, f := range res.Findings {
				if f.Severity != tt.codes[i] {
					t.Errorf("finding %d severity %q, want %q", i, f.Severity, tt.codes[i])
				}
			}
			if len(res.Findings) > 0 && res.Findings[0].Subject != tt.subject {
				t.Errorf("subject %q, want %q", res.Findings[0].Subject, tt.subject)
			}
		})
	}
	var res executors.Result
	CheckKeyIDs(&res, executors.Params{"key_ids": []string{own}}, c)
	if want := "the key named in key_ids is this account's own key: Binance has no API to delete it, so it is a manual step"; res.Findings[0].Message != want {
		t.Errorf("message %q, want %q", res.Findings[0].Message, want)
	}
	CheckKeyIDs(&res, executors.Params{"key_ids": []string{stranger}}, c)
	if f := res.Findings[1]; f.Code != executors.FindingKeyNotFound {
		t.Errorf("code %q, want %q", f.Code, executors.FindingKeyNotFound)
	}
}

func TestMaskID(t *testing.T) {
	for _, id := range []string{"abcd…wxyz", "abcd...wxyz"} {
		if got := MaskID(id); got != id {
			t.Errorf("MaskID(%q) = %q, want it unchanged", id, got)
		}
	}
	if got, want := MaskID("0123456789abcdefghij"), secret.Mask("0123456789abcdefghij"); got != want {
		t.Errorf("MaskID = %q, want %q", got, want)
	}
}
