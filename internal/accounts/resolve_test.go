package accounts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Known values that must never show up in any output.
const (
	apiKeyVal   = "APIKEY-7d1f0c9e2b"
	secretVal   = "SECRET-4a8b6c2d0e"
	passVal     = "PASS-93ab71cd"
	subPassVal  = "SUBPASS-5e5e5e5e"
	stderrValue = "STDERR-LEAK-1234"
)

var allSecrets = []string{apiKeyVal, secretVal, passVal, subPassVal, stderrValue}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // umask may have cut bits
		t.Fatal(err)
	}
}

func TestResolveSources(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	cfgDir := filepath.Join(dir, "cfg")
	writeFile(t, filepath.Join(cfgDir, "rel.secret"), "  "+secretVal+"\n", 0o600)
	writeFile(t, filepath.Join(home, ".config", "pb", "home.secret"), secretVal+"\n", 0o400)
	writeFile(t, filepath.Join(dir, "abs.secret"), secretVal, 0o600)
	f := &File{Path: filepath.Join(cfgDir, "accounts.yaml")}
	r := Resolver{Getenv: env(map[string]string{"SECRET": secretVal + "\n"}), Home: home}

	tests := []struct {
		name string
		src  Source
	}{
		{"env", Source{Env: "SECRET"}},
		{"file relative to the accounts file", Source{File: "rel.secret"}},
		{"file under home", Source{File: "~/.config/pb/home.secret"}},
		{"file absolute", Source{File: filepath.Join(dir, "abs.secret")}},
		{"command", Source{Command: []string{"/bin/echo", secretVal}}},
		{"command -n", Source{Command: []string{"/bin/echo", "-n", secretVal}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.src
			e := Entry{Name: "a", Exchange: "binance", KeyType: "hmac", Secret: &src}
			acct, err := r.Resolve(context.Background(), f, e)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if got := acct.Secret.Reveal(); got != secretVal {
				t.Errorf("got secret %q, want %q", got, secretVal)
			}
		})
	}
}

func TestResolveAccount(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "k.pass"), passVal, 0o600)
	f := &File{Path: filepath.Join(dir, "accounts.yaml")}
	e := Entry{
		Name: "kucoin-bots", Exchange: "kucoin", KeyVersion: 3, Tags: []string{"prod"},
		BaseURL: "http://127.0.0.1:1/kucoin", FuturesBaseURL: "http://127.0.0.1:1/kucoin-futures",
		APIKey:     &Source{Env: "K"},
		Secret:     &Source{Command: []string{"/bin/echo", secretVal}},
		Passphrase: &Source{File: "k.pass"},
		SubKeys: []SubKeyEntry{
			{Sub: "bot1", APIKey: "6650aa11bb22cc33dd44", Passphrase: &Source{Env: "BOT1"}},
			{Sub: "bot2", APIKey: "6650ff00ee11dd22cc33"},
		},
	}
	r := Resolver{Getenv: env(map[string]string{"K": apiKeyVal, "BOT1": subPassVal})}
	acct, err := r.Resolve(context.Background(), f, e)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	checks := []struct{ what, got, want string }{
		{"name", acct.Name, "kucoin-bots"},
		{"exchange", acct.Exchange, "kucoin"},
		{"api key", acct.APIKey.Reveal(), apiKeyVal},
		{"secret", acct.Secret.Reveal(), secretVal},
		{"passphrase", acct.Passphrase.Reveal(), passVal},
		{"base url", acct.BaseURL, e.BaseURL},
		{"futures base url", acct.FuturesBaseURL, e.FuturesBaseURL},
		{"key version", fmt.Sprint(acct.KeyVersion), "3"},
		{"tags", fmt.Sprint(acct.Tags), "[prod]"},
		{"sub keys", fmt.Sprint(len(acct.SubKeys)), "2"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.what, c.got, c.want)
		}
	}
	if len(acct.SubKeys) == 2 {
		if got := acct.SubKeys[0].Passphrase.Reveal(); got != subPassVal {
			t.Errorf("sub key bot1 passphrase: got %q, want %q", got, subPassVal)
		}
		if !acct.SubKeys[1].Passphrase.IsZero() {
			t.Errorf("sub key bot2 passphrase: got a value, want none")
		}
		if got := acct.SubKeys[0].APIKey; got != "6650aa11bb22cc33dd44" {
			t.Errorf("sub key bot1 api key: got %q, want 6650aa11bb22cc33dd44", got)
		}
	}

	// No output channel may show a secret.
	var logBuf bytes.Buffer
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("resolved", "account", acct, "sub", acct.SubKeys[0], "secret", acct.Secret)
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("resolved", "account", acct, "secret", acct.Secret)
	js, err := json.Marshal(acct)
	if err != nil {
		t.Fatalf("json: %v", err)
	}
	outputs := map[string]string{
		"%q":   fmt.Sprintf("%q", acct.Secret),
		"%x":   fmt.Sprintf("%x", acct.Secret),
		"slog": logBuf.String(),
		"json": string(js),
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		outputs[verb] = fmt.Sprintf(verb, acct)
	}
	for name, out := range outputs {
		for _, s := range allSecrets {
			if strings.Contains(out, s) {
				t.Errorf("%s output contains secret %q: %s", name, s, out)
			}
		}
		if !strings.Contains(out, "REDACTED") {
			t.Errorf("%s output = %s, want the redaction marker", name, out)
		}
	}
}

func TestResolveErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "open.secret"), secretVal, 0o644)
	writeFile(t, filepath.Join(dir, "group.secret"), secretVal, 0o640)
	writeFile(t, filepath.Join(dir, "empty.secret"), "  \n", 0o600)
	writeFile(t, filepath.Join(dir, "big.secret"), strings.Repeat("x", MaxSecretBytes+1), 0o600)
	if err := os.Mkdir(filepath.Join(dir, "adir"), 0o700); err != nil {
		t.Fatal(err)
	}
	f := &File{Path: filepath.Join(dir, "accounts.yaml")}
	r := Resolver{Getenv: env(map[string]string{"EMPTY": "  "}), Home: dir, CommandTimeout: 200 * time.Millisecond}

	tests := []struct {
		name string
		src  Source
		want string // exact error
	}{
		{"env not set", Source{Env: "BINANCE_SECRET"}, "account binance-main: secret: env BINANCE_SECRET is not set"},
		{"env empty", Source{Env: "EMPTY"}, "account binance-main: secret: env EMPTY is not set"},
		{"file readable by others", Source{File: "open.secret"},
			"account binance-main: secret: file open.secret has mode 0644: it must not be accessible by group or others; fix: chmod 600 " + filepath.Join(dir, "open.secret")},
		{"file readable by group", Source{File: "~/group.secret"},
			"account binance-main: secret: file ~/group.secret has mode 0640: it must not be accessible by group or others; fix: chmod 600 " + filepath.Join(dir, "group.secret")},
		{"file missing", Source{File: "nope.secret"}, "account binance-main: secret: file nope.secret: no such file or directory"},
		{"file empty", Source{File: "empty.secret"}, "account binance-main: secret: file empty.secret is empty"},
		{"file too big", Source{File: "big.secret"}, fmt.Sprintf("account binance-main: secret: file big.secret is larger than %d bytes", MaxSecretBytes)},
		{"file is a directory", Source{File: "adir"}, "account binance-main: secret: file adir is not a regular file"},
		{"command timeout", Source{Command: []string{"/bin/sleep", "5"}}, "account binance-main: secret: command [/bin/sleep 5] timed out after 200ms: context deadline exceeded"},
		{"command fails, stderr hidden", Source{Command: []string{"/bin/sh", "-c", "echo " + stderrValue + " >&2; exit 3"}},
			"account binance-main: secret: command [/bin/sh -c echo " + stderrValue + " >&2; exit 3] failed with exit status 3 (stderr not shown)"},
		{"command prints nothing", Source{Command: []string{"/bin/echo", "-n", ""}}, "account binance-main: secret: command [/bin/echo -n ] printed nothing on stdout"},
		{"command not found", Source{Command: []string{"/nonexistent/pass"}}, "account binance-main: secret: command [/nonexistent/pass]: fork/exec /nonexistent/pass: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.src
			e := Entry{Name: "binance-main", Exchange: "binance", Secret: &src}
			start := time.Now()
			acct, err := r.Resolve(context.Background(), f, e)
			if err == nil {
				t.Fatalf("got account %v and no error, want %q", acct, tt.want)
			}
			if time.Since(start) > 3*time.Second {
				t.Errorf("took %s, want the command timeout to stop it", time.Since(start))
			}
			// The argv of the failing-command case carries the marker on
			// purpose (argv is configuration); only its stderr must not show.
			got := err.Error()
			if got != tt.want {
				t.Errorf("got error\n%q\nwant\n%q", got, tt.want)
			}
			if strings.Contains(got, secretVal) {
				t.Errorf("error %q contains the secret", got)
			}
			if !errors.Is(err, ErrSource) {
				t.Errorf("error does not wrap ErrSource: %v", err)
			}
		})
	}
}

