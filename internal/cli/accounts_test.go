package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
)

// Values that must never appear in any output of the accounts commands.
const (
	acctTestAPIKey = "APIKEY-0123456789abcdef"
	acctTestSecret = "SECRET-feedfacecafe"
	acctTestPass   = "PASS-8badf00d"
	acctTestSub    = "SUBPASS-deadbeef"
)

// acctTestFile writes an accounts file using the "testex" exchange (served
// by acctTestDriver) and the real exchanges, plus a 0600 secret file.
func acctTestFile(t *testing.T) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.secret"), []byte(acctTestSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, "accounts.yaml")
	yaml := `accounts:
  - name: main
    exchange: testex
    api_key: {env: MAIN_KEY}
    secret: {file: main.secret}
    tags: [prod]
  - name: bots
    exchange: testex
    api_key: {env: BOTS_KEY}
    secret: {command: [/bin/echo, -n, ` + acctTestSecret + `]}
    tags: [prod, bots]
    base_url: http://127.0.0.1:1/testex
  - name: locked-out
    exchange: testex
    api_key: {env: LOCKED_KEY}
    secret: {env: LOCKED_SECRET}
  - name: kucoin-main
    exchange: kucoin
    api_key: {env: KUCOIN_KEY}
    secret: {env: KUCOIN_SECRET}
    passphrase: {env: KUCOIN_PASSPHRASE}
    sub_keys:
      - {sub: bot1, api_key: 6650aa11bb22cc33dd44, passphrase: {env: KUCOIN_BOT1_PASS}}
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, path
}

// acctTestEnv has every credential set, except LOCKED_SECRET when missing is true.
func acctTestEnv(dir string, missing bool) map[string]string {
	m := map[string]string{
		"HOME":              dir,
		"MAIN_KEY":          acctTestAPIKey + "-main",
		"BOTS_KEY":          acctTestAPIKey + "-bots",
		"LOCKED_KEY":        acctTestAPIKey + "-revoked",
		"LOCKED_SECRET":     acctTestSecret,
		"KUCOIN_KEY":        acctTestAPIKey,
		"KUCOIN_SECRET":     acctTestSecret,
		"KUCOIN_PASSPHRASE": acctTestPass,
		"KUCOIN_BOT1_PASS":  acctTestSub,
	}
	if missing {
		delete(m, "LOCKED_SECRET")
	}
	return m
}

// acctTestDriver is a tiny keys.inventory driver. It rejects the key
// ending in "-revoked", checks that the secret was resolved, and waits
// (up to 5s) until `parallel` executors are inside Do at once, which
// proves accounts are probed concurrently.
type acctTestDriver struct {
	parallel int
	mu       sync.Mutex
	inside   int
	all      chan struct{}
	calls    []string
}

func (d *acctTestDriver) driver() executors.Driver {
	d.all = make(chan struct{})
	return executors.Driver{
		Exchange: "testex",
		Actions:  []string{executors.KeysInventory},
		New: func(acct executors.Account, env executors.Env) (executors.Executor, error) {
			return &acctTestExec{d: d, acct: acct}, nil
		},
	}
}

type acctTestExec struct {
	d    *acctTestDriver
	acct executors.Account
}

func (e *acctTestExec) Exchange() string { return "testex" }

func (e *acctTestExec) Plan(ctx context.Context, req executors.Request) (executors.Result, error) {
	return e.Do(ctx, req)
}

func (e *acctTestExec) Do(ctx context.Context, req executors.Request) (executors.Result, error) {
	d := e.d
	d.mu.Lock()
	d.calls = append(d.calls, e.acct.Name)
	d.inside++
	if d.inside == d.parallel {
		close(d.all)
	}
	d.mu.Unlock()
	select {
	case <-d.all:
	case <-time.After(5 * time.Second):
		return executors.Result{}, &executors.Error{Class: executors.ErrTransient, Op: "barrier", Msg: "accounts were not probed concurrently"}
	}
	if req.Action != executors.KeysInventory || !req.Params.Bool("include_sub_accounts") {
		return executors.Result{}, &executors.Error{Class: executors.ErrRejected, Op: "inventory", Msg: fmt.Sprintf("unexpected request %s %v", req.Action, req.Params)}
	}
	if e.acct.Secret.Reveal() != acctTestSecret {
		return executors.Result{}, &executors.Error{Class: executors.ErrAuth, Op: "inventory", Code: "-1022", Msg: "signature invalid"}
	}
	key := e.acct.APIKey.Reveal()
	if strings.HasSuffix(key, "-revoked") {
		return executors.Result{}, &executors.Error{Class: executors.ErrAuth, Op: "GET /sapi/v1/account/apiRestrictions", Code: "-2015", Msg: "Invalid API-key, IP, or permissions for action."}
	}
	keys := []executors.Key{
		{Owner: "master", APIKey: key, Permissions: []string{"read", "spot"}, CanTrade: true, IPRestricted: true, IPs: []string{"127.0.0.1"}},
		{Owner: "bot1", Sub: true, APIKey: "subkey-" + e.acct.Name + "-0123456789", Permissions: []string{"read", "withdraw"}, CanWithdraw: true},
	}
	return executors.Result{
		Status:  executors.StatusOK,
		Summary: "2 keys, 1 risky",
		Data:    keys,
		Findings: []executors.Finding{{Severity: "high", Subject: "key subk…6789 (sub bot1)", Message: "withdrawals are enabled and the key has no IP restriction",
			Fix: "delete the key or restrict it to your IPs"}},
	}, nil
}

func acctTestFactory(getenv map[string]string, reg *executors.Registry) (*Factory, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return &Factory{
		In: strings.NewReader(""), Out: &out, ErrOut: &errOut,
		IsTTY:    func() bool { return false },
		Now:      time.Now,
		Getenv:   func(k string) string { return getenv[k] },
		Logger:   slog.New(slog.DiscardHandler),
		Registry: reg,
	}, &out, &errOut
}

func assertNoSecrets(t *testing.T, outputs ...string) {
	t.Helper()
	for _, out := range outputs {
		for _, s := range []string{acctTestAPIKey, acctTestSecret, acctTestPass, acctTestSub} {
			if strings.Contains(out, s) {
				t.Errorf("output contains secret %q:\n%s", s, out)
			}
		}
	}
}

func TestAccountsList(t *testing.T) {
	dir, path := acctTestFile(t)
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantCode int
		want     []string // substrings of stdout
	}{
		{name: "shows sources", args: []string{"accounts", "list", "--config", path}, env: acctTestEnv(dir, false),
			want: []string{
				"4 accounts in " + path,
				"main  testex  tags prod\n  endpoint     production\n  api_key      env MAIN_KEY\n  secret       file main.secret\n",
				"bots  testex  tags prod,bots\n  endpoint     http://127.0.0.1:1/testex\n  api_key      env BOTS_KEY\n  secret       command [/bin/echo -n " + acctTestSecret + "]\n",
				"kucoin-main  kucoin  key v3\n  endpoint     production\n  api_key      env KUCOIN_KEY\n  secret       env KUCOIN_SECRET\n  passphrase   env KUCOIN_PASSPHRASE\n  sub bot1     key 6650…dd44, passphrase env KUCOIN_BOT1_PASS\n",
			}},
		{name: "works without any credential set", args: []string{"accounts", "list", "--config", path}, env: map[string]string{},
			want: []string{"api_key      env LOCKED_KEY"}},
		{name: "config from PANICBUTTON_CONFIG", args: []string{"accounts", "list"}, env: map[string]string{"PANICBUTTON_CONFIG": path},
			want: []string{"4 accounts in " + path}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, out, errOut := acctTestFactory(tt.env, executors.NewRegistry((&acctTestDriver{}).driver()))
			if code := Run(context.Background(), f, tt.args); code != tt.wantCode {
				t.Fatalf("got exit %d, want %d; stderr: %s", code, tt.wantCode, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q; got:\n%s", w, out)
				}
			}
			// The command argv above carries the secret on purpose (argv is
			// configuration); only check env/file/passphrase values here.
			for _, s := range []string{acctTestAPIKey, acctTestPass, acctTestSub} {
				if strings.Contains(out.String()+errOut.String(), s) {
					t.Errorf("output contains secret %q", s)
				}
			}
		})
	}
}

func TestAccountsListJSON(t *testing.T) {
	dir, path := acctTestFile(t)
	f, out, errOut := acctTestFactory(acctTestEnv(dir, false), executors.NewRegistry((&acctTestDriver{}).driver()))
	if code := Run(context.Background(), f, []string{"accounts", "list", "--config", path, "--json"}); code != 0 {
		t.Fatalf("got exit %d, want 0; stderr: %s", code, errOut)
	}
	var got struct {
		File     string        `json:"file"`
		Accounts []accountJSON `json:"accounts"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	if got.File != path || len(got.Accounts) != 4 {
		t.Fatalf("got file %q with %d accounts, want %q with 4", got.File, len(got.Accounts), path)
	}
	k := got.Accounts[3]
	checks := []struct{ what, got, want string }{
		{"name", k.Name, "kucoin-main"},
		{"endpoint", k.Endpoint, "production"},
		{"futures", k.FuturesBaseURL, "https://api-futures.kucoin.com"},
		{"key version", fmt.Sprint(k.KeyVersion), "3"},
		{"api_key source", k.Credentials["api_key"], "env KUCOIN_KEY"},
		{"passphrase source", k.Credentials["passphrase"], "env KUCOIN_PASSPHRASE"},
		{"sub key", fmt.Sprint(k.SubKeys), "[{bot1 6650…dd44 env KUCOIN_BOT1_PASS}]"},
		{"main secret source", got.Accounts[0].Credentials["secret"], "file main.secret"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.what, c.got, c.want)
		}
	}
}

