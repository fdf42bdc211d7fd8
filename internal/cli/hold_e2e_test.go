package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/internal/audit"
	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/emulator/venues"
)

// startHoldEmulator is startDemoEmulator that also returns the base URL
// (the admin hooks are plain HTTP, like the exchange endpoints).
func startHoldEmulator(t *testing.T) (base, cfgPath string) {
	t.Helper()
	_, base, cfgPath = startHoldEmulatorSrv(t)
	return base, cfgPath
}

func startHoldEmulatorSrv(t *testing.T) (srv *emulator.Server, base, cfgPath string) {
	t.Helper()
	cfg := emulator.Config{Loaders: venues.DefaultLoaders(), Latency: 2 * time.Millisecond}
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
	cfgPath = filepath.Join(t.TempDir(), "accounts.yaml")
	if err := srv.WriteAccounts(cfgPath, base); err != nil {
		t.Fatal(err)
	}
	return srv, base, cfgPath
}

func accountKey(t *testing.T, cfgPath, account string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(filepath.Dir(cfgPath), account+".api_key"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// deleteKeyByHTTP plays the human deleting a key in the exchange's web UI.
func deleteKeyByHTTP(t *testing.T, base, key string) {
	body, _ := json.Marshal(map[string]string{"api_key": key})
	resp, err := http.Post(base+"/_emulator/delete-key", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Errorf("delete-key: %v", err)
		return
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("delete-key: HTTP %d", resp.StatusCode)
	}
}

func holdFactory(out *lockedBuffer) *Factory {
	return &Factory{In: strings.NewReader(""), Out: out, ErrOut: &lockedBuffer{}, IsTTY: func() bool { return false },
		Now: time.Now, Getenv: func(string) string { return "" }, Logger: NewFactory().Logger,
		Registry: NewRegistry(), Transport: loopbackOnly{base: http.DefaultTransport}, Version: "test"}
}

func waitOutput(out *lockedBuffer, re *regexp.Regexp, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if re.MatchString(out.String()) {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// Without a terminal the run holds the line after containment, and the
// hold ends by itself as soon as the human deletes the master key (the
// emulator's POST /_emulator/delete-key): the probe proves it rejected, the
// step is done and verified, and the trail records the hold.
func TestHoldEndsWhenMasterKeyIsDeleted(t *testing.T) {
	base, cfg := startHoldEmulator(t)
	key := accountKey(t, cfg, "northwind-master")
	out := &lockedBuffer{}
	runs := t.TempDir()
	go func() {
		if !waitOutput(out, regexp.MustCompile(`master-key +northwind-master +HOLD +holding the line until the key is rejected`), 30*time.Second) {
			t.Errorf("the hold never started:\n%s", out.String())
			return
		}
		time.Sleep(50 * time.Millisecond) // a few passes run meanwhile
		deleteKeyByHTTP(t, base, key)
	}()
	start := time.Now()
	code := Run(context.Background(), holdFactory(out), []string{"run", "suspected-key-leak", "--yes", "--config", cfg,
		"--account", "northwind-master", "--runs-dir", runs, "--hold", "2m"})
	got := out.String()
	if d := time.Since(start); d > time.Minute {
		t.Errorf("the run took %s: the hold did not end when the key died", d)
	}
	if !regexp.MustCompile(`HOLD +hold ended \(key-rejected\)`).MatchString(got) {
		t.Errorf("no live line saying the hold ended with the key rejected:\n%s", got)
	}
	if !regexp.MustCompile(`master-key +northwind-master +ok +done and verified: key .* is dead`).MatchString(got) {
		t.Errorf("the master-key step was not done and verified:\n%s", got)
	}
	// The Binance withdrawal stays pending (no API cancels it): not
	// contained, and only a human can stop it: exit 4.
	if !strings.Contains(got, "RESULT: NOT CONTAINED") || !strings.Contains(got, "withdrawal-uncancellable on northwind-master") {
		t.Errorf("the verdict does not name the withdrawal still leaving:\n%s", got)
	}
	if code != ExitManual {
		t.Errorf("exit %d, want %d\n%s", code, ExitManual, got)
	}
	ents, err := os.ReadDir(runs)
	if err != nil || len(ents) != 1 {
		t.Fatalf("run directories: %v, %v", ents, err)
	}
	recs, err := audit.Read(filepath.Join(runs, ents[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	var phases []string
	for _, r := range recs {
		var m map[string]any
		if r.Step == "master-key" && json.Unmarshal(r.Result, &m) == nil {
			if h, ok := m["hold"].(string); ok {
				phases = append(phases, h)
			}
		}
	}
	if len(phases) < 2 || phases[0] != "start" || phases[len(phases)-1] != "end" {
		t.Errorf("hold records in the trail = %v, want start … end", phases)
	}
}

// When nobody deletes the key, --hold bounds the hold, and the run says the
// key is still alive instead of claiming more than it did.
func TestHoldDeadlineSaysKeyAlive(t *testing.T) {
	_, cfg := startHoldEmulator(t)
	out := &lockedBuffer{}
	code := Run(context.Background(), holdFactory(out), []string{"run", "suspected-key-leak", "--yes", "--config", cfg,
		"--account", "northwind-master", "--runs-dir", t.TempDir(), "--hold", "300ms"})
	got := out.String()
	if !strings.Contains(got, "hold ended (deadline)") || !strings.Contains(got, "the key is still alive") {
		t.Errorf("output does not say the hold ran out with the key alive:\n%s", got)
	}
	if code != ExitManual {
		t.Errorf("exit %d, want %d", code, ExitManual)
	}
}

// Ctrl-C while holding: exit 130, the hold's end is recorded as
// interrupted, and the trail is closed and intact.
func TestHoldCtrlCClosesTrail(t *testing.T) {
	_, cfg := startHoldEmulator(t)
	out := &lockedBuffer{}
	runs := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		if waitOutput(out, regexp.MustCompile(`HOLD +holding the line`), 30*time.Second) {
			cancel() // the operator presses Ctrl-C
		}
	}()
	code := Run(ctx, holdFactory(out), []string{"run", "suspected-key-leak", "--yes", "--config", cfg,
		"--account", "northwind-master", "--runs-dir", runs, "--hold", "2m"})
	if code != ExitInterrupted {
		t.Errorf("exit %d, want %d\n%s", code, ExitInterrupted, out.String())
	}
	ents, _ := os.ReadDir(runs)
	if len(ents) != 1 {
		t.Fatalf("run directories: %v", ents)
	}
	dir := filepath.Join(runs, ents[0].Name())
	if _, err := audit.Verify(dir, ""); err != nil {
		t.Errorf("trail does not verify: %v", err)
	}
	recs, err := audit.Read(dir)
	if err != nil || len(recs) == 0 {
		t.Fatalf("read trail: %v", err)
	}
	if last := recs[len(recs)-1]; last.Phase != audit.PhaseEnd {
		t.Errorf("last record is %q, want the end record", last.Phase)
	}
	endedBy := ""
	for _, r := range recs {
		var m map[string]any
		if json.Unmarshal(r.Result, &m) == nil && m["hold"] == "end" {
			endedBy, _ = m["ended_by"].(string)
		}
	}
	if endedBy != "interrupted" {
		t.Errorf("hold end recorded as %q, want interrupted", endedBy)
	}
}

// --json carries the verdict: not contained, with what is left named.
func TestHoldJSONVerdict(t *testing.T) {
	_, cfg := startHoldEmulator(t)
	out := &lockedBuffer{}
	code := Run(context.Background(), holdFactory(out), []string{"run", "suspected-key-leak", "--yes", "--json", "--config", cfg,
		"--account", "northwind-master", "--runs-dir", t.TempDir(), "--hold", "100ms"})
	var doc struct {
		Results struct {
			Verdict struct {
				Contained bool `json:"contained"`
				Text      string
				Left      []struct{ Kind, Account string }
			} `json:"verdict"`
		} `json:"results"`
		ExitCode int `json:"exit_code"`
	}
	if err := json.Unmarshal([]byte(out.String()), &doc); err != nil {
		t.Fatalf("json: %v\n%s", err, out.String())
	}
	v := doc.Results.Verdict
	if v.Contained || !strings.HasPrefix(v.Text, "NOT CONTAINED") || len(v.Left) == 0 || v.Left[0].Kind != "withdrawal-uncancellable" {
		t.Errorf("verdict = %+v, want not contained naming the withdrawal", v)
	}
	if doc.ExitCode != code || code != ExitManual {
		t.Errorf("exit %d (json %d), want %d", code, doc.ExitCode, ExitManual)
	}
}

// A hold keeps re-listing within the rate budgets: over several passes on
// both venues the emulator throttles nothing (no 429/418).
func TestHoldStaysWithinRateBudgets(t *testing.T) {
	srv, _, cfg := startHoldEmulatorSrv(t)
	out := &lockedBuffer{}
	code := Run(context.Background(), holdFactory(out), []string{"run", "suspected-key-leak", "--yes", "--config", cfg,
		"--runs-dir", t.TempDir(), "--hold", "5s"})
	if code != ExitManual {
		t.Errorf("exit %d, want %d", code, ExitManual)
	}
	passes := regexp.MustCompile(`hold ended \(deadline\) after (\d+) pass`).FindAllStringSubmatch(out.String(), -1)
	if len(passes) != 2 {
		t.Fatalf("want a hold per account that ran out:\n%s", out.String())
	}
	var throttled, total int
	for _, e := range srv.Requests() {
		total++
		if e.Status == http.StatusTooManyRequests || e.Status == http.StatusTeapot {
			throttled++
		}
	}
	t.Logf("hold passes %s/%s, %d requests in all", passes[0][1], passes[1][1], total)
	for _, p := range passes {
		if p[1] == "0" || p[1] == "1" {
			t.Errorf("only %s pass(es) in 5s: the hold did not keep watching", p[1])
		}
	}
	if throttled > 0 {
		t.Errorf("%d of %d requests throttled", throttled, total)
	}
}