func TestResolveStderrNotShown(t *testing.T) {
	// The secret helper prints the secret to stderr and fails: the error
	// must carry only the exit status.
	script := filepath.Join(t.TempDir(), "helper")
	writeFile(t, script, "#!/bin/sh\necho \""+secretVal+"\" >&2\nexit 1\n", 0o700)
	e := Entry{Name: "a", Exchange: "binance", Secret: &Source{Command: []string{script}}}
	_, err := Resolver{}.Resolve(context.Background(), nil, e)
	if err == nil {
		t.Fatal("got no error, want the command's failure")
	}
	if strings.Contains(err.Error(), secretVal) {
		t.Errorf("error %q shows the command's stderr", err)
	}
	if want := "failed with exit status 1 (stderr not shown)"; !strings.Contains(err.Error(), want) {
		t.Errorf("got %q, want it to contain %q", err, want)
	}
}

func TestResolveReportsEveryCredential(t *testing.T) {
	e := Entry{
		Name: "kucoin-bots", Exchange: "kucoin",
		APIKey: &Source{Env: "KUCOIN_KEY"}, Secret: &Source{Env: "KUCOIN_SECRET"}, Passphrase: &Source{Env: "KUCOIN_PASSPHRASE"},
		SubKeys: []SubKeyEntry{{Sub: "bot1", APIKey: "x", Passphrase: &Source{Env: "BOT1_PASS"}}},
	}
	_, err := Resolver{Getenv: env(map[string]string{"KUCOIN_SECRET": secretVal})}.Resolve(context.Background(), nil, e)
	want := strings.Join([]string{
		"account kucoin-bots: api_key: env KUCOIN_KEY is not set",
		"account kucoin-bots: passphrase: env KUCOIN_PASSPHRASE is not set",
		"account kucoin-bots: sub_keys[bot1].passphrase: env BOT1_PASS is not set",
	}, "\n")
	if err == nil || err.Error() != want {
		t.Errorf("got error\n%v\nwant\n%s", err, want)
	}
}

func TestResolveCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e := Entry{Name: "a", Exchange: "binance", Secret: &Source{Command: []string{"/bin/sleep", "5"}}}
	_, err := Resolver{}.Resolve(ctx, nil, e)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want an error wrapping context.Canceled", err)
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		src  *Source
		want string
	}{
		{&Source{Env: "BINANCE_API_KEY"}, "env BINANCE_API_KEY"},
		{&Source{File: "~/.config/x.secret"}, "file ~/.config/x.secret"},
		{&Source{Command: []string{"pass", "show", "x"}}, "command [pass show x]"},
		{nil, "none"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.src.Describe(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSelect(t *testing.T) {
	f := &File{Accounts: []Entry{
		{Name: "a", Tags: []string{"prod"}},
		{Name: "b", Tags: []string{"prod", "bots"}},
		{Name: "c"},
	}}
	tests := []struct {
		name        string
		names, tags []string
		want        string // names joined, or the error
	}{
		{"all", nil, nil, "a b c"},
		{"by name", []string{"c", "a"}, nil, "a c"},
		{"by tag", nil, []string{"bots"}, "b"},
		{"union without duplicates", []string{"b"}, []string{"prod"}, "a b"},
		{"unknown name", []string{"x"}, nil, `unknown account "x" (configured: a, b, c)`},
		{"unknown tag", nil, []string{"dev"}, `no account has tag "dev"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.Select(tt.names, tt.tags)
			var s string
			if err != nil {
				s = err.Error()
			} else {
				var ns []string
				for _, e := range got {
					ns = append(ns, e.Name)
				}
				s = strings.Join(ns, " ")
			}
			if s != tt.want {
				t.Errorf("got %q, want %q", s, tt.want)
			}
		})
	}
}

func TestLocate(t *testing.T) {
	dir := t.TempDir()
	xdg := filepath.Join(dir, "xdg")
	home := filepath.Join(dir, "home")
	writeFile(t, filepath.Join(xdg, "panicbutton", "accounts.yaml"), binanceOK, 0o600)
	writeFile(t, filepath.Join(home, ".config", "panicbutton", "accounts.yaml"), binanceOK, 0o600)
	emptyHome := filepath.Join(dir, "empty")

	tests := []struct {
		name    string
		flag    string
		env     map[string]string
		want    string
		wantErr string
	}{
		{name: "flag wins", flag: "x.yaml", env: map[string]string{"PANICBUTTON_CONFIG": "y.yaml", "XDG_CONFIG_HOME": xdg}, want: "x.yaml"},
		{name: "env var", env: map[string]string{"PANICBUTTON_CONFIG": "y.yaml", "XDG_CONFIG_HOME": xdg}, want: "y.yaml"},
		{name: "xdg", env: map[string]string{"XDG_CONFIG_HOME": xdg, "HOME": home}, want: filepath.Join(xdg, "panicbutton", "accounts.yaml")},
		{name: "home default", env: map[string]string{"HOME": home}, want: filepath.Join(home, ".config", "panicbutton", "accounts.yaml")},
		{name: "nothing found", env: map[string]string{"HOME": emptyHome},
			wantErr: "no accounts file found; tried --config (not given), $PANICBUTTON_CONFIG (not set), " + filepath.Join(emptyHome, ".config", "panicbutton", "accounts.yaml") + " (does not exist)"},
		{name: "no home", env: map[string]string{},
			wantErr: "no accounts file found; tried --config (not given), $PANICBUTTON_CONFIG (not set), $XDG_CONFIG_HOME/panicbutton/accounts.yaml (neither $XDG_CONFIG_HOME nor $HOME is set)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Locate(tt.flag, env(tt.env))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || !errors.Is(err, ErrNoConfig) {
					t.Errorf("got %q, %v; want error %q wrapping ErrNoConfig", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestResolveNoSecretInFileErrors: the content of a refused file never
// reaches the error (it is not even read).
func TestResolveNoSecretInFileErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "s"), secretVal, 0o604)
	_, err := Resolver{}.Resolve(context.Background(), &File{Path: filepath.Join(dir, "a.yaml")}, Entry{Name: "a", Secret: &Source{File: "s"}})
	if err == nil || strings.Contains(err.Error(), secretVal) {
		t.Errorf("got %v, want an error without the secret", err)
	}
}

// rendezvous is a secret helper that only succeeds when its partner runs at
// the same time: it creates $1, then waits for $2 before printing a secret.
// Run one after the other, the first of a pair waits until the command
// timeout kills it.
func rendezvous(t *testing.T) string {
	t.Helper()
	script := filepath.Join(t.TempDir(), "rendezvous")
	writeFile(t, script, "#!/bin/sh\n: > \"$1\"\nwhile [ ! -e \"$2\" ]; do sleep 0.01; done\necho "+secretVal+"\n", 0o700)
	return script
}

func TestResolveConcurrently(t *testing.T) {
	dir := t.TempDir()
	script := rendezvous(t)
	a, b, c := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")
	r := Resolver{CommandTimeout: 5 * time.Second}

	t.Run("the sources of one account", func(t *testing.T) {
		e := Entry{Name: "kucoin-main", Exchange: "kucoin",
			Secret:     &Source{Command: []string{script, a, b}},
			Passphrase: &Source{Command: []string{script, b, a}}}
		acct, err := r.Resolve(context.Background(), nil, e)
		if err != nil {
			t.Fatalf("Resolve: %v (the sources were read one after the other)", err)
		}
		if acct.Secret.Reveal() != secretVal || acct.Passphrase.Reveal() != secretVal {
			t.Errorf("got secret/passphrase %q/%q, want %q for both", acct.Secret.Reveal(), acct.Passphrase.Reveal(), secretVal)
		}
	})
	t.Run("several accounts", func(t *testing.T) {
		entries := []Entry{
			{Name: "one", Exchange: "binance", Secret: &Source{Command: []string{script, c + "1", c + "2"}}},
			{Name: "two", Exchange: "binance", Secret: &Source{Command: []string{script, c + "2", c + "3"}}},
			{Name: "three", Exchange: "kucoin", Secret: &Source{Env: "NOPE"},
				SubKeys: []SubKeyEntry{{Sub: "bot1", APIKey: "k", Passphrase: &Source{Command: []string{script, c + "3", c + "1"}}}}},
		}
		accts, errs := r.ResolveAll(context.Background(), nil, entries)
		if len(accts) != 3 || len(errs) != 3 {
			t.Fatalf("got %d accounts and %d errors, want 3 and 3", len(accts), len(errs))
		}
		for i, want := range []string{"one", "two"} {
			if errs[i] != nil {
				t.Errorf("%s: %v (the accounts were resolved one after the other)", want, errs[i])
			}
			if accts[i].Name != want || accts[i].Secret.Reveal() != secretVal {
				t.Errorf("accts[%d]: name %q secret %q, want %q and the secret", i, accts[i].Name, accts[i].Secret.Reveal(), want)
			}
		}
		if want := "account three: secret: env NOPE is not set"; errs[2] == nil || errs[2].Error() != want {
			t.Errorf("errs[2] = %v, want %q", errs[2], want)
		}
		if accts[2].Name != "" {
			t.Errorf("accts[2] = %+v, want the zero account beside its error", accts[2])
		}
	})
}

// TestResolveHangingCostsOneTimeout: two accounts whose secret helpers hang
// (and one whose secret and passphrase both hang) fail after one
// CommandTimeout, not one per source.
func TestResolveHangingCostsOneTimeout(t *testing.T) {
	const timeout = time.Second
	r := Resolver{CommandTimeout: timeout}
	hang := func() *Source { return &Source{Command: []string{"/bin/sleep", "30"}} }
	entries := []Entry{
		{Name: "binance-main", Exchange: "binance", Secret: hang()},
		{Name: "kucoin-main", Exchange: "kucoin", Secret: hang(), Passphrase: hang()},
	}
	start := time.Now()
	_, errs := r.ResolveAll(context.Background(), nil, entries)
	took := time.Since(start)
	want := []string{
		"account binance-main: secret: command [/bin/sleep 30] timed out after 1s: context deadline exceeded",
		"account kucoin-main: secret: command [/bin/sleep 30] timed out after 1s: context deadline exceeded\n" +
			"account kucoin-main: passphrase: command [/bin/sleep 30] timed out after 1s: context deadline exceeded",
	}
	for i := range entries {
		if errs[i] == nil || errs[i].Error() != want[i] {
			t.Errorf("errs[%d] = %v, want %q", i, errs[i], want[i])
		}
	}
	if took >= 2*timeout {
		t.Errorf("took %s for three hanging sources, want one timeout (%s), not one each", took, timeout)
	}
}
