package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/internal/audit"
	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/emulator/emu"
	"github.com/panicbutton/panicbutton/internal/emulator/venues"
)

// resumeEmulator starts an in-process emulator with the demo state and the
// given latency, and writes an accounts file for it.
func resumeEmulator(t *testing.T, latency time.Duration) (srv *emulator.Server, base, accountsFile string) {
	t.Helper()
	cfg := emulator.Config{Loaders: venues.DefaultLoaders(), Latency: latency}
	fsys, name := venues.DemoState()
	vs, err := emulator.LoadState(fsys, name, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv = emulator.New(cfg, vs)
	base, err = srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	accountsFile = filepath.Join(t.TempDir(), "accounts.yaml")
	if err := srv.WriteAccounts(accountsFile, base); err != nil {
		t.Fatal(err)
	}
	return srv, base, accountsFile
}

// emuState is the part of the emulator's state that containment changes.
type emuState struct {
	Binance struct {
		Accounts []struct {
			Name   string `json:"name"`
			Master bool   `json:"master"`
			Keys   []struct {
				APIKey string `json:"api_key"`
			} `json:"keys"`
			OpenOrders map[string][]json.RawMessage `json:"open_orders"`
		} `json:"accounts"`
	} `json:"binance"`
	Kucoin struct {
		Masters []struct {
			Name          string                    `json:"name"`
			Orders        []struct{ Status string } `json:"orders"`
			FuturesOrders []struct{ Status string } `json:"futures_orders"`
			Subs          []struct {
				Name string `json:"name"`
				Keys []struct {
					APIKey             string `json:"api_key"`
					Deleted            bool   `json:"deleted"`
					PassphraseExported bool   `json:"passphrase_exported"`
				} `json:"keys"`
			} `json:"subs"`
		} `json:"masters"`
	} `json:"kucoin"`
}

// contained summarises what an uninterrupted run must leave: open orders
// per master account, and the sub keys the tool could delete but are still
// there. Both must be empty; left lists what is still there.
type contained struct {
	OpenOrders map[string]int
	Deletable  []string
}

func containment(t *testing.T, base string) contained {
	t.Helper()
	resp, err := http.Get(strings.TrimRight(base, "/") + "/_emulator/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st emuState
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("decode emulator state: %v", err)
	}
	c := contained{OpenOrders: map[string]int{}}
	for _, a := range st.Binance.Accounts {
		if a.Master {
			for product, orders := range a.OpenOrders {
				c.OpenOrders[a.Name+"/"+product] += len(orders)
			}
		} else {
			// The master can delete every key of its Binance sub-accounts.
			for _, k := range a.Keys {
				c.Deletable = append(c.Deletable, "binance "+a.Name+" "+k.APIKey)
			}
		}
	}
	for _, m := range st.Kucoin.Masters {
		for _, o := range append(m.Orders, m.FuturesOrders...) {
			if o.Status == "open" {
				c.OpenOrders[m.Name]++
			}
		}
		for _, s := range m.Subs {
			for _, k := range s.Keys {
				if !k.Deleted && k.PassphraseExported {
					c.Deletable = append(c.Deletable, "kucoin "+s.Name+" "+k.APIKey)
				}
			}
		}
	}
	for k, n := range c.OpenOrders {
		if n == 0 {
			delete(c.OpenOrders, k)
		}
	}
	return c
}

// keyDeletes counts the successful sub-key deletions in the emulator's
// request log, per key where the request names it (KuCoin) and per venue.
// The temporary keys a run mints to cancel sub-account orders (one
// creation, one deletion each, a new key per run) are not counted: their
// creations are subtracted.
func keyDeletes(srv *emulator.Server) (perKey map[string]int, perVenue map[string]int) {
	perKey, perVenue = map[string]int{}, map[string]int{}
	for _, e := range srv.Requests() {
		if e.Kind == emu.KindMutation && e.Status/100 == 2 && e.Method == http.MethodPost {
			switch {
			case e.Venue == "binance" && e.Path == "/sapi/v2/sub-account/subAccountApi":
				perVenue["binance"]--
			case e.Venue == "kucoin" && e.Path == "/api/v1/sub/api-key":
				perVenue["kucoin"]--
			}
		}
		if e.Kind != emu.KindMutation || e.Status/100 != 2 || e.Method != http.MethodDelete {
			continue
		}
		switch {
		case e.Venue == "binance" && e.Path == "/sapi/v1/sub-account/subAccountApi":
			perVenue["binance"]++
		case e.Venue == "kucoin" && e.Path == "/api/v1/sub/api-key":
			perVenue["kucoin"]++
			q, _ := url.ParseQuery(e.Query)
			perKey["kucoin "+q.Get("apiKey")]++
		}
	}
	return perKey, perVenue
}

// trailChecks verifies the trail and that no mutation has two ok outcomes.
func trailChecks(t *testing.T, dir string) []audit.Record {
	t.Helper()
	rep, err := audit.Verify(dir, "")
	if err != nil {
		t.Fatalf("audit verify %s: %v", dir, err)
	}
	if !rep.Complete {
		t.Errorf("trail %s is not complete after the resume", dir)
	}
	recs, err := audit.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	ok := map[string]int{}
	for _, r := range recs {
		if r.Phase != audit.PhaseOutcome {
			continue
		}
		var res struct{ OK bool }
		_ = json.Unmarshal(r.Result, &res)
		if res.OK {
			k := r.Step + "/" + r.Account + "/" + r.Request["mutation_id"]
			if ok[k]++; ok[k] > 1 {
				t.Errorf("mutation %s has %d ok outcomes in the trail, want 1", k, ok[k])
			}
		}
	}
	return recs
}

// killPoint names where in the run the kill landed, from the trail it left.
func killPoint(dir string) string {
	recs, err := audit.Read(dir)
	switch {
	case err != nil && len(recs) == 0:
		return "before the trail"
	case len(recs) == 0:
		return "before the start record"
	}
	point := "before any mutation"
	for _, r := range recs {
		switch {
		case r.Phase == audit.PhaseEnd:
			return "after the end"
		case r.Phase == audit.PhaseIntent && r.Step == "revoke-sub-keys":
			point = "mid-revoke"
		case r.Phase == audit.PhaseIntent && point == "before any mutation":
			point = "mid-freeze"
		}
	}
	return point
}

func onlyRunDir(t *testing.T, runs string) string {
	t.Helper()
	ents, err := os.ReadDir(runs)
	if err != nil || len(ents) != 1 {
		return ""
	}
	return filepath.Join(runs, ents[0].Name())
}

func exitCodeOf(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestResumeAfterKill kills `panicbutton run suspected-key-leak --yes` at
// seeded random points (SIGKILL: no deferred code, no end record), resumes
// it with `run --resume DIR --yes`, and checks that the result is the end
// state of an uninterrupted run, that the trail verifies and is complete,
// and that no sub-key deletion (irreversible) succeeded twice and no
// mutation has two ok outcomes in the trail.
func TestResumeAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and resumes real processes")
	}
	bin, err := exec.LookPath("panicbutton") // the test binary, installed by testscript.Main in TestMain
	if err != nil {
		t.Fatalf("panicbutton not on PATH: %v", err)
	}
	srv, base, accountsFile := resumeEmulator(t, 20*time.Millisecond)
	work := t.TempDir()
	command := func(runs string, args ...string) *exec.Cmd {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "PANICBUTTON_CONFIG="+accountsFile, "PANICBUTTON_RUNS_DIR="+runs,
			"PANICBUTTON_LOOPBACK_ONLY=1", "HOME="+work, "XDG_CONFIG_HOME="+filepath.Join(work, ".config"), "NO_COLOR=1")
		cmd.Stdout, cmd.Stderr = &bytes.Buffer{}, &bytes.Buffer{}
		return cmd
	}
	output := func(cmd *exec.Cmd) string {
		return fmt.Sprintf("stdout:\n%s\nstderr:\n%s", cmd.Stdout, cmd.Stderr)
	}

	// The reference: an uninterrupted run.
	srv.Reset()
	ref := command(filepath.Join(work, "ref"), "run", "suspected-key-leak", "--yes")
	began := time.Now()
	refCode := exitCodeOf(ref.Run())
	wall := time.Since(began)
	want := containment(t, base)
	_, wantDeletes := keyDeletes(srv)
	if refCode != ExitManual || len(want.OpenOrders) != 0 || len(want.Deletable) != 0 {
		t.Fatalf("uninterrupted run: exit %d (want %d), left %+v (want nothing)\n%s", refCode, ExitManual, want, output(ref))
	}
	if wantDeletes["binance"] == 0 || wantDeletes["kucoin"] == 0 {
		t.Fatalf("uninterrupted run deleted %v sub keys, want some on both venues", wantDeletes)
	}
	t.Logf("uninterrupted run: %s, sub keys deleted %v", wall.Round(time.Millisecond), wantDeletes)

	const n = 8
	rng := rand.New(rand.NewPCG(6, 2026))
	points := map[string]int{}
	for i := range n {
		// Stratified over the whole run (and a little after it), so the
		// kills land before, during and after the mutations.
		delay := time.Duration((float64(i) + rng.Float64()) / n * 1.15 * float64(wall))
		t.Run(fmt.Sprintf("kill-%d-after-%s", i, delay.Round(time.Millisecond)), func(t *testing.T) {
			srv.Reset()
			runs := filepath.Join(work, fmt.Sprint("runs-", i))
			victim := command(runs, "run", "suspected-key-leak", "--yes")
			if err := victim.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(delay)
			_ = victim.Process.Kill() // SIGKILL
			_ = victim.Wait()

			dir := onlyRunDir(t, runs)
			point := "before the trail"
			if dir != "" {
				point = killPoint(dir)
			}
			points[point]++
			t.Logf("killed %s", point)

			switch point {
			case "before the trail", "before the start record":
				// Nothing was recorded, so nothing was sent: a resume is
				// refused and the operator starts a new run.
				if dir != "" {
					res := command(runs, "run", "--resume", dir, "--yes")
					if code := exitCodeOf(res.Run()); code != ExitUsage {
						t.Fatalf("resume of an empty trail: exit %d, want %d\n%s", code, ExitUsage, output(res))
					}
				}
				if m := mutationCount(srv); m != 0 {
					t.Fatalf("%d mutations reached the exchange without a start record", m)
				}
				fresh := command(filepath.Join(work, fmt.Sprint("fresh-", i)), "run", "suspected-key-leak", "--yes")
				if code := exitCodeOf(fresh.Run()); code != refCode {
					t.Fatalf("fresh run: exit %d, want %d\n%s", code, refCode, output(fresh))
				}
				dir = onlyRunDir(t, filepath.Join(work, fmt.Sprint("fresh-", i)))
			case "after the end":
				res := command(runs, "run", "--resume", dir, "--yes")
				if code := exitCodeOf(res.Run()); code != ExitUsage || !strings.Contains(res.Stderr.(*bytes.Buffer).String(), "already finished") {
					t.Fatalf("resume of a finished run: exit %d, want %d with \"already finished\"\n%s", code, ExitUsage, output(res))
				}
			default:
				res := command(runs, "run", "--resume", dir, "--yes")
				if code := exitCodeOf(res.Run()); code != refCode {
					t.Fatalf("resume: exit %d, want %d\n%s", code, refCode, output(res))
				}
				if !strings.Contains(res.Stdout.(*bytes.Buffer).String(), "resuming run ") {
					t.Errorf("resume output does not say it resumes\n%s", output(res))
				}
			}

			if got := containment(t, base); len(got.OpenOrders) != 0 || len(got.Deletable) != 0 {
				t.Errorf("end state after kill+resume: %+v, want no open order and no deletable sub key (as uninterrupted)", got)
			}
			perKey, perVenue := keyDeletes(srv)
			for k, c := range perKey {
				if c > 1 {
					t.Errorf("sub key %s deleted successfully %d times, want once", k, c)
				}
			}
			for v, c := range perVenue {
				if c != wantDeletes[v] {
					t.Errorf("%s: %d successful sub-key deletions, want %d (one per key, as uninterrupted)", v, c, wantDeletes[v])
				}
			}
			trailChecks(t, dir)
		})
	}
	t.Logf("kill points: %v", points)
	if mid := points["mid-freeze"] + points["mid-revoke"]; mid == 0 {
		t.Errorf("no kill landed between the first mutation and the end (%v): the test proved nothing about resuming", points)
	}
}