func TestAccountsListBadFile(t *testing.T) {
	bad, err := filepath.Abs(filepath.Join("..", "..", "testdata", "accounts", "bad.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantStderr []string
	}{
		{name: "every problem with its position", args: []string{"accounts", "list", "--config", bad},
			wantStderr: []string{
				bad + `:6:5: unknown key "secert"`,
				bad + `:7:11: duplicate account name "binance-main" (first at line 3)`,
				bad + `:10:13: secret: literal secret values are not allowed in accounts files`,
				bad + `:15:18: key_version must be 1, 2 or 3, got 4`,
				bad + `:18:15: unknown exchange "bitmex" (known: binance, kucoin)`,
				"error: invalid accounts file " + bad + " (10 problems)",
			}},
		{name: "check too", args: []string{"accounts", "check", "--config", bad},
			wantStderr: []string{bad + `:16:15: base_url must be an absolute http(s) URL, got "ftp://example.com"`}},
		{name: "no accounts file", args: []string{"accounts", "list"}, env: map[string]string{"HOME": t.TempDir()},
			wantStderr: []string{"error: no accounts file found; tried --config (not given), $PANICBUTTON_CONFIG (not set), "}},
		{name: "missing --config file", args: []string{"accounts", "list", "--config", "nope.yaml"},
			wantStderr: []string{"error: read accounts file: open nope.yaml: no such file or directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, out, errOut := acctTestFactory(tt.env, executors.NewRegistry())
			if code := Run(context.Background(), f, tt.args); code != ExitUsage {
				t.Fatalf("got exit %d, want %d; stderr: %s", code, ExitUsage, errOut)
			}
			if out.Len() != 0 {
				t.Errorf("got stdout %q, want nothing", out)
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("stderr lacks %q; got:\n%s", w, errOut)
				}
			}
			if strings.Contains(errOut.String(), "do-not-echo-this-value") {
				t.Errorf("stderr repeats the literal secret:\n%s", errOut)
			}
		})
	}
}

