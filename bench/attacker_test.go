package bench

import (
	"context"
	"testing"
	"time"
)

// BenchmarkAttacker races suspected-key-leak against the emulator's
// scripted attacker on the demo fund (see RunAttacker) at issue 6's
// latency, and reports:
//
//	key-rejected-ms      start → the leaked sub-account key unknown to the venue
//	                     (goal: one round trip plus pacing)
//	zero-orders-ms       start → no open order on any master or sub-account
//	                     (-1: not reached during the run and 500 ms after it)
//	open-orders-end      open orders left on every account after that
//	attacker-accepted-after  attackers' actions accepted once their key was gone (goal 0)
//	attacker-accepted    the leaked key's attacker's actions accepted in all (warm-up included)
//	wall-ms              the run's wall time
//
// Run it alone: go test -run x -bench Attacker -benchtime 1x ./bench/
func BenchmarkAttacker(b *testing.B) {
	for b.Loop() {
		out, err := RunAttacker(context.Background(), benchLatency, b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		if err := out.Failures(); err != nil {
			b.Logf("run: %v", err)
		}
		ms := func(d time.Duration) float64 {
			if d < 0 {
				return -1
			}
			return float64(d) / float64(time.Millisecond)
		}
		left := 0
		for _, n := range out.OpenOrdersEnd {
			left += n
		}
		b.ReportMetric(ms(out.KeyRejected), "key-rejected-ms")
		b.ReportMetric(ms(out.ZeroOrders), "zero-orders-ms")
		b.ReportMetric(float64(left), "open-orders-end")
		b.ReportMetric(float64(out.AcceptedAfter), "attacker-accepted-after")
		b.ReportMetric(float64(out.Attacker.Accepted), "attacker-accepted")
		b.ReportMetric(float64(out.Wall.Milliseconds()), "wall-ms")
		if left > 0 {
			b.Logf("open orders left: %v", out.OpenOrdersEnd)
		}
	}
	b.ReportMetric(0, "ns/op")
}

// TestAttackerScenario: while the attacker trades with the leaked
// sub-account key, the run kills that key, and from then on the venue
// accepts nothing from the attacker.
func TestAttackerScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("races a live attacker for a few seconds")
	}
	out, err := RunAttacker(context.Background(), 5*time.Millisecond, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if out.KeyRejected < 0 {
		t.Fatal("the leaked key was never rejected")
	}
	if out.KeyRejected > out.Wall {
		t.Errorf("key rejected at %v, after the run's %v", out.KeyRejected, out.Wall)
	}
	if out.AcceptedAfter != 0 {
		t.Errorf("attacker actions accepted after its key died: got %d, want 0", out.AcceptedAfter)
	}
	if len(out.Attackers) != 2 {
		t.Errorf("attackers: got %d, want 2", len(out.Attackers))
	}
	if out.Attacker.Accepted == 0 || out.Attacker.Keys[0].KeyDeleted == nil {
		t.Errorf("attacker report: accepted %d, key deleted %v; want some accepted (warm-up) and a deletion time",
			out.Attacker.Accepted, out.Attacker.Keys[0].KeyDeleted)
	}
	t.Logf("key rejected at %v, zero orders at %v, open orders left %v, run %v", out.KeyRejected, out.ZeroOrders, out.OpenOrdersEnd, out.Wall)
}
