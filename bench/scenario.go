package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/accounts"
	"github.com/panicbutton/panicbutton/internal/audit"
	"github.com/panicbutton/panicbutton/internal/cli"
	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/emulator/emu"
	"github.com/panicbutton/panicbutton/internal/report"
	"github.com/panicbutton/panicbutton/internal/runner"
	"github.com/panicbutton/panicbutton/playbooks"
)

// Playbook is the playbook the benchmark runs.
const Playbook = "suspected-key-leak"

// Config is one benchmark run.
type Config struct {
	Size Size
	// Latency is the emulator's injected latency (Config.Latency): it
	// sleeps that long before answering each request, so on loopback one
	// request/response round trip takes Latency.
	Latency time.Duration
	// Handshake, when set, is the emulator's handshake fault: a new
	// connection carries nothing for that long after it is opened (a
	// real venue's TCP and TLS handshakes; loopback charges none).
	Handshake time.Duration
	// Sequential is the baseline: every HTTP request of the process goes
	// through one mutex (no two requests in flight, process-wide) and the
	// runner handles one account at a time. The SDK calls are the same.
	Sequential bool
	// Process runs the emulator in a process of its own
	// (StartEmulatorProcess), as the benchmarks do.
	Process bool
	// Dir receives the state, the accounts file and the run directory.
	Dir string
	// Inputs override the playbook's input defaults (e.g. leaked_key).
	Inputs map[string]string
	// AwayFromMinuteEnd delays a start that would fall in the last
	// MinuteEndMargin of a clock minute to just after the minute. Binance
	// counts weight per clock minute, and the bound lets a run spend a
	// whole window's limit in the minute it starts in, however little of
	// it is left: no client can spend it in the last quarter second (its
	// first requests are answered one round trip in, and most of the
	// weight comes after a chain of them). Runs bound by a minute budget
	// (4×, 16×, ip-shared) then measure the pacing, not the phase.
	AwayFromMinuteEnd bool
}

// MinuteEndMargin is how close to a minute's end a run with
// Config.AwayFromMinuteEnd does not start.
const MinuteEndMargin = 5 * time.Second

// Outcome is what one run measured.
type Outcome struct {
	// Start is when the run started (before the accounts file is read);
	// Wall the time from Start to runner.Run's return.
	Start time.Time
	Wall  time.Duration
	// FirstMutation is the time from the start to the arrival at the
	// emulator of the first mutating request; -1 when there was none.
	FirstMutation time.Duration
	// Throttled counts the 429 and 418 answers in the emulator's log;
	// HTTP429, HTTP418 and Timestamp1021 count the 429s, the 418s and the
	// timestamp rejections (Binance -1021, KuCoin 400002) apart.
	Throttled                       int
	HTTP429, HTTP418, Timestamp1021 int
	// OrdersCancelled is the time from the start to the answer of the
	// last successful cancel signed by a configured (master) account's key
	// (every master order cancelled when the end state is clean);
	// SubOrdersCancelled the same for cancels signed by a sub-account's
	// key (freeze-sub-accounts' temporary keys); KeysDeleted for
	// sub-account key deletions (the temporary keys included). -1 when
	// there was none.
	OrdersCancelled, SubOrdersCancelled, KeysDeleted time.Duration
	// SubKeysDeleted is the time from the start to the outcome of the last
	// successful deletion of a sub-account key the accounts had before
	// the run (keys.revoke: what a leaked bot key could still use), the
	// temporary keys left out; -1 when there was none.
	SubKeysDeleted time.Duration
	// SkewMax is the largest absolute clock offset (local minus venue) any
	// executor measured; Syncs how many server-time syncs they made.
	SkewMax time.Duration
	Syncs   int
	// Requests is the emulator's request log of the run (venue requests).
	Requests []emu.Entry
	Report   *runner.Report
	// AuditPath is the run's audit trail.
	AuditPath string
	// Left is what the emulator's state held when the run ended.
	Left Left
	// CPU is the CPU time this process used from Start to the end of the
	// run: the executors and the runner, and the emulator too when it
	// runs in this process (they share the machine's cores). EmulatorCPU
	// is the emulator process's over the same span when it runs in its own
	// (Config.Process). -1 where not measured (the platform does not tell,
	// or the emulator runs in this process).
	CPU, EmulatorCPU time.Duration
}