func TestAccountsCheck(t *testing.T) {
	dir, path := acctTestFile(t)
	tests := []struct {
		name       string
		args       []string
		missing    bool
		parallel   int // testex accounts probed (they wait for each other)
		wantCode   int
		wantCalls  []string
		wantOut    []string
		notWantOut []string
	}{
		{name: "every account; failures do not stop the others", args: nil, parallel: 3, wantCode: ExitFailed,
			wantCalls: []string{"bots", "locked-out", "main"},
			wantOut: []string{
				"main (testex): ok: 2 keys, 1 risky\n" +
					"  key APIK…main  master  permissions read,spot  ip 127.0.0.1\n" +
					"  key subk…6789  sub bot1  permissions read,withdraw  ip none (any IP)\n" +
					"  risk [high] key subk…6789 (sub bot1): withdrawals are enabled and the key has no IP restriction\n" +
					"    fix: delete the key or restrict it to your IPs\n",
				"bots (testex): ok: 2 keys, 1 risky\n",
				"locked-out (testex): FAILED [auth]\n  account locked-out: keys.inventory: GET /sapi/v1/account/apiRestrictions: authentication rejected (-2015 Invalid API-key, IP, or permissions for action.)\n",
				"kucoin-main (kucoin): FAILED [config]\n  account kucoin-main: no driver for exchange \"kucoin\" (known: testex)\n",
				"4 accounts checked, 2 failed\n",
			}},
		{name: "missing credential", args: []string{"--account", "locked-out"}, missing: true, parallel: 1, wantCode: ExitFailed,
			wantOut: []string{"locked-out (testex): FAILED [credentials]\n  account locked-out: secret: env LOCKED_SECRET is not set\n", "1 account checked, 1 failed"}},
		{name: "by tag, all ok", args: []string{"--tag", "prod"}, parallel: 2, wantCode: ExitOK,
			wantCalls:  []string{"bots", "main"},
			wantOut:    []string{"main (testex): ok", "bots (testex): ok", "2 accounts checked, 0 failed"},
			notWantOut: []string{"locked-out", "kucoin-main"}},
		{name: "unknown account", args: []string{"--account", "nope"}, wantCode: ExitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &acctTestDriver{parallel: tt.parallel}
			f, out, errOut := acctTestFactory(acctTestEnv(dir, tt.missing), executors.NewRegistry(d.driver()))
			args := append([]string{"accounts", "check", "--config", path}, tt.args...)
			if code := Run(context.Background(), f, args); code != tt.wantCode {
				t.Fatalf("got exit %d, want %d; stdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errOut)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks\n%s\ngot:\n%s", w, out)
				}
			}
			for _, w := range tt.notWantOut {
				if strings.Contains(out.String(), w) {
					t.Errorf("stdout has %q, want it not selected:\n%s", w, out)
				}
			}
			if tt.wantCalls != nil {
				d.mu.Lock()
				calls := append([]string(nil), d.calls...)
				d.mu.Unlock()
				slices.Sort(calls)
				if fmt.Sprint(calls) != fmt.Sprint(tt.wantCalls) {
					t.Errorf("probed %v, want %v", calls, tt.wantCalls)
				}
			}
			assertNoSecrets(t, out.String(), errOut.String())
		})
	}
}

