package cli

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/internal/audit"
	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/runner"
)

// Issue 10's end-to-end tests: the demo fund's Binance master with three
// sub-accounts holding open orders, the emulator's scripted attacker
// trading with the master's key and with a sub-account's key (the leaked
// one) while suspected-key-leak runs. Every assertion reads the emulator's
// own state or request log, not what panicbutton says it did.

// binanceState is what the tests read of the emulator's Binance state.
type binanceState struct {
	Accounts []struct {
		Name   string `json:"name"`
		Master bool   `json:"master"`
		Parent string `json:"parent"`
		Keys   []struct {
			APIKey string `json:"api_key"`
			Label  string `json:"label"`
		} `json:"keys"`
		OpenOrders map[string][]json.RawMessage `json:"open_orders"`
	} `json:"accounts"`
}

func readBinance(t *testing.T, srv *emulator.Server) binanceState {
	t.Helper()
	data, err := json.Marshal(srv.State()["binance"])
	if err != nil {
		t.Fatal(err)
	}
	var st binanceState
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// leftovers counts, under master, the open orders of every account and
// the keys of every sub-account (temporary ones named apart).
func leftovers(t *testing.T, srv *emulator.Server, master string) (orders map[string]int, subKeys, tempKeys []string) {
	t.Helper()
	orders = map[string]int{}
	for _, a := range readBinance(t, srv).Accounts {
		if a.Name != master && a.Parent != master {
			continue
		}
		for _, list := range a.OpenOrders {
			orders[a.Name] += len(list)
		}
		if a.Parent == master {
			for _, k := range a.Keys {
				if strings.HasPrefix(k.Label, "pbtmp") {
					tempKeys = append(tempKeys, a.Name+":"+k.Label)
				} else {
					subKeys = append(subKeys, a.Name+":"+k.Label)
				}
			}
		}
	}
	return orders, subKeys, tempKeys
}

func totalOrders(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// stateKey returns the first key of a Binance account in the state.
func stateKey(t *testing.T, srv *emulator.Server, account string) string {
	t.Helper()
	for _, a := range readBinance(t, srv).Accounts {
		if a.Name == account && len(a.Keys) > 0 {
			return a.Keys[0].APIKey
		}
	}
	t.Fatalf("no key for %s in the emulator state", account)
	return ""
}

// masterSigned sends a request signed with the master's HMAC key, as an
// attacker holding it would (the emulator checks the signature for real).
func masterSigned(t *testing.T, base, key, secret, method, path string, form url.Values) (int, []byte) {
	t.Helper()
	form.Set("timestamp", fmt.Sprint(time.Now().UnixMilli()))
	body := form.Encode()
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	req, err := http.NewRequest(method, base+"/binance"+path+"?signature="+hex.EncodeToString(mac.Sum(nil)), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-MBX-APIKEY", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

func readFileTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestSubAccountContainmentAgainstAttackers(t *testing.T) {
	srv, base, cfg := startHoldEmulatorSrv(t)
	const master = "northwind-master"
	masterKey := accountKey(t, cfg, master)
	masterSecret := readFileTrim(t, filepath.Join(filepath.Dir(cfg), master+".secret"))
	leaked := stateKey(t, srv, "northwind-trading") // the bot key that leaked

	before, keysBefore, _ := leftovers(t, srv, master)
	if before["northwind-trading"] == 0 || before["northwind-arb"] == 0 || len(keysBefore) == 0 {
		t.Fatalf("demo state: sub-account orders %v, sub keys %v: want both", before, keysBefore)
	}
	subAttacker, err := srv.StartAttacker("binance:northwind-master/northwind-trading:rate=50/s")
	if err != nil {
		t.Fatal(err)
	}
	masterAttacker, err := srv.StartAttacker("binance:northwind-master:rate=50/s,withdraw=off")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // both are trading before the run starts

	out := &lockedBuffer{}
	runs := t.TempDir()
	var masterDeadAt time.Time
	midRunKey := ""
	go func() {
		if !waitOutput(out, regexp.MustCompile(`HOLD +holding the line`), 60*time.Second) {
			t.Errorf("the hold never started:\n%s", out.String())
			return
		}
		// With the master key, the attacker makes a sub-account key for
		// itself mid-run and trades with it.
		code, body := masterSigned(t, base, masterKey, masterSecret, http.MethodPost, "/sapi/v1/sub-account/subAccountApi",
			url.Values{"email": {"hedge@northwind-capital.example"}, "apiName": {"totally-legit"}, "status": {"1"}, "canTrade": {"true"}, "canFuturesTrade": {"true"}})
		var made struct {
			APIKey    string `json:"apiKey"`
			SecretKey string `json:"secretKey"`
		}
		if code != http.StatusOK || json.Unmarshal(body, &made) != nil {
			t.Errorf("mid-run sub key: HTTP %d %s", code, body)
			return
		}
		midRunKey = made.APIKey
		code, body = masterSigned(t, base, made.APIKey, made.SecretKey, http.MethodPost, "/api/v3/order",
			url.Values{"symbol": {"BTCUSDT"}, "side": {"BUY"}, "type": {"LIMIT"}, "timeInForce": {"GTC"}, "quantity": {"0.001"}, "price": {"30000"}})
		if code != http.StatusOK {
			t.Logf("order with the mid-run key: HTTP %d %s (the hold may have deleted the key already)", code, body)
		}
		// The human stops the master's bot and deletes the master key once
		// the hold has emptied everything (what a human sees in the UI).
		if _, err := srv.StopAttacker(masterAttacker.ID); err != nil {
			t.Errorf("stop attacker: %v", err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			orders, subKeys, temp := leftovers(t, srv, master)
			if totalOrders(orders) == 0 && len(subKeys) == 0 && len(temp) == 0 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		masterDeadAt = srv.Clock().Now()
		deleteKeyByHTTP(t, base, masterKey)
	}()
	code := Run(context.Background(), holdFactory(out), []string{"run", "suspected-key-leak", "--yes", "--config", cfg,
		"--account", master, "--runs-dir", runs, "--hold", "2m", "--input", "leaked_key=" + leaked})
	got := out.String()

	// From the emulator's own state: nothing open, no sub key, no
	// temporary key, the mid-run key gone.
	orders, subKeys, temp := leftovers(t, srv, master)
	if n := totalOrders(orders); n != 0 {
		t.Errorf("open orders left: %v, want none\n%s", orders, got)
	}
	if len(subKeys) != 0 || len(temp) != 0 {
		t.Errorf("sub-account keys left %v, temporary keys left %v: want none", subKeys, temp)
	}
	if midRunKey == "" {
		t.Errorf("the mid-run key was never created")
	}
	// The attackers: nothing accepted after their keys died.
	recs, err := audit.Read(filepath.Join(runs, onlyRunDirName(t, runs)))
	if err != nil {
		t.Fatal(err)
	}
	leakedDeadAt := time.Time{}
	firstIntent := ""
	createdSeen := map[string]bool{}
	for _, r := range recs {
		if r.Phase == audit.PhaseIntent && firstIntent == "" {
			firstIntent = r.Request["kind"] + " " + r.Request["target"]
		}
		if r.Phase == audit.PhaseOutcome && r.Request["kind"] == "delete-key" && strings.Contains(r.Request["target"], leaked[:4]) && leakedDeadAt.IsZero() {
			leakedDeadAt = r.Time
		}
		if r.Request["kind"] == "create-temp-key" && r.Phase == audit.PhaseOutcome {
			// A creation refused (the master key died meanwhile: the
			// human deletes it while a hold pass runs) made no key.
			if r.Request["req.api_key"] == "" && !strings.Contains(string(r.Result), "error") {
				t.Errorf("create-temp-key outcome without the key's masked id: %v", r.Request)
			}
			createdSeen[r.Request["req.sub"]] = true
		}
		if r.Phase == audit.PhaseIntent && r.Request["kind"] == "cancel-orders" && strings.HasPrefix(r.Request["mutation_id"], "sub:") {
			if sub := r.Request["req.sub"]; !createdSeen[sub] {
				t.Errorf("cancel %s sent before a temporary key of %s was recorded", r.Request["mutation_id"], sub)
			}
		}
	}
	if !strings.HasPrefix(firstIntent, "delete-key ") || !strings.Contains(firstIntent, leaked[:4]) {
		t.Errorf("first mutation of the run = %q, want the leaked key's deletion", firstIntent)
	}
	for _, rep := range srv.Attackers() {
		if rep.ID == subAttacker.ID {
			if leakedDeadAt.IsZero() {
				t.Errorf("the leaked key's deletion is not in the trail")
			} else if rep.LastAccepted != nil && rep.LastAccepted.After(leakedDeadAt) {
				t.Errorf("the sub-account attacker had an action accepted at %s, after its key died at %s", rep.LastAccepted, leakedDeadAt)
			}
			if rep.Accepted == 0 {
				t.Errorf("the sub-account attacker never got anything accepted: the test proves nothing")
			}
		}
	}
	if masterDeadAt.IsZero() {
		t.Fatalf("the master key was never deleted")
	}
	if n := srv.AttackerAcceptedSince(masterDeadAt.Add(time.Millisecond)); n != 0 {
		t.Errorf("%d attacker actions accepted after every key died, want 0", n)
	}
	// The verdict: only the Binance withdrawal nobody can cancel by API is
	// left (exit 4), never an open order or a live key. The master's
	// attacker may outpace the first freeze (new orders appear while it
	// re-lists): that step then failed, which the run says (exit 1), and
	// the hold caught those orders (the state above has none).
	switch code {
	case ExitManual:
		if !strings.Contains(got, "RESULT: NOT CONTAINED") {
			t.Errorf("exit 4 without NOT CONTAINED\n%s", got)
		}
	case ExitFailed:
		for _, l := range regexp.MustCompile(`(?m)^ +FAILED +(\S+) on `).FindAllStringSubmatch(got, -1) {
			if l[1] != "freeze" {
				t.Errorf("step %s failed; only the master's freeze may lose the race against its attacker\n%s", l[1], got)
			}
		}
	default:
		t.Errorf("exit %d, want %d (or %d when the attacker outpaced the first freeze)\n%s", code, ExitManual, ExitFailed, got)
	}
	if strings.Contains(got, "RESULT: CONTAINED") {
		t.Errorf("the verdict claims CONTAINED with a withdrawal still leaving\n%s", got)
	}
	// The master's attacker was at work during the hold: what it placed
	// after the hold's last look, before the key died, is out of sight.
	// The emulator shows none here (it stopped first), but the run cannot
	// know that: a human must look.
	if !strings.Contains(got, "open-orders-possible on "+master) {
		t.Errorf("the verdict does not say that orders placed after the hold's last look cannot be seen\n%s", got)
	}
	for _, bad := range []string{"open-orders on", "open-orders-inferred on", "live-key on"} {
		if strings.Contains(got, bad) {
			t.Errorf("the verdict names %q although the emulator shows none\n%s", bad, got)
		}
	}
}

// onlyRunDirName returns the one run directory's name under runs.
func onlyRunDirName(t *testing.T, runs string) string {
	t.Helper()
	ents, err := os.ReadDir(runs)
	if err != nil || len(ents) != 1 {
		t.Fatalf("run directories: %v, %v", ents, err)
	}
	return ents[0].Name()
}

// A leaked key that no configured account holds does not stop
// containment: every account is still frozen and its sub keys deleted,
// and the run says, live and in the report, that the key was found on no
// configured account and what to do.
func TestUnknownLeakedKeyContinues(t *testing.T) {
	srv, _, cfg := startHoldEmulatorSrv(t)
	const unknown = "ZZZZunknownkey000000000000000000000000000000000000000000000ZZZZ"
	out := &lockedBuffer{}
	runs := t.TempDir()
	code := Run(context.Background(), holdFactory(out), []string{"run", "suspected-key-leak", "--yes", "--config", cfg,
		"--runs-dir", runs, "--hold", "50ms", "--input", "leaked_key=" + unknown})
	got := out.String()
	if code != ExitManual && code != ExitFailed {
		t.Errorf("exit %d, want 4 (or 1)\n%s", code, got)
	}
	// Live: each account says the key is not there; the verdict says it
	// is on no configured account.
	for _, acct := range []string{"northwind-master", "kucoin-main"} {
		if !regexp.MustCompile(`revoke-leaked-key +` + acct + ` `).MatchString(got) {
			t.Errorf("no live line for revoke-leaked-key on %s\n%s", acct, got)
		}
	}
	if !strings.Contains(got, "not found on any configured account") || strings.Contains(got, unknown) {
		t.Errorf("the run does not say the key is on no configured account, or shows it unmasked\n%s", got)
	}
	// Containment went on: the emulator shows no open order on the Binance
	// fund and no sub key left there.
	orders, subKeys, temp := leftovers(t, srv, "northwind-master")
	if totalOrders(orders) != 0 || len(subKeys) != 0 || len(temp) != 0 {
		t.Errorf("after the run: orders %v, sub keys %v, temporary keys %v: want none", orders, subKeys, temp)
	}
	md, err := os.ReadFile(filepath.Join(runs, onlyRunDirName(t, runs), "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	// The report is built from the trail alone: each account's finding is
	// there, high, saying the key is not on it and what it may be.
	for _, acct := range []string{"northwind-master", "kucoin-main"} {
		if !regexp.MustCompile(`\| high \| ` + acct + ` \| key ZZZZ…ZZZZ \| key ZZZZ…ZZZZ not found on account ` + acct + `.*it may be the master key of another account or belong to an account not in the accounts file`).Match(md) {
			t.Errorf("report.md has no high finding saying the leaked key is not on %s", acct)
		}
	}
}

// A bad --hold is refused before anything reaches the exchange.
func TestBadHoldSendsNothing(t *testing.T) {
	srv, _, cfg := startHoldEmulatorSrv(t)
	before := len(srv.Requests())
	for _, bad := range []string{"forever", "-5m", "0"} {
		_, errOut, code := runCLI(t, "run", "suspected-key-leak", "--yes", "--config", cfg, "--runs-dir", t.TempDir(), "--hold", bad)
		if code != ExitUsage || !strings.Contains(errOut, "--hold") {
			t.Errorf("--hold %s: exit %d, stderr %q; want %d naming --hold", bad, code, errOut, ExitUsage)
		}
	}
	if n := len(srv.Requests()) - before; n != 0 {
		t.Errorf("%d requests reached the emulator, want none", n)
	}
}

// allTempKeys lists the temporary keys alive on either venue, from the
// emulator's own state.
func allTempKeys(t *testing.T, srv *emulator.Server) []string {
	t.Helper()
	data, err := json.Marshal(srv.State())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	// Binance: keys with a pbtmp label; KuCoin: keys with a pbtmp remark
	// not marked deleted.
	for _, m := range regexp.MustCompile(`\{[^{}]*"(?:label|remark)":"(pbtmp[0-9a-f]+)"[^{}]*\}`).FindAllStringSubmatch(string(data), -1) {
		if !strings.Contains(m[0], `"deleted":true`) {
			out = append(out, m[1])
		}
	}
	return out
}

// kill -9 while a temporary key exists, then --resume: the resumed run
// deletes it before anything else, and none is left alive.
func TestKillWithTemporaryKeyThenResume(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and resumes a real process")
	}
	bin, err := exec.LookPath("panicbutton")
	if err != nil {
		t.Fatalf("panicbutton not on PATH: %v", err)
	}
	// Latency makes the sub-account freeze (mint, cancel, delete) last
	// long enough to be killed in the middle of it.
	srv, _, accountsFile := resumeEmulator(t, 60*time.Millisecond)
	work := t.TempDir()
	runs := filepath.Join(work, "runs")
	command := func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "PANICBUTTON_CONFIG="+accountsFile, "PANICBUTTON_RUNS_DIR="+runs,
			"PANICBUTTON_LOOPBACK_ONLY=1", "HOME="+work, "NO_COLOR=1")
		cmd.Stdout, cmd.Stderr = &bytes.Buffer{}, &bytes.Buffer{}
		return cmd
	}
	victim := command("run", "suspected-key-leak", "--yes", "--hold", "1s")
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	var alive []string
	for len(alive) == 0 {
		if time.Now().After(deadline) {
			_ = victim.Process.Kill()
			_ = victim.Wait()
			t.Fatalf("no temporary key ever showed in the emulator\nstdout:\n%s", victim.Stdout)
		}
		time.Sleep(5 * time.Millisecond)
		alive = allTempKeys(t, srv)
	}
	_ = victim.Process.Kill() // SIGKILL: no deferred clean-up runs
	_ = victim.Wait()
	alive = allTempKeys(t, srv)
	if len(alive) == 0 {
		t.Skip("the victim deleted its temporary keys before the kill landed")
	}
	dir := onlyRunDir(t, runs)
	res := command("run", "--resume", dir, "--yes", "--hold", "1s")
	code := exitCodeOf(res.Run())
	if code != ExitManual && code != ExitFailed {
		t.Fatalf("resume: exit %d\nstdout:\n%s\nstderr:\n%s", code, res.Stdout, res.Stderr)
	}
	if left := allTempKeys(t, srv); len(left) != 0 {
		t.Errorf("temporary keys alive after the resume: %v (alive at the kill: %v)\n%s", left, alive, res.Stdout)
	}
	// The trail: the resumed run's clean-up deleted them first, by label.
	recs := trailChecks(t, dir)
	cleaned := map[string]bool{}
	firstResumed := -1
	for i, r := range recs {
		if r.Step == runner.StepResumeCleanup && r.Phase == audit.PhaseOutcome && r.Request["kind"] == "delete-temp-key" {
			cleaned[r.Request["req.label"]] = true
			if firstResumed < 0 {
				firstResumed = i
			}
		}
	}
	for _, label := range alive {
		if !cleaned[label] {
			t.Errorf("temporary key %s alive at the kill was not deleted by the resume's clean-up (cleaned: %v)", label, cleaned)
		}
	}
	if !strings.Contains(res.Stdout.(*bytes.Buffer).String(), "resume-cleanup") {
		t.Errorf("the resumed run does not show its clean-up of temporary keys\n%s", res.Stdout)
	}
}
