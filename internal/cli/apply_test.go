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
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/internal/audit"
	savedplan "github.com/panicbutton/panicbutton/internal/plan"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// planEnv is an emulator with the demo fund, its accounts file, a state
// directory for the applied-plans ledger, and a CLI runner.
type planEnv struct {
	t        *testing.T
	base     string
	cfg      string
	stateDir string
	dir      string
}

func newPlanEnv(t *testing.T) *planEnv {
	t.Helper()
	_, base, cfg := startHoldEmulatorSrv(t)
	return &planEnv{t: t, base: base, cfg: cfg, stateDir: t.TempDir(), dir: t.TempDir()}
}

// cli runs panicbutton in process; shift moves its clock.
func (e *planEnv) cli(shift time.Duration, args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	return e.cliCtx(context.Background(), shift, args...)
}

func (e *planEnv) cliCtx(parent context.Context, shift time.Duration, args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	out, errOut := &lockedBuffer{}, &lockedBuffer{}
	env := map[string]string{"PANICBUTTON_STATE_DIR": e.stateDir}
	f := &Factory{In: strings.NewReader(""), Out: out, ErrOut: errOut, IsTTY: func() bool { return false },
		Now: func() time.Time { return time.Now().Add(shift) }, Getenv: func(k string) string { return env[k] },
		Logger: NewFactory().Logger, Registry: NewRegistry(), Transport: loopbackOnly{base: http.DefaultTransport}, Version: "test"}
	ctx, cancel := context.WithTimeout(parent, 2*time.Minute)
	defer cancel()
	code = Run(ctx, f, args)
	return out.String(), errOut.String(), code
}

// plan saves a plan of playbook and returns the plan file.
func (e *planEnv) plan(playbook string, extra ...string) string {
	e.t.Helper()
	pf := filepath.Join(e.dir, fmt.Sprintf("plan-%d.json", time.Now().UnixNano()))
	args := append([]string{"run", playbook, "--config", e.cfg, "--dry-run", "--plan-out", pf, "--runs-dir", filepath.Join(e.dir, "plan-runs")}, extra...)
	out, errOut, code := e.cli(0, args...)
	if code != ExitPlanOnly && code != ExitOK {
		e.t.Fatalf("run --plan-out: exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "plan saved: "+pf) {
		e.t.Fatalf("run --plan-out did not say where the plan is:\n%s", out)
	}
	return pf
}

type logEntry struct {
	Seq    int64  `json:"seq"`
	Venue  string `json:"venue"`
	Method string `json:"method"`
	Path   string `json:"path"`
	Query  string `json:"query"`
	Kind   string `json:"kind"`
	Status int    `json:"status"`
}

// requests returns the emulator's request log after seq.
func (e *planEnv) requests(since int64) []logEntry {
	e.t.Helper()
	resp, err := http.Get(e.base + "/_emulator/requests?since=" + strconv.FormatInt(since, 10))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []logEntry
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		e.t.Fatal(err)
	}
	var after []logEntry
	for _, r := range out {
		if r.Seq > since {
			after = append(after, r)
		}
	}
	return after
}

func (e *planEnv) lastSeq() int64 {
	all := e.requests(0)
	if len(all) == 0 {
		return 0
	}
	return all[len(all)-1].Seq
}

func (e *planEnv) admin(path string, body any) []byte {
	e.t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(e.base+"/_emulator/"+path, "application/json", bytes.NewReader(b))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("POST /_emulator/%s: HTTP %d %s", path, resp.StatusCode, out)
	}
	return out
}

