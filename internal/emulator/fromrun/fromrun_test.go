package fromrun

import (
	"strings"
	"testing"

	"github.com/panicbutton/panicbutton/internal/audit"
)

func TestBuildBadInput(t *testing.T) {
	empty := t.TempDir()
	// A trail that records no read of any account.
	noReads := t.TempDir()
	log, err := audit.Create(noReads, "r1", audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := log.Append(audit.Event{Phase: "start", Result: map[string]any{"accounts": []string{"a"}}}); err != nil {
		t.Fatal(err)
	}
	_ = log.Close()
	for _, tc := range []struct {
		name, dir, want string
	}{
		{"no trail", empty, "from-run"},
		{"no reads", noReads, "records no balance snapshot or key inventory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Build(tc.dir, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}