// Left counts what a run left in the emulator's state: the open orders of
// the configured (master) accounts and of their sub-accounts, and the
// sub-accounts' API keys. A contained fund leaves none of the three.
type Left struct {
	Orders, SubOrders, SubKeys int
}

// Left reads the emulator's state (the venues' snapshots, as GET
// /_emulator/state shows them) and counts what is left in it. A KuCoin
// order counts while its status is "open".
func (em *Emulator) Left() (Left, error) {
	var c Left
	venues, err := em.state()
	if err != nil {
		return c, err
	}
	for name, data := range venues {
		switch name {
		case "binance":
			var st struct {
				Accounts []struct {
					Master     bool              `json:"master"`
					Keys       []json.RawMessage `json:"keys"`
					OpenOrders map[string][]any  `json:"open_orders"`
				} `json:"accounts"`
			}
			if err := json.Unmarshal(data, &st); err != nil {
				return c, fmt.Errorf("decode binance state: %w", err)
			}
			for _, a := range st.Accounts {
				n := 0
				for _, os := range a.OpenOrders {
					n += len(os)
				}
				if a.Master {
					c.Orders += n
				} else {
					c.SubOrders += n
					c.SubKeys += len(a.Keys)
				}
			}
		case "kucoin":
			type key struct {
				Deleted bool `json:"deleted"`
			}
			type order struct {
				Status string `json:"status"`
			}
			open := func(os ...[]order) int {
				n := 0
				for _, l := range os {
					for _, o := range l {
						if o.Status == "open" {
							n++
						}
					}
				}
				return n
			}
			var st struct {
				Masters []struct {
					Orders        []order `json:"orders"`
					FuturesOrders []order `json:"futures_orders"`
					Subs          []struct {
						Keys          []key   `json:"keys"`
						Orders        []order `json:"orders"`
						FuturesOrders []order `json:"futures_orders"`
					} `json:"subs"`
				} `json:"masters"`
			}
			if err := json.Unmarshal(data, &st); err != nil {
				return c, fmt.Errorf("decode kucoin state: %w", err)
			}
			for _, m := range st.Masters {
				c.Orders += open(m.Orders, m.FuturesOrders)
				for _, s := range m.Subs {
					c.SubOrders += open(s.Orders, s.FuturesOrders)
					for _, k := range s.Keys {
						if !k.Deleted {
							c.SubKeys++
						}
					}
				}
			}
		}
	}
	return c, nil
}

// serialTransport lets one request through at a time, process-wide.
type serialTransport struct {
	mu   *sync.Mutex
	base http.RoundTripper
}

func newSerialTransport(base http.RoundTripper) serialTransport {
	return serialTransport{mu: &sync.Mutex{}, base: base}
}