func TestAccountsCheckJSON(t *testing.T) {
	dir, path := acctTestFile(t)
	d := &acctTestDriver{parallel: 3}
	f, out, errOut := acctTestFactory(acctTestEnv(dir, false), executors.NewRegistry(d.driver()))
	if code := Run(context.Background(), f, []string{"accounts", "check", "--config", path, "--json"}); code != ExitFailed {
		t.Fatalf("got exit %d, want %d; stderr: %s", code, ExitFailed, errOut)
	}
	var got struct {
		Accounts []accountCheck `json:"accounts"`
		Failed   int            `json:"failed"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	var summary []string
	for _, a := range got.Accounts {
		summary = append(summary, fmt.Sprintf("%s ok=%v class=%s keys=%d findings=%d", a.Name, a.OK, a.Class, len(a.Keys), len(a.Findings)))
	}
	want := []string{
		"main ok=true class= keys=2 findings=1",
		"bots ok=true class= keys=2 findings=1",
		"locked-out ok=false class=auth keys=0 findings=0",
		"kucoin-main ok=false class=config keys=0 findings=0",
	}
	if fmt.Sprint(summary) != fmt.Sprint(want) || got.Failed != 2 {
		t.Errorf("got %q failed=%d, want %q failed=2", summary, got.Failed, want)
	}
	if len(got.Accounts) > 0 && len(got.Accounts[0].Keys) > 0 {
		if k := got.Accounts[0].Keys[0].APIKey; k != "APIK…main" {
			t.Errorf("got key id %q, want it masked as APIK…main", k)
		}
	}
	assertNoSecrets(t, out.String(), errOut.String())
}