// binanceOrder places a spot limit order with a signed request, as the
// holder of the leaked key would.
func (e *planEnv) binanceOrder(account, symbol, price, qty string) string {
	e.t.Helper()
	read := func(ext string) string {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(e.cfg), account+ext))
		if err != nil {
			e.t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	key, sec := read(".api_key"), read(".secret")
	q := url.Values{"symbol": {symbol}, "side": {"BUY"}, "type": {"LIMIT"}, "timeInForce": {"GTC"},
		"quantity": {qty}, "price": {price}, "timestamp": {strconv.FormatInt(time.Now().UnixMilli(), 10)}}
	raw := q.Encode()
	mac := hmac.New(sha256.New, []byte(sec))
	mac.Write([]byte(raw))
	req, _ := http.NewRequest(http.MethodPost, e.base+"/binance/api/v3/order?"+raw+"&signature="+hex.EncodeToString(mac.Sum(nil)), nil)
	req.Header.Set("X-MBX-APIKEY", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var o struct {
		OrderID int64 `json:"orderId"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &o) != nil || o.OrderID == 0 {
		e.t.Fatalf("placing an order: HTTP %d %s", resp.StatusCode, body)
	}
	return strconv.FormatInt(o.OrderID, 10)
}

// emuKeys returns every live key of the emulator (both venues), by api key.
func (e *planEnv) emuKeys() (binance map[string]string, kucoin map[string]string, openOrders map[string][]string) {
	e.t.Helper()
	resp, err := http.Get(e.base + "/_emulator/state")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Binance struct {
			Accounts []struct {
				Name string `json:"name"`
				Keys []struct {
					APIKey  string `json:"api_key"`
					Deleted bool   `json:"deleted"`
				} `json:"keys"`
				OpenOrders map[string][]struct {
					OrderID json.Number `json:"orderId"`
				} `json:"open_orders"`
			} `json:"accounts"`
		} `json:"binance"`
		Kucoin struct {
			Masters []struct {
				Subs []struct {
					Name string `json:"name"`
					Keys []struct {
						APIKey  string `json:"api_key"`
						Deleted bool   `json:"deleted"`
					} `json:"keys"`
				} `json:"subs"`
			} `json:"masters"`
		} `json:"kucoin"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		e.t.Fatal(err)
	}
	binance, kucoin, openOrders = map[string]string{}, map[string]string{}, map[string][]string{}
	for _, a := range st.Binance.Accounts {
		for _, k := range a.Keys {
			if !k.Deleted {
				binance[k.APIKey] = a.Name
			}
		}
		for product, orders := range a.OpenOrders {
			for _, o := range orders {
				openOrders[a.Name+"/"+product] = append(openOrders[a.Name+"/"+product], o.OrderID.String())
			}
		}
	}
	for _, m := range st.Kucoin.Masters {
		for _, s := range m.Subs {
			for _, k := range s.Keys {
				if !k.Deleted {
					kucoin[k.APIKey] = s.Name
				}
			}
		}
	}
	return binance, kucoin, openOrders
}

// approvedKeys returns the masked key ids of the plan's delete-key targets.
func approvedKeys(t *testing.T, pf string) map[string]bool {
	t.Helper()
	pl, _, err := savedplan.ReadFile(pf)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, s := range pl.Steps {
		for _, sa := range s.Accounts {
			for _, c := range sa.Targets {
				if c.Kind == "delete-key" {
					i := strings.LastIndex(c.ID, ":")
					out[c.ID[i+1:]] = true
				}
			}
		}
	}
	return out
}

func keysOf(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestApplyExecutesExactlyThePlan: plan, then between plan and apply the
// attacker creates a sub-account key and places an order; apply deletes
// exactly the planned keys (the new one is reported and left alone) and
// cancels the new order (cancels are approved as a scope). The trail names
// the plan; audit verify checks it; a second apply is refused.
func TestApplyExecutesExactlyThePlan(t *testing.T) {
	e := newPlanEnv(t)
	pf := e.plan("suspected-key-leak")
	approved := approvedKeys(t, pf)
	if len(approved) == 0 {
		t.Fatal("the plan approves no key deletion; the demo fund has sub-account keys")
	}
	bBefore, kBefore, _ := e.emuKeys()

	newKey := "PLANTESTNEWKEY" + strings.Repeat("x", 50)
	e.admin("create-key", map[string]any{"venue": "binance", "account": "northwind-arb", "api_key": newKey, "permissions": []string{"reading", "spot"}})
	orderID := e.binanceOrder("northwind-master", "BTCUSDT", "50000", "0.01")
	if _, _, open := e.emuKeys(); !slices.Contains(open["northwind-master/spot"], orderID) {
		t.Fatalf("the order placed after the plan (%s) is not open: %v", orderID, open["northwind-master/spot"])
	}
	seq := e.lastSeq()

	runs := filepath.Join(e.dir, "apply-runs")
	out, errOut, code := e.cli(0, "apply", pf, "--runs-dir", runs, "--hold", "1s")
	if code != ExitFailed {
		t.Errorf("apply: exit %d, want %d (the new key is still there: not contained)\n%s\n%s", code, ExitFailed, out, errOut)
	}

	bAfter, kAfter, open := e.emuKeys()
	if _, ok := bAfter[newKey]; !ok {
		t.Errorf("the key created after the plan was deleted; it must be left alone")
	}
	deleted := map[string]bool{}
	for k := range bBefore {
		if _, ok := bAfter[k]; !ok {
			deleted[secret.Mask(k)] = true
		}
	}
	for k := range kBefore {
		if _, ok := kAfter[k]; !ok {
			deleted[secret.Mask(k)] = true
		}
	}
	if fmt.Sprint(keysOfBool(deleted)) != fmt.Sprint(keysOfBool(approved)) {
		t.Errorf("deleted keys: got %v, want exactly the planned %v", keysOfBool(deleted), keysOfBool(approved))
	}
	for product, ids := range open {
		for _, id := range ids {
			if strings.HasPrefix(product, "northwind-master/") {
				t.Errorf("order %s still open on %s after apply (placed since the plan: cancels are a scope)", id, product)
			}
		}
	}
	// Binance sends the sub key in the body: count the delete requests.
	nDel := 0
	for _, r := range e.requests(seq) {
		if r.Method == http.MethodDelete && strings.HasSuffix(r.Path, "/sub-account/subAccountApi") {
			nDel++
		}
	}
	bApproved := 0
	for k := range bBefore {
		if approved[secret.Mask(k)] {
			bApproved++
		}
	}
	if nDel != bApproved {
		t.Errorf("Binance sub-key delete requests: got %d, want %d (the planned ones only)", nDel, bApproved)
	}
	if !strings.Contains(out, "NOT IN THE APPROVED PLAN") || !strings.Contains(out, secret.Mask(newKey)) {
		t.Errorf("apply output does not report the new key %s as left alone:\n%s", secret.Mask(newKey), out)
	}

	dirs, _ := filepath.Glob(filepath.Join(runs, "*"))
	if len(dirs) != 1 {
		t.Fatalf("run directories: %v", dirs)
	}
	recs, err := audit.Read(dirs[0])
	if err != nil {
		t.Fatal(err)
	}
	_, hash, _ := savedplan.ReadFile(pf)
	if !strings.Contains(string(recs[0].Result), `"approved_plan_sha256":"`+hash+`"`) {
		t.Errorf("start record does not name the plan %s: %s", hash, recs[0].Result)
	}
	refusedRec := false
	for _, r := range recs {
		if strings.Contains(string(r.Result), `"not_approved":true`) && strings.Contains(r.Request["target"], secret.Mask(newKey)) {
			refusedRec = true
		}
	}
	if !refusedRec {
		t.Error("the trail has no record of the key left alone")
	}
	if out, errOut, code := e.cli(0, "audit", "verify", dirs[0], "--plan", pf); code != 0 || !strings.Contains(out, "approved plan: "+hash) {
		t.Errorf("audit verify --plan: exit %d\n%s%s", code, out, errOut)
	}
	// audit verify catches a swapped plan copy.
	other := e.plan("freeze-trading")
	raw, _ := os.ReadFile(other)
	if err := os.WriteFile(filepath.Join(dirs[0], ApprovedPlanFile), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := e.cli(0, "audit", "verify", dirs[0]); code != ExitFailed || !strings.Contains(errOut, "the trail names plan") {
		t.Errorf("audit verify with a swapped plan copy: exit %d, want 1\n%s%s", code, out, errOut)
	}

	// A second apply, from another runs directory: refused, nothing sent.
	seq = e.lastSeq()
	_, errOut, code = e.cli(0, "apply", pf, "--runs-dir", filepath.Join(e.dir, "elsewhere"))
	if code != ExitUsage || !strings.Contains(errOut, "already applied") {
		t.Errorf("second apply: exit %d, want 2 'already applied': %s", code, errOut)
	}
	if got := e.requests(seq); len(got) != 0 {
		t.Errorf("second apply sent %d requests: %+v", len(got), got)
	}
}

func keysOfBool(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestApplyRefused: every refusal exits 2 before any request reaches the
// exchange (the emulator's request log is unchanged).
func TestApplyRefused(t *testing.T) {
	e := newPlanEnv(t)
	// A local playbook (a copy of freeze-trading) that a test can edit.
	pbOut, _, code := e.cli(0, "playbooks", "show", "freeze-trading")
	if code != 0 {
		t.Fatalf("playbooks show: exit %d", code)
	}
	pbFile := filepath.Join(e.dir, "freeze.yaml")
	if err := os.WriteFile(pbFile, []byte(pbOut), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) (planFile string, shift time.Duration)
		want  string
	}{
		{"expired", func(t *testing.T) (string, time.Duration) {
			return e.plan(pbFile, "--plan-ttl", "1m"), 2 * time.Minute
		}, "expired"},
		{"playbook edited", func(t *testing.T) (string, time.Duration) {
			pf := e.plan(pbFile)
			appendFile(t, pbFile, "# edited after the plan\n")
			return pf, 0
		}, "freeze.yaml changed since the plan was made"},
		{"accounts file edited", func(t *testing.T) (string, time.Duration) {
			pbCopy := filepath.Join(t.TempDir(), "freeze.yaml")
			if err := os.WriteFile(pbCopy, []byte(pbOut), 0o600); err != nil {
				t.Fatal(err)
			}
			pf := e.plan(pbCopy)
			appendFile(t, e.cfg, "# edited after the plan\n")
			return pf, 0
		}, "accounts.yaml changed since the plan was made"},
		{"tampered", func(t *testing.T) (string, time.Duration) {
			pf := e.plan("freeze-trading", "--config", e.cfg)
			b, _ := os.ReadFile(pf)
			b = bytes.Replace(b, []byte(`"ttl": "15m0s"`), []byte(`"ttl": "99h0m0s"`), 1)
			if err := os.WriteFile(pf, b, 0o600); err != nil {
				t.Fatal(err)
			}
			return pf, 0
		}, "modified after it was written"},
		{"truncated", func(t *testing.T) (string, time.Duration) {
			pf := e.plan("freeze-trading")
			b, _ := os.ReadFile(pf)
			if err := os.WriteFile(pf, b[:len(b)/3], 0o600); err != nil {
				t.Fatal(err)
			}
			return pf, 0
		}, "truncated"},
		{"newer format", func(t *testing.T) (string, time.Duration) {
			pf := filepath.Join(t.TempDir(), "newer.json")
			if err := os.WriteFile(pf, []byte(`{"kind": "panicbutton-plan", "format": 7, "digest": "", "plan": {}}`), 0o600); err != nil {
				t.Fatal(err)
			}
			return pf, 0
		}, "newer panicbutton"},
		{"not a plan", func(t *testing.T) (string, time.Duration) {
			return e.cfg, 0
		}, "not a panicbutton plan"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pf, shift := tc.setup(t)
			seq := e.lastSeq()
			out, errOut, code := e.cli(shift, "apply", pf, "--runs-dir", filepath.Join(e.dir, "refused-runs"))
			if code != ExitUsage {
				t.Errorf("exit %d, want %d\n%s\n%s", code, ExitUsage, out, errOut)
			}
			if !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "nothing was sent") {
				t.Errorf("stderr %q: want it to mention %q and that nothing was sent", errOut, tc.want)
			}
			if got := e.requests(seq); len(got) != 0 {
				t.Errorf("%d requests reached the emulator: %+v", len(got), got)
			}
			if _, err := os.Stat(filepath.Join(e.dir, "refused-runs")); err == nil {
				t.Error("a refused apply created a run directory")
			}
		})
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	fh, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if _, err := fh.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// TestPlanShow prints a saved plan as the dry-run did, with its approved
// targets, and refuses a file that is not a plan.
func TestPlanShow(t *testing.T) {
	e := newPlanEnv(t)
	pf := e.plan("suspected-key-leak")
	_, hash, err := savedplan.ReadFile(pf)
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := e.cli(0, "plan", "show", pf)
	if code != 0 {
		t.Fatalf("plan show: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{"plan " + hash, "PLAN (read from the live accounts at ", "APPROVED", "every open order", "[IRREVERSIBLE]", "expires:"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan show lacks %q:\n%s", want, out)
		}
	}
	if _, errOut, code := e.cli(0, "plan", "show", e.cfg); code != ExitUsage || !strings.Contains(errOut, "not a panicbutton plan") {
		t.Errorf("plan show of an accounts file: exit %d, %s", code, errOut)
	}
	// The plan file holds no secret of the accounts file.
	raw, _ := os.ReadFile(pf)
	secrets, _ := filepath.Glob(filepath.Join(filepath.Dir(e.cfg), "*.secret"))
	secrets2, _ := filepath.Glob(filepath.Join(filepath.Dir(e.cfg), "*passphrase"))
	for _, f := range append(secrets, secrets2...) {
		b, _ := os.ReadFile(f)
		if s := strings.TrimSpace(string(b)); s != "" && bytes.Contains(raw, []byte(s)) {
			t.Errorf("the plan file contains the secret from %s", filepath.Base(f))
		}
	}
}

// TestApplyResumeStaysBound: an apply interrupted with Ctrl-C and resumed
// with run --resume is still bound to its plan: the key created after the
// plan survives the resume too, and the resume says it is bound.
func TestApplyResumeStaysBound(t *testing.T) {
	_, base, cfg := resumeEmulator(t, 60*time.Millisecond)
	e := &planEnv{t: t, base: base, cfg: cfg, stateDir: t.TempDir(), dir: t.TempDir()}
	pf := e.plan("suspected-key-leak")
	newKey := "PLANRESUMENEWKEY" + strings.Repeat("y", 48)
	e.admin("create-key", map[string]any{"venue": "binance", "account": "northwind-hedge", "api_key": newKey, "permissions": []string{"reading", "futures"}})

	runs := filepath.Join(e.dir, "apply-runs")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(300*time.Millisecond, cancel)
	if out, errOut, code := e.cliCtx(ctx, 0, "apply", pf, "--runs-dir", runs, "--hold", "1s"); code != ExitInterrupted {
		t.Fatalf("interrupted apply: exit %d, want %d\n%s\n%s", code, ExitInterrupted, out, errOut)
	}
	dirs, _ := filepath.Glob(filepath.Join(runs, "*"))
	if len(dirs) != 1 {
		t.Fatalf("run directories: %v", dirs)
	}
	out, errOut, code := e.cli(0, "run", "--resume", dirs[0], "--yes", "--config", cfg, "--hold", "1s")
	if code == ExitUsage || code == ExitInterrupted {
		t.Fatalf("resume: exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "bound to it") {
		t.Errorf("the resume does not say it is bound to the plan:\n%s", out)
	}
	if b, _, open := e.emuKeys(); b[newKey] == "" {
		t.Error("the resume deleted the key created after the plan")
	} else if n := len(open["northwind-master/spot"]); n != 0 {
		t.Errorf("%d spot orders left on the master after the resume", n)
	}
}

// TestPlanOutBadFlags: --plan-out with --yes, --resume or a bad --plan-ttl
// is a usage error before anything is sent.
func TestPlanOutBadFlags(t *testing.T) {
	e := newPlanEnv(t)
	pf := filepath.Join(e.dir, "p.json")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"with --yes", []string{"--yes"}, "drop --yes"},
		{"zero ttl", []string{"--plan-ttl", "0s"}, "--plan-ttl"},
		{"negative ttl", []string{"--plan-ttl", "-5m"}, "--plan-ttl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seq := e.lastSeq()
			args := append([]string{"run", "suspected-key-leak", "--config", e.cfg, "--plan-out", pf, "--runs-dir", filepath.Join(e.dir, "runs")}, tc.args...)
			_, errOut, code := e.cli(0, args...)
			if code != ExitUsage || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 mentioning %q", code, errOut, tc.want)
			}
			if got := e.requests(seq); len(got) != 0 {
				t.Errorf("%d requests sent", len(got))
			}
			if _, err := os.Stat(pf); err == nil {
				t.Error("a plan file was written")
			}
		})
	}
}
