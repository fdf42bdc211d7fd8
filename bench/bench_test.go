package bench

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

// benchLatency is issue 6's injected latency (one round trip, see
// BoundRoundTrips).
const benchLatency = 40 * time.Millisecond

// BenchmarkSuspectedKeyLeak runs suspected-key-leak live against the
// emulator at 1/4, 1 and 4 times issue 6's state, and reports per run:
//
//	wall-ms        wall time of the parallel run
//	bound-ms       the critical-path bound (PhasedBound): the round trips, or
//	               the rate limit that makes the run wait longest, with the
//	               key deletions' wait before the temporary keys' (logged)
//	wall/bound     wall time / bound-ms; target ≤ 1.2 (issue 12)
//	wall/rtt-bound wall time / (BoundRoundTrips × latency), the limits aside
//	speedup        sequential baseline's wall time / the parallel run's; target ≥ 15
//	                (baseline at 1/4 and 1× only: at 4× it would take minutes)
//	throttled      429 and 418 answers in the emulator's log; target 0
//	http429, http418, ts-rejects  the same apart, and the timestamp
//	               rejections (-1021, 400002); target 0 each
//	answer-p50-ms, answer-p90-ms  median and 90th percentile of the
//	               emulator's time to answer a request (its latency is
//	               40 ms): above it, the machine's CPU (client and emulator
//	               share it) stretches every round trip, and wall/bound
//	               with it
//	cancelled-ms   start → answer of the last successful cancel of a master's
//	               order; sub-cancelled-ms the same for sub-accounts' orders
//	keys-gone-ms   start → answer of the last successful sub-key delete (the
//	               temporary keys freeze-sub-accounts mints included);
//	               sub-keys-gone-ms the same for the sub-account keys the
//	               accounts had before the run only (what a leaked bot key
//	               could use), from the audit trail's outcomes
//	orders-left, sub-orders-left, sub-keys-left  what the emulator's state
//	               holds at the end (Outcome.Left); target 0 each
//	skew-max-ms    largest |local − venue| clock offset the executors measured
//	first-mut-ms   start → arrival of the first mutating request; target < RTT + 100 ms
//	requests       venue requests the run sent
//	cpu-ms         CPU time the run's process used (executors and runner;
//	               not on every platform); emulator-cpu-ms the emulator's
//	               process over the same span (Linux only); cores-busy =
//	               (cpu-ms + emulator-cpu-ms) / wall-ms, against the
//	               machine's cores: near them, the run is CPU-bound, not
//	               bound by round trips or limits
//
// Each run also logs the first notices the operator saw (Report.Notices:
// a wait of seconds for a rate limit's next window, a 429's Retry-After,
// an edge block, a retried step), so the log of a size bound by a limit
// says which and for how long.
//
// The emulator runs in a process of its own (Config.Process): a venue is
// another machine, and in the run's process the emulator's goroutines took
// the run's processors and its heap (the state, the request log) the run's
// garbage collector. It still shares the machine's cores with the run.
//
// Shape "1x-handshakes" is 1× with the emulator charging each new
// connection two round trips (Config.Handshake: the TCP and TLS
// handshakes a real venue costs, which loopback does not); its bound
// starts with one handshake, what a client that opened every connection it
// needs at once would pay. It shows what the connections a run opens cost
// it where they are not free.
//
// Sizes: 1/4, 1, 4 and 16 times issue 6's state (16×: 4 Binance accounts
// with 960 spot and 320 USDⓈ-M symbols between them, …), and the shape
// "ip-shared" of issue 12: 12 Binance masters with 20 sub-accounts each
// (480 sub keys) and 8 KuCoin masters with 16 (256 sub keys), all behind
// one IP, so the IP budgets are shared by every account.
//
// A run does not start in the last 5 s of a clock minute
// (Config.AwayFromMinuteEnd): the bound would let it spend that minute's
// Binance budget in what is left of it.
//
// Run it with `make bench` (-benchtime 1x -count 5, benchstat-comparable).
func BenchmarkSuspectedKeyLeak(b *testing.B) {
	for _, c := range []struct {
		name     string
		factor   float64
		baseline bool
		size     *Size
		// handshake: the emulator charges each new connection this much
		// (see Config.Handshake); the bound then starts with one.
		handshake time.Duration
	}{
		{"size=0.25x", 0.25, true, nil, 0},
		{"size=1x", 1, true, nil, 0},
		{"size=4x", 4, false, nil, 0},
		{"size=16x", 16, false, nil, 0},
		{"shape=ip-shared", 1, false, &IPShared, 0},
		{"shape=1x-handshakes", 1, false, nil, 2 * benchLatency},
	} {
		b.Run(c.name, func(b *testing.B) {
			size := Scaled(c.factor)
			if c.size != nil {
				size = *c.size
			}
			for b.Loop() {
				ctx := context.Background()
				out := mustRun(b, ctx, Config{Size: size, Latency: benchLatency, Handshake: c.handshake, Dir: b.TempDir(), Process: true, AwayFromMinuteEnd: true})
				bound := PhasedBound(out.Requests, out.Start, benchLatency)
				// Nothing can be sent before a connection is open: a client
				// that opened every connection it needs at once pays one
				// handshake.
				bound.Time += c.handshake
				bound.RTT += c.handshake
				b.Logf("%s: wall %s, bound %s set by %s (busiest budget: %s)", c.name, out.Wall.Round(time.Millisecond),
					bound.Time.Round(time.Millisecond), bound.Limit, bound.Busiest)
				logLimitAnswers(b, c.name, out)
				for i, n := range out.Report.Notices {
					if i == 3 {
						b.Logf("%s: … and %d more notices", c.name, len(out.Report.Notices)-i)
						break
					}
					b.Logf("%s: notice: %s on %s: %s", c.name, n.Step, n.Account, n.Text)
				}
				b.ReportMetric(float64(out.Wall.Milliseconds()), "wall-ms")
				b.ReportMetric(float64(bound.Time)/float64(time.Millisecond), "bound-ms")
				b.ReportMetric(float64(out.Wall)/float64(bound.Time), "wall/bound")
				b.ReportMetric(float64(out.Wall)/float64(bound.RTT), "wall/rtt-bound")
				b.ReportMetric(float64(out.Throttled), "throttled")
				b.ReportMetric(float64(out.HTTP429), "http429")
				b.ReportMetric(float64(out.HTTP418), "http418")
				b.ReportMetric(float64(out.Timestamp1021), "ts-rejects")
				b.ReportMetric(float64(out.OrdersCancelled)/float64(time.Millisecond), "cancelled-ms")
				b.ReportMetric(float64(out.SubOrdersCancelled)/float64(time.Millisecond), "sub-cancelled-ms")
				b.ReportMetric(float64(out.KeysDeleted)/float64(time.Millisecond), "keys-gone-ms")
				b.ReportMetric(float64(out.SubKeysDeleted)/float64(time.Millisecond), "sub-keys-gone-ms")
				b.ReportMetric(float64(out.SkewMax)/float64(time.Millisecond), "skew-max-ms")
				b.ReportMetric(float64(out.FirstMutation)/float64(time.Millisecond), "first-mut-ms")
				b.ReportMetric(float64(out.Left.Orders), "orders-left")
				b.ReportMetric(float64(out.Left.SubOrders), "sub-orders-left")
				b.ReportMetric(float64(out.Left.SubKeys), "sub-keys-left")
				b.ReportMetric(float64(len(out.Requests)), "requests")
				if out.CPU >= 0 {
					b.ReportMetric(float64(out.CPU)/float64(time.Millisecond), "cpu-ms")
					busy := out.CPU
					if out.EmulatorCPU >= 0 {
						b.ReportMetric(float64(out.EmulatorCPU)/float64(time.Millisecond), "emulator-cpu-ms")
						busy += out.EmulatorCPU
					}
					b.ReportMetric(float64(busy)/float64(out.Wall), "cores-busy")
				}
				p50, p90 := answerTimes(out.Requests)
				b.ReportMetric(float64(p50)/float64(time.Millisecond), "answer-p50-ms")
				b.ReportMetric(float64(p90)/float64(time.Millisecond), "answer-p90-ms")
				b.ReportMetric(float64(out.Report.Count(executors.StatusFailed)), "failed-steps")
				if c.baseline {
					seq := mustRun(b, ctx, Config{Size: size, Latency: benchLatency, Dir: b.TempDir(), Sequential: true, Process: true})
					b.ReportMetric(float64(seq.Wall.Milliseconds()), "baseline-ms")
					b.ReportMetric(float64(seq.Wall)/float64(out.Wall), "speedup")
				}
			}
			// The timings are the custom metrics; ns/op would count the
			// baseline and the emulator's set-up too.
			b.ReportMetric(0, "ns/op")
		})
	}
}