func mutationCount(srv *emulator.Server) int {
	n := 0
	for _, e := range srv.Requests() {
		if e.Kind == emu.KindMutation {
			n++
		}
	}
	return n
}

// resumeCLI runs the CLI in-process against env and returns its exit code
// and output.
func resumeCLI(env map[string]string, args ...string) (int, string, string) {
	var out, errOut strings.Builder
	f := &Factory{
		In: strings.NewReader(""), Out: &out, ErrOut: &errOut,
		IsTTY: func() bool { return false }, Now: time.Now, Getenv: func(k string) string { return env[k] },
		Logger: NewFactory().Logger, Registry: NewRegistry(),
		Transport: loopbackOnly{base: http.DefaultTransport}, Version: "test",
	}
	code := Run(context.Background(), f, args)
	return code, out.String(), errOut.String()
}

// crashedCopy copies the trail of the run in dir to a new run directory
// without its last drop records (drop 1: without the end record), as a
// crash would have left it.
func crashedCopy(t *testing.T, dir string, drop int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, audit.FileName))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	lines = lines[:len(lines)-1] // the empty string after the last "\n"
	out := filepath.Join(t.TempDir(), filepath.Base(dir))
	if err := os.MkdirAll(out, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, audit.FileName), []byte(strings.Join(lines[:len(lines)-drop], "")), 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRunResumeFlags(t *testing.T) {
	_, _, accountsFile := resumeEmulator(t, 0)
	home := t.TempDir()
	env := map[string]string{"PANICBUTTON_CONFIG": accountsFile, "PANICBUTTON_RUNS_DIR": filepath.Join(home, "runs"), "HOME": home}
	code, stdout, stderr := resumeCLI(env, "run", "suspected-key-leak", "--yes", "--input", "leaked_key=vmPUZE6mv9SD5VNH")
	if code != ExitManual {
		t.Fatalf("run: exit %d, want %d\n%s\n%s", code, ExitManual, stdout, stderr)
	}
	done := onlyRunDir(t, env["PANICBUTTON_RUNS_DIR"])
	sameInput := []string{"--input", "leaked_key=vmPUZE6mv9SD5VNH"}
	tampered := crashedCopy(t, done, 1)
	editFile(t, filepath.Join(tampered, audit.FileName), `"phase":"intent"`, `"phase":"info"`)

	tests := []struct {
		name string
		dir  string // run directory to resume ("" for none)
		args []string
		want int
		msg  string // in stderr or stdout
	}{
		{"no playbook and no resume", "", nil, ExitUsage, "accepts 1 arg"},
		{"finished run", done, sameInput, ExitUsage, "already finished"},
		{"tampered trail", tampered, sameInput, ExitUsage, "not intact"},
		{"not a run directory", filepath.Join(home, "nope"), sameInput, ExitUsage, "not a run directory"},
		{"with --dry-run", crashedCopy(t, done, 1), append([]string{"--dry-run"}, sameInput...), ExitUsage, "--dry-run"},
		{"with --account", crashedCopy(t, done, 1), append([]string{"--account", "kucoin-main"}, sameInput...), ExitUsage, "--account"},
		{"other input", crashedCopy(t, done, 1), []string{"--input", "leaked_key=somethingelse0000"}, ExitUsage, "inputs differ"},
		{"no input", crashedCopy(t, done, 1), nil, ExitUsage, "inputs differ"},
		{"other playbook", crashedCopy(t, done, 1), append([]string{"freeze-trading"}, sameInput...), ExitUsage, "playbook"},
		{"no --yes and no terminal", crashedCopy(t, done, 1), sameInput, ExitPlanOnly, "pass --yes"},
		{"crashed before the end", crashedCopy(t, done, 1), append([]string{"--yes"}, sameInput...), ExitManual, "resuming run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"run"}
			if tt.dir != "" {
				args = append(args, "--resume", tt.dir)
			}
			var before []byte
			if tt.dir != "" {
				before, _ = os.ReadFile(filepath.Join(tt.dir, audit.FileName))
			}
			code, stdout, stderr := resumeCLI(env, append(args, tt.args...)...)
			if code != tt.want || !strings.Contains(stdout+stderr, tt.msg) {
				t.Fatalf("exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s", code, tt.want, tt.msg, stdout, stderr)
			}
			after, _ := os.ReadFile(filepath.Join(tt.dir, audit.FileName))
			if tt.want != ExitManual && !bytes.Equal(before, after) {
				t.Errorf("a refused resume changed the trail")
			}
			if tt.want == ExitManual {
				trailChecks(t, tt.dir)
				if !bytes.HasPrefix(after, before) {
					t.Errorf("the resume did not append to the trail")
				}
			}
		})
	}
}

