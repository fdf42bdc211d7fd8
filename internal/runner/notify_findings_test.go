package runner

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/playbooks"
)

// A Review hook rewrites a read step's findings before they are recorded;
// a notify.webhook step with only_on: drift posts only for the account
// whose results carry a drift, and its one message names those findings.
func TestReviewAndNotifyOnlyOnDrift(t *testing.T) {
	h := newHook(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	pb := mustPlaybook(t, `name: watch
targets: {all: true}
steps:
  - id: keys
    action: keys.inventory
  - id: page
    action: notify.webhook
    with: {url: "`+h.URL+`/services/`+webhookToken+`", only_on: drift}
`)
	inv := answer{res: executors.Result{Status: executors.StatusOK, Summary: "1 key",
		Findings: []executors.Finding{{Severity: "low", Subject: "executor's own finding"}}}}
	rec := &memAudit{}
	o := opts(pb, rec, targets(newStub().on(executors.KeysInventory, inv), newStub().on(executors.KeysInventory, inv)))
	o.Notify = post
	seen := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	o.Review = func(acct playbooks.AccountRef, res *StepResult) {
		if res.Action != executors.KeysInventory {
			return
		}
		res.Result.Findings = []executors.Finding{{Severity: "medium", Subject: "key abcd…wxyz (master)", Message: "no IP restriction"}}
		if acct.Name == "acct2" {
			res.Result.Findings = append(res.Result.Findings, executors.Finding{Severity: "high", Subject: "key abcd…wxyz (master)",
				Message: "withdrawals switched on since the baseline", Fix: "untick it", Drift: true, FirstSeen: seen})
		}
	}
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if got := result(t, rep, "page", "acct1"); got.Status != executors.StatusSkipped || !strings.Contains(got.Summary, "nothing changed since the baseline") {
		t.Errorf("acct1 page = %s %q, want skipped: nothing changed", got.Status, got.Summary)
	}
	if got := result(t, rep, "page", "acct2"); got.Status != executors.StatusOK || !strings.HasPrefix(got.Summary, "notified ") {
		t.Errorf("acct2 page = %s %q, want notified", got.Status, got.Summary)
	}
	if h.received() != 1 {
		t.Fatalf("webhook posts = %d, want 1", h.received())
	}
	var body struct {
		Text     string              `json:"text"`
		Account  string              `json:"account"`
		Findings []executors.Finding `json:"findings"`
	}
	if err := json.Unmarshal(h.bodies[0], &body); err != nil {
		t.Fatal(err)
	}
	if body.Account != "acct2" || len(body.Findings) != 1 || !body.Findings[0].Drift {
		t.Errorf("message account %q findings %+v, want acct2 and the one drift", body.Account, body.Findings)
	}
	want := "⚠ [high] key abcd…wxyz (master): withdrawals switched on since the baseline (first seen 2026-12-04T03:00:00Z) — fix: untick it"
	if !strings.Contains(body.Text, want) || strings.Contains(body.Text, "no IP restriction") {
		t.Errorf("message text:\n%s\nwant the line %q and no other finding", body.Text, want)
	}
	// The trail records the reviewed findings, not the executor's.
	n := 0
	for _, e := range rec.events {
		if e.Step == "keys" && e.Phase == "info" {
			n++
			b, _ := json.Marshal(e.Result)
			if strings.Contains(string(b), "executor's own finding") || !strings.Contains(string(b), "no IP restriction") {
				t.Errorf("keys record of %s: %s, want the reviewed findings", e.Account, b)
			}
		}
	}
	if n != 2 {
		t.Errorf("keys info records = %d, want 2", n)
	}
}

func TestNotifyFindingsModes(t *testing.T) {
	done := []StepResult{{Result: executors.Result{Findings: []executors.Finding{
		{Severity: "low", Message: "low"}, {Severity: "medium", Message: "medium"}}}}}
	tests := []struct {
		mode  string
		post  bool
		names []string
	}{
		{"always", true, nil},
		{"", true, nil},
		{"findings", true, []string{"medium"}},
		{"drift", false, nil},
	}
	for _, tt := range tests {
		t.Run("only_on "+tt.mode, func(t *testing.T) {
			fs, post, why := notifyFindings(done, tt.mode)
			if post != tt.post || (!post && why == "") {
				t.Fatalf("post = %v (%q), want %v", post, why, tt.post)
			}
			var got []string
			for _, f := range fs {
				got = append(got, f.Message)
			}
			if strings.Join(got, ",") != strings.Join(tt.names, ",") {
				t.Errorf("named %v, want %v", got, tt.names)
			}
		})
	}
	if _, post, _ := notifyFindings(nil, "findings"); post {
		t.Error("only_on findings with no finding: want no post")
	}
}