func mustRun(b *testing.B, ctx context.Context, cfg Config) *Outcome {
	b.Helper()
	out, err := Run(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	// A failed step is reported (metric failed-steps, and logged) rather
	// than fatal, so that the timings of the other sizes still come out;
	// TestQuarterScenarioEndState is the test that fails on it.
	if err := out.Failures(); err != nil {
		b.Logf("%s run: %v", mode(cfg), err)
	}
	return out
}

func mode(cfg Config) string {
	if cfg.Sequential {
		return fmt.Sprintf("sequential %v", cfg.Size)
	}
	return fmt.Sprintf("parallel %v", cfg.Size)
}

// answerTimes are the median and the 90th percentile of the logged
// requests' time to answer.
func answerTimes(reqs []emu.Entry) (p50, p90 time.Duration) {
	if len(reqs) == 0 {
		return 0, 0
	}
	ds := make([]time.Duration, len(reqs))
	for i, e := range reqs {
		ds[i] = e.Duration
	}
	slices.Sort(ds)
	return ds[len(ds)/2], ds[len(ds)*9/10]
}

// BenchmarkStorm runs suspected-key-leak live against the 1× fund at 40 ms
// latency while the emulator answers stormRate of the requests with the
// venue's own 5xx body (issue 12: "persist until the deadline"), and
// reports per run:
//
//	wall-ms          wall time of the run
//	cancelled-ms     start → answer of the last successful cancel of a master's order
//	keys-gone-ms     start → answer of the last successful sub-key delete
//	answered-5xx     requests the emulator answered 5xx
//	requests         venue requests the run sent
//	http429, http418 rate-limit answers; target 0
//	orders-left, sub-orders-left, sub-keys-left  target 0 each
//	failed-steps     target 0
//
// There is no bound: how many round trips a storm adds depends on which
// requests it hits. What it guards is the order of magnitude: the run
// ended in seconds (3–8 s on the dev machine), not in minutes as when
// every failed cancel cost a re-list and the weight of the requests
// answered 5xx was never given back (64–119 s).
func BenchmarkStorm(b *testing.B) {
	for i := 0; b.Loop(); i++ {
		em, err := StartEmulatorProcess(b.TempDir(), Scaled(1), benchLatency)
		if err != nil {
			b.Fatal(err)
		}
		if err := em.SetFaults(emulator.Faults{ErrorRate: stormRate, Seed: uint64(100 + i)}); err != nil {
			b.Fatal(err)
		}
		out, err := RunAgainst(context.Background(), em, Config{Dir: b.TempDir()})
		_ = em.Close()
		if err != nil {
			b.Fatal(err)
		}
		if err := out.Failures(); err != nil {
			b.Logf("storm run: %v", err)
		}
		logLimitAnswers(b, "storm", out)
		fived := 0
		for _, e := range out.Requests {
			if e.Status >= http.StatusInternalServerError {
				fived++
			}
		}
		b.ReportMetric(float64(out.Wall.Milliseconds()), "wall-ms")
		b.ReportMetric(float64(out.OrdersCancelled)/float64(time.Millisecond), "cancelled-ms")
		b.ReportMetric(float64(out.KeysDeleted)/float64(time.Millisecond), "keys-gone-ms")
		b.ReportMetric(float64(fived), "answered-5xx")
		b.ReportMetric(float64(len(out.Requests)), "requests")
		b.ReportMetric(float64(out.HTTP429), "http429")
		b.ReportMetric(float64(out.HTTP418), "http418")
		b.ReportMetric(float64(out.Left.Orders), "orders-left")
		b.ReportMetric(float64(out.Left.SubOrders), "sub-orders-left")
		b.ReportMetric(float64(out.Left.SubKeys), "sub-keys-left")
		b.ReportMetric(float64(out.Report.Count(executors.StatusFailed)), "failed-steps")
	}
	b.ReportMetric(0, "ns/op")
}

// logLimitAnswers logs where a run drew rate-limit and timestamp
// rejections (target 0): by venue, account, endpoint and code, with the
// first one's time, from the start and into its clock minute (Binance's
// windows are clock minutes), so that a run that drew them says which
// budget the pacer got wrong.
func logLimitAnswers(b *testing.B, name string, out *Outcome) {
	type group struct{ venue, account, endpoint, code string }
	first := map[group]emu.Entry{}
	count := map[group]int{}
	var order []group
	for _, e := range out.Requests {
		if e.Status != http.StatusTooManyRequests && e.Status != http.StatusTeapot && e.Code != "-1021" && e.Code != "400002" {
			continue
		}
		g := group{e.Venue, e.Account, e.Endpoint, fmt.Sprintf("%d %s", e.Status, e.Code)}
		if count[g] == 0 {
			first[g] = e
			order = append(order, g)
		}
		count[g]++
	}
	for i, g := range order {
		if i == 10 {
			b.Logf("%s: … and %d more groups of rejections", name, len(order)-i)
			break
		}
		at := first[g].Time
		b.Logf("%s: REJECTED %d× %s %s %s (%s), first at %s (%s into its minute)", name, count[g], g.venue, g.account, g.endpoint,
			g.code, at.Sub(out.Start).Round(time.Millisecond), at.Sub(at.Truncate(time.Minute)).Round(time.Millisecond))
	}
}
