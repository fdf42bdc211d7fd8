package cli

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
)

// playbooksFactory is a Factory whose registry knows binance (every order
// action) and kucoin (no dead-man switch), independent of the real drivers.
func playbooksFactory(out, errOut *bytes.Buffer) *Factory {
	all := []string{executors.SnapshotBalances, executors.OrdersList, executors.OrdersCancelAll, executors.OrdersDeadman, executors.KeysInventory, executors.KeysRevoke}
	return &Factory{
		In: strings.NewReader(""), Out: out, ErrOut: errOut,
		IsTTY:  func() bool { return false },
		Now:    time.Now,
		Getenv: func(string) string { return "" },
		Logger: slog.New(slog.DiscardHandler),
		Registry: executors.NewRegistry(
			executors.Driver{Exchange: "binance", Actions: all},
			executors.Driver{Exchange: "kucoin", Actions: all[:3]}, // no orders.deadman
		),
	}
}

func TestPlaybooksValidateConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	accts := write("accounts.yaml", `accounts:
  - name: bn
    exchange: binance
    api_key: {env: BN_KEY}
    secret: {env: BN_SECRET}
    tags: [prod]
  - name: kc
    exchange: kucoin
    api_key: {env: KC_KEY}
    secret: {env: KC_SECRET}
    passphrase: {env: KC_PASS}
    tags: [prod]
`)
	pb := write("pb.yaml", `name: pb
inputs:
  ticket: {required: true}
targets: {tags: [prod, staging]}
steps:
  - id: freeze
    action: orders.cancel_all
  - id: deadman
    action: orders.deadman
`)
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOut    string
		wantStderr []string
	}{
		{"without config", []string{"playbooks", "validate", pb}, ExitOK, "ok: " + pb + " (2 steps)\n", nil},
		{"with config", []string{"playbooks", "validate", "--config", accts, pb}, ExitUsage, "", []string{
			pb + `:3:3: input ticket is required: pass --input ticket=VALUE`,
			pb + `:4:24: targets: tag "staging" matches no configured account`,
			pb + `:8:5: step deadman: action orders.deadman is not supported on kucoin (accounts: kc); limit the step with when: account.exchange != 'kucoin'`,
			"error: 1 of 1 playbooks invalid",
		}},
		{"inputs given", []string{"playbooks", "validate", "--config", accts, "--input", "ticket=INC-1", "--input", "tikcet=x", pb}, ExitUsage, "", []string{
			pb + `: unknown input "tikcet" given (declared: ticket)`,
			pb + `:4:24: targets: tag "staging" matches no configured account`,
			pb + `:8:5: step deadman: action orders.deadman is not supported on kucoin (accounts: kc); limit the step with when: account.exchange != 'kucoin'`,
			"error: 1 of 1 playbooks invalid",
		}},
		{"built-in against config", []string{"playbooks", "validate", "--config", accts, "freeze-trading"}, ExitOK, "ok: freeze-trading (3 steps)\n", nil},
		{"bad input flag", []string{"playbooks", "validate", "--config", accts, "--input", "novalue", pb}, ExitUsage, "", []string{
			`error: --input "novalue": want name=value`,
		}},
		{"bad accounts file", []string{"playbooks", "validate", "--config", pb, pb}, ExitUsage, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Run(context.Background(), playbooksFactory(&out, &errOut), tt.args)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, tt.wantCode, errOut.String())
			}
			if out.String() != tt.wantOut {
				t.Errorf("stdout = %q, want %q", out.String(), tt.wantOut)
			}
			if tt.wantStderr != nil {
				if got, want := errOut.String(), strings.Join(tt.wantStderr, "\n")+"\n"; got != want {
					t.Errorf("stderr:\n%s\nwant:\n%s", got, want)
				}
			} else if tt.wantCode != ExitOK && !strings.HasPrefix(errOut.String(), "error: accounts file: ") {
				t.Errorf("stderr = %q, want an accounts file error", errOut.String())
			}
		})
	}
}
