package bench

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/internal/emulator"
)

// TestEdgeBlockBenchmarkFund: with the Cloudflare limit KuCoin's older
// docs state in front of its hosts (500 requests per 10 s per IP, then a
// 30 s block), which a 1× run's first second exceeds, the benchmark fund
// still ends contained — every order cancelled, every sub-account key
// deleted, as the emulator's state shows — with no step failed: the
// KuCoin executors stop sending for the whole block at once, then stay
// under the limit, so the IP is blocked once. Takes the 30 s block.
func TestEdgeBlockBenchmarkFund(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out a 30 s block")
	}
	t.Parallel()
	const block = 30 * time.Second
	em, err := StartEmulator(t.TempDir(), Scaled(1), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer em.Server.Close()
	em.Server.SetFaults(emulator.Faults{Edge: &emulator.EdgeFault{Limit: 500, Window: emulator.Duration(10 * time.Second), Block: emulator.Duration(block)}})
	out, err := RunAgainst(context.Background(), em, Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if left := endState(t, em); left != (Left{}) {
		t.Errorf("after the run: got %+v left, want nothing", left)
	}
	if err := out.Failures(); err != nil {
		t.Errorf("failed steps: %v", err)
	}
	var first *time.Time
	var answered time.Time
	blocked, during := 0, 0
	for _, e := range out.Requests {
		if !strings.HasPrefix(e.Venue, "kucoin") {
			continue
		}
		if e.Fault == "edge: 1015" {
			if first == nil {
				at := e.Time
				first, answered = &at, e.Time.Add(e.Duration)
			} else if !e.Time.Before(first.Add(block)) {
				t.Errorf("blocked again %v after the first block", e.Time.Sub(*first).Round(time.Millisecond))
			}
			blocked++
		}
		// Sent after the executors learnt of the block (those already on
		// their way may arrive a moment later) and before its end.
		if first != nil && e.Time.After(answered.Add(100*time.Millisecond)) && e.Time.Before(first.Add(block)) {
			during++
		}
	}
	if first == nil {
		t.Fatal("the edge never blocked: the run stayed under 500 KuCoin requests in 10 s, the test tested nothing")
	}
	if during > 0 {
		t.Errorf("%d KuCoin requests sent during the block: the executors did not hold", during)
	}
	told := 0
	for _, r := range out.Report.Results {
		for _, f := range r.Result.Findings {
			if strings.Contains(f.Message, "Cloudflare error 1015") {
				told++
			}
		}
	}
	if told == 0 {
		t.Error("no step result tells of the block: the report would show a 30 s wait unexplained")
	}
	// The operator hears of it as it begins, once: the IP's block is one
	// for every KuCoin account.
	notices := out.Report.Notices
	if len(notices) != 1 || !strings.Contains(notices[0].Text, "Cloudflare error 1015") {
		t.Errorf("notices %+v: want one, as the block began", notices)
	}
	// And the trail keeps it, for the review of the incident.
	trail, err := os.ReadFile(out.AuditPath)
	kept := false
	for _, line := range bytes.Split(trail, []byte("\n")) {
		kept = kept || bytes.Contains(line, []byte(`"notice":"`)) && bytes.Contains(line, []byte("Cloudflare error 1015"))
	}
	if err != nil || !kept {
		t.Errorf("the audit trail does not keep the notice (%v)", err)
	}
	t.Logf("%s wall, %d requests, %d answered with the block (at +%v); %d step results tell of it; the operator saw %q", out.Wall.Round(time.Millisecond), len(out.Requests), blocked, first.Sub(out.Start).Round(time.Millisecond), told, notices)
}