func editFile(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s has no %q", path, old)
	}
	if err := os.WriteFile(path, bytes.Replace(b, []byte(old), []byte(new), 1), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestResumeRechecksInDoubtMutations makes two mutations end in doubt, one
// of each kind, then kills the run: a Binance sub-key deletion whose answer
// is replaced by a 503 after the emulator carried it out (done, outcome
// unknown), and a KuCoin one held by the emulator until the process dies
// (sent, never carried out). The resume must confirm the first by re-reading
// (and not send it again) and send the second exactly once.
func TestResumeRechecksInDoubtMutations(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and resumes a real process")
	}
	bin, err := exec.LookPath("panicbutton")
	if err != nil {
		t.Fatalf("panicbutton not on PATH: %v", err)
	}
	srv, base, accountsFile := resumeEmulator(t, 0)
	srv.SetFaults(emulator.Faults{
		Script: []emulator.ScriptFault{{Venue: "binance", Method: http.MethodDelete, Path: "/sapi/v1/sub-account/subAccountApi",
			Count: 1, Status: 503, After: true, Body: `{"code":-1007,"msg":"Timeout waiting for response from backend server."}`}},
		Hang: &emulator.HangFault{Venue: "kucoin", Method: http.MethodDelete, Path: "/api/v1/sub/api-key", Count: 1},
	})
	work := t.TempDir()
	runs := filepath.Join(work, "runs")
	command := func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "PANICBUTTON_CONFIG="+accountsFile, "PANICBUTTON_RUNS_DIR="+runs,
			"PANICBUTTON_LOOPBACK_ONLY=1", "HOME="+work, "NO_COLOR=1")
		cmd.Stdout, cmd.Stderr = &bytes.Buffer{}, &bytes.Buffer{}
		return cmd
	}
	victim := command("run", "suspected-key-leak", "--yes")
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the trail shows both: the Binance outcome in doubt and the
	// KuCoin intent without outcome.
	var unknownID, hungID string
	deadline := time.Now().Add(20 * time.Second)
	for unknownID == "" || hungID == "" {
		if time.Now().After(deadline) {
			_ = victim.Process.Kill()
			_ = victim.Wait()
			t.Fatalf("the in-doubt mutations never showed in the trail\nstdout:\n%s\nstderr:\n%s", victim.Stdout, victim.Stderr)
		}
		time.Sleep(20 * time.Millisecond)
		dir := onlyRunDir(t, runs)
		if dir == "" {
			continue
		}
		recs, _ := audit.Read(dir)
		intents, outcomes := map[string]bool{}, map[string]bool{}
		for _, r := range recs {
			// Binance's sub keys may all withdraw as far as its master can
			// tell: revoke-withdraw-keys deletes them; KuCoin's in
			// revoke-sub-keys.
			if r.Step != "revoke-sub-keys" && r.Step != "revoke-withdraw-keys" {
				continue
			}
			id := r.Request["mutation_id"]
			switch r.Phase {
			case audit.PhaseIntent:
				intents[r.Account+" "+id] = true
			case audit.PhaseOutcome:
				outcomes[r.Account+" "+id] = true
				if r.Account == "northwind-master" && strings.Contains(string(r.Result), `"unknown-outcome"`) {
					unknownID = id
				}
			}
		}
		// Both KuCoin deletions must have been sent for one of them to be
		// the held one: the other has its outcome.
		var pending []string
		n := 0
		for k := range intents {
			if acct, id, _ := strings.Cut(k, " "); acct == "kucoin-main" {
				n++
				if !outcomes[k] {
					pending = append(pending, id)
				}
			}
		}
		if n == 2 && len(pending) == 1 {
			hungID = pending[0]
		}
	}
	_ = victim.Process.Kill()
	_ = victim.Wait()
	dir := onlyRunDir(t, runs)
	srv.SetFaults(emulator.Faults{})

	res := command("run", "--resume", dir, "--yes")
	if code := exitCodeOf(res.Run()); code != ExitManual {
		t.Fatalf("resume: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, ExitManual, res.Stdout, res.Stderr)
	}
	recs := trailChecks(t, dir)
	notes := map[string]string{}
	for _, r := range recs {
		var v struct{ Resume string }
		if r.Phase == audit.PhaseInfo && (r.Step == "revoke-sub-keys" || r.Step == "revoke-withdraw-keys") && json.Unmarshal(r.Result, &v) == nil && v.Resume != "" {
			notes[r.Account+" "+r.Request["mutation_id"]] = v.Resume
		}
	}
	if n := notes["northwind-master "+unknownID]; !strings.HasPrefix(n, "confirmed done by re-check") {
		t.Errorf("binance %s: resume note %q, want \"confirmed done by re-check\"", unknownID, n)
	}
	if n := notes["kucoin-main "+hungID]; !strings.HasPrefix(n, "in doubt in the interrupted run") || !strings.Contains(n, "irreversible") {
		t.Errorf("kucoin %s: resume note %q, want it sent again after the re-check, with the irreversible reasoning", hungID, n)
	}
	if got := containment(t, base); len(got.OpenOrders) != 0 || len(got.Deletable) != 0 {
		t.Errorf("end state: %+v, want contained", got)
	}
	perKey, perVenue := keyDeletes(srv)
	for k, c := range perKey {
		if c != 1 {
			t.Errorf("sub key %s deleted successfully %d times, want once", k, c)
		}
	}
	// The 503-after deletion succeeded on the exchange; it is logged with
	// the injected 503, so the log shows the other two Binance deletions.
	if perVenue["kucoin"] != 2 || perVenue["binance"] != 2 {
		t.Errorf("successful sub-key deletions logged %v, want kucoin 2 and binance 2 (+1 answered 503)", perVenue)
	}
}
