package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Two accounts reach a manual step at once on a terminal: they take turns
// on the one input reader, each answer goes to one step, and text typed
// ahead (both answers and the confirmation at once) is not lost.
func TestManualStepsShareTheInput(t *testing.T) {
	pb := filepath.Join(t.TempDir(), "two-humans.yaml")
	if err := os.WriteFile(pb, []byte(`name: two-humans
targets: {all: true}
steps:
  - id: freeze
    action: orders.cancel_all
    retries: 1
  - id: human
    action: manual
    with: {instructions: "rotate the key of {{ .Account.Name }}"}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := demoRunIn(t, true, "execute\ndone\ndone\n", nil, pb)
	if code != ExitOK {
		t.Fatalf("exit %d, want %d (both manual steps confirmed)\n%s", code, ExitOK, out)
	}
	if n := strings.Count(out, "done (confirmed by the operator)"); n != 2 {
		t.Errorf("confirmed manual steps = %d, want 2\n%s", n, out)
	}
}
