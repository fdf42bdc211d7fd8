package runner

import (
	"strings"
	"testing"

	"github.com/panicbutton/panicbutton/executors"
)

func TestSettleKeyNotFound(t *testing.T) {
	nf := func(acct string) executors.Result {
		return executors.Result{Status: executors.StatusOK, Findings: []executors.Finding{executors.KeyNotFoundFinding("ABCD…WXYZ", acct)}}
	}
	tests := []struct {
		name     string
		results  []StepResult
		wantSev  []string
		wantText string // in the first account's message
	}{
		{"found elsewhere", []StepResult{
			{Step: "revoke-leaked", Account: "a", Status: executors.StatusOK, Result: nf("a")},
			{Step: "revoke-leaked", Account: "b", Status: executors.StatusChanged, Result: executors.Result{Status: executors.StatusChanged}},
		}, []string{"info"}, "it was found on b"},
		{"nowhere", []StepResult{
			{Step: "revoke-leaked", Account: "a", Status: executors.StatusOK, Result: nf("a")},
			{Step: "revoke-leaked", Account: "b", Status: executors.StatusOK, Result: nf("b")},
			{Step: "revoke-leaked", Account: "c", Status: executors.StatusFailed, Result: executors.Result{Status: executors.StatusFailed}},
		}, []string{"high", "high"}, "not found on any configured account (checked a, b): it may be the master key"},
		{"other step does not count", []StepResult{
			{Step: "revoke-leaked", Account: "a", Status: executors.StatusOK, Result: nf("a")},
			{Step: "inventory", Account: "b", Status: executors.StatusOK},
		}, []string{"high"}, "not found on any configured account (checked a)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			settleKeyNotFound(tt.results)
			var sevs []string
			for _, r := range tt.results {
				for _, f := range r.Result.Findings {
					sevs = append(sevs, f.Severity)
				}
			}
			if strings.Join(sevs, ",") != strings.Join(tt.wantSev, ",") {
				t.Errorf("severities %v, want %v", sevs, tt.wantSev)
			}
			if got := tt.results[0].Result.Findings[0].Message; !strings.Contains(got, tt.wantText) {
				t.Errorf("message %q, want it to contain %q", got, tt.wantText)
			}
		})
	}
}