// RoundTrip sends r once no other request is in flight. Time queued here
// is the baseline's own doing, so the executors' per-request timeout
// (which starts when a request leaves their transport) must not count it:
// the request goes out detached from r's context, with its own 30 s bound,
// and its body is read before the next request may leave.
func (t serialTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 30*time.Second)
	defer cancel()
	resp, err := t.base.RoundTrip(r.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

// Emulator is a started emulator with the generated state.
type Emulator struct {
	// Server is the emulator when it runs in this process (StartEmulator);
	// nil when it runs in a process of its own (StartEmulatorProcess).
	Server *emulator.Server
	URL    string
	child  *child
}

// StartEmulator writes the state of size s into dir, loads it and starts
// the emulator on loopback, in this process, with the given latency. The
// caller closes it.
func StartEmulator(dir string, s Size, latency time.Duration) (*Emulator, error) {
	path, err := WriteState(dir, s)
	if err != nil {
		return nil, err
	}
	srv, url, err := startServer(path, latency)
	if err != nil {
		return nil, err
	}
	return &Emulator{Server: srv, URL: url}, nil
}

// Run starts an emulator with the state of cfg.Size and runs the playbook
// live against it (no dry-run, no confirmation, as `run --yes`): accounts
// file → accounts.Load and Resolver → executors from cli.NewRegistry →
// runner.Run with an audit trail. The emulator is closed on return; its
// request log is in the Outcome.
func Run(ctx context.Context, cfg Config) (*Outcome, error) {
	start := StartEmulator
	if cfg.Process {
		start = StartEmulatorProcess
	}
	em, err := start(cfg.Dir, cfg.Size, cfg.Latency)
	if err != nil {
		return nil, err
	}
	defer em.Close()
	if cfg.Handshake > 0 {
		f, err := em.Faults()
		if err != nil {
			return nil, err
		}
		f.Handshake = emulator.Duration(cfg.Handshake)
		if err := em.SetFaults(f); err != nil {
			return nil, err
		}
	}
	return RunAgainst(ctx, em, cfg)
}

// RunAgainst runs the playbook against an emulator already started (see
// Run). The emulator is left running.
func RunAgainst(ctx context.Context, em *Emulator, cfg Config) (*Outcome, error) {
	acctPath := filepath.Join(cfg.Dir, "accounts", "accounts.yaml")
	if err := em.WriteAccounts(acctPath); err != nil {
		return nil, fmt.Errorf("write accounts file: %w", err)
	}
	reg := cli.NewRegistry()
	env := executors.Env{}
	concurrency := 0 // the runner's default
	if cfg.Sequential {
		env.Transport = newSerialTransport(http.DefaultTransport.(*http.Transport).Clone())
		concurrency = 1
	}
	pb, err := playbooks.Builtin(Playbook)
	if err != nil {
		return nil, fmt.Errorf("load playbook %s: %w", Playbook, err)
	}

	defer cli.TuneGC()() // as run, resume and apply do
	if cfg.AwayFromMinuteEnd {
		now := time.Now()
		if next := now.Truncate(time.Minute).Add(time.Minute); next.Sub(now) < MinuteEndMargin {
			time.Sleep(next.Sub(now) + 100*time.Millisecond)
		}
	}
	start := time.Now()
	cpu0, cpuOK := processCPU()
	emuCPU0, emuCPUOK := em.cpu()
	file, err := accounts.Load(acctPath, reg.Exchanges())
	if err != nil {
		return nil, fmt.Errorf("load accounts: %w", err)
	}
	entries, err := file.Select(nil, nil)
	if err != nil {
		return nil, fmt.Errorf("select accounts: %w", err)
	}
	refs := make([]playbooks.AccountRef, len(entries))
	for i, e := range entries {
		refs[i] = playbooks.AccountRef{Name: e.Name, Exchange: e.Exchange, Tags: e.Tags}
	}
	if err := pb.Check(playbooks.Env{Accounts: refs, Supports: reg.Supports, Inputs: map[string]string{}}); err != nil {
		return nil, fmt.Errorf("check playbook: %w", err)
	}
	inputs := map[string]string{}
	for _, in := range pb.Inputs {
		inputs[in.Name] = in.Default
	}
	for k, v := range cfg.Inputs {
		inputs[k] = v
	}
	res := accounts.Resolver{}
	var targets []runner.Target
	for i, ref := range refs {
		acct, err := res.Resolve(ctx, file, entries[i])
		if err != nil {
			return nil, fmt.Errorf("resolve account %s: %w", ref.Name, err)
		}
		exec, err := reg.New(acct, env)
		if err != nil {
			return nil, fmt.Errorf("build executor for %s: %w", ref.Name, err)
		}
		targets = append(targets, runner.Target{Ref: ref, Exec: exec})
	}
	runID := fmt.Sprintf("bench-%d", start.UnixNano())
	runDir := filepath.Join(cfg.Dir, "runs", runID)
	log, err := audit.Create(runDir, runID, audit.Options{})
	if err != nil {
		return nil, fmt.Errorf("create audit trail: %w", err)
	}
	defer log.Close()
	rep, err := runner.Run(ctx, runner.Options{
		RunID: runID, Playbook: pb, Targets: targets, Inputs: inputs, RunDir: runDir,
		Audit: log, Concurrency: concurrency, Version: "bench",
		NoHold: true, // nobody deletes the master key here: measure containment, not a hold
	})
	wall := time.Since(start)
	cpu := time.Duration(-1)
	if cpu1, ok := processCPU(); ok && cpuOK {
		cpu = cpu1 - cpu0
	}
	emuCPU := time.Duration(-1)
	if c, ok := em.cpu(); ok && emuCPUOK {
		emuCPU = c - emuCPU0
	}
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", Playbook, err)
	}
	left, err := em.Left()
	if err != nil {
		return nil, err
	}
	out := &Outcome{Start: start, Wall: wall, CPU: cpu, EmulatorCPU: emuCPU, Left: left, FirstMutation: -1, OrdersCancelled: -1, SubOrdersCancelled: -1, KeysDeleted: -1, SubKeysDeleted: -1, Report: rep, AuditPath: log.Path()}
	for _, t := range targets {
		if s, ok := t.Exec.(interface {
			ClockSkew() (last, maxAbs time.Duration, syncs, rejections int)
		}); ok {
			_, m, n, _ := s.ClockSkew()
			out.SkewMax, out.Syncs = max(out.SkewMax, m), out.Syncs+n
		}
	}
	masters := map[string]bool{}
	for _, r := range refs {
		masters[r.Name] = true
	}
	reqs, err := em.Requests()
	if err != nil {
		return nil, fmt.Errorf("request log: %w", err)
	}
	for _, e := range reqs {
		if e.Kind == emu.KindAdmin {
			continue
		}
		out.Requests = append(out.Requests, e)
		switch {
		case e.Status == http.StatusTooManyRequests:
			out.HTTP429++
			out.Throttled++
		case e.Status == http.StatusTeapot:
			out.HTTP418++
			out.Throttled++
		case e.Code == "-1021" || e.Code == "400002":
			out.Timestamp1021++
		}
		if at := e.Time.Add(e.Duration).Sub(start); e.Kind == emu.KindMutation && e.Status == http.StatusOK && e.Method == http.MethodDelete {
			switch {
			case e.Path == "/sapi/v1/sub-account/subAccountApi" || e.Path == "/api/v1/sub/api-key":
				out.KeysDeleted = max(out.KeysDeleted, at)
			case strings.Contains(e.Path, "withdraw"):
			case masters[e.Account]:
				out.OrdersCancelled = max(out.OrdersCancelled, at)
			default:
				out.SubOrdersCancelled = max(out.SubOrdersCancelled, at)
			}
		}
		if e.Kind == emu.KindMutation && (out.FirstMutation < 0 || e.Time.Sub(start) < out.FirstMutation) {
			out.FirstMutation = e.Time.Sub(start)
		}
	}
	// The trail tells a sub-account's own key (delete-key) from a
	// temporary one (delete-temp-key); the venue's log does not. The
	// report reads its mutations as a reviewer would.
	recs, err := audit.Read(log.Path())
	if err != nil {
		return nil, fmt.Errorf("read the audit trail: %w", err)
	}
	trail, err := report.Build(recs, audit.Report{})
	if err != nil {
		return nil, err
	}
	for _, m := range trail.Mutations {
		if m.Kind == "delete-key" && m.OK {
			out.SubKeysDeleted = max(out.SubKeysDeleted, m.Time.Sub(start))
		}
	}
	return out, nil
}

// Failures lists the (step, account) results of the report that failed,
// one line each, with when the step started and how long it ran, its
// error and its high findings (what a failure at scale needs to be
// understood from a benchmark's log); a benchmark run must have none.
func (o *Outcome) Failures() error {
	var errs []error
	for _, r := range o.Report.Results {
		if r.Status != executors.StatusFailed {
			continue
		}
		line := fmt.Sprintf("step %s on %s failed (started +%s, ran %s, %d attempts): %s", r.Step, r.Account,
			r.Started.Sub(o.Start).Round(time.Millisecond), r.Duration.Round(time.Millisecond), r.Attempts, firstLine(r.Summary))
		if r.Error != "" {
			line += "; error: " + firstLine(r.Error)
		}
		for _, f := range r.Result.Findings {
			if f.Severity == "high" {
				line += fmt.Sprintf("; finding on %s: %s", f.Subject, firstLine(f.Message))
			}
		}
		errs = append(errs, errors.New(line))
	}
	return errors.Join(errs...)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
