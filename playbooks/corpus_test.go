package playbooks

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-multierror"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/yamlx"
)

const corpus = "../testdata/playbooks"

// badCorpus lists, for every file of testdata/playbooks/bad, every problem
// Parse must report, as "line:col: message" (the file name is prepended).
var badCorpus = []struct {
	file string
	want []string
}{
	{"actions.yaml", []string{
		"3:5: step no-action: missing action",
		"5:13: step typo: unknown action \"orders.cancelall\" (did you mean orders.cancel_all?)",
		"7:13: step nonsense: unknown action \"launch.rockets\" (known: funds.sweep, keys.inventory, keys.revoke, keys.verify_rejected, manual, notify.webhook, orders.cancel_all, orders.deadman, orders.list, positions.close, snapshot.balances, trades.recent, withdrawals.cancel_pending, withdrawals.list)",
	}},
	{"aliases.yaml", []string{
		"4:5: alias *common refers to a mapping or list: only aliases to plain values are allowed",
	}},
	{"durations.yaml", []string{
		"5:14: step freeze: timeout: want a duration such as 30s or 5m, got \"30\"",
		"6:29: step freeze: confirm_timeout: want a duration such as 30s or 5m, got \"10 seconds\"",
		"9:14: step deadman: timeout: duration must be positive, got \"0s\"",
		"10:23: step deadman: countdown: duration must be positive, got \"-1m\"",
	}},
	{"empty-steps.yaml", []string{
		"2:8: steps: a playbook needs at least one step",
	}},
	{"inputs.yaml", []string{
		"3:3: input name \"Leaked-Key\": want lower-case letters, digits and _ (starting with a letter)",
		"4:37: input ticket is required and has a default: drop one of them",
		"5:22: input reason: required: want true or false, got \"yes\"",
		"6:9: input note: want a mapping, got \"just a string\"",
	}},
	{"after-own-key.yaml", []string{
		"8:5: step snapshot-after: runs after step master-key, where the account's own API key is deleted by hand, so it would fail with a dead key: move it before master-key",
	}},
	{"irreversible.yaml", []string{
		"4:13: step revoke-default-method: keys.revoke with method delete deletes API keys for good: add irreversible: true to confirm",
		"8:19: step revoke-delete: keys.revoke with method delete deletes API keys for good: add irreversible: true to confirm",
	}},
	{"missing-name.yaml", []string{
		"1:1: missing name",
	}},
	{"retries-on-error.yaml", []string{
		"5:14: step freeze: retries: must be between 0 and 10, got 11",
		"6:15: step freeze: on_error: must be continue or abort, got \"ignore\"",
		"9:14: step snap: retries: must be between 0 and 10, got -1",
		"11:19: step snap: irreversible: want true or false, got \"maybe\"",
	}},
	{"step-ids.yaml", []string{
		"3:5: step 1: missing id",
		"4:9: step 2: id: \"Snap_Before\": want lower-case letters, digits, - and _ (matching ^[a-z0-9][a-z0-9_-]*$)",
		"8:9: duplicate step id \"inventory\" (first at line 6)",
	}},
	{"steps-shape.yaml", []string{
		"3:3: steps: want a list of steps, got a mapping",
	}},
	{"syntax.yaml", []string{
		"3: yaml: did not find expected '-' indicator (at or after this line)",
	}},
	{"targets-mixed.yaml", []string{
		"3:3: targets: all: true cannot be combined with accounts, tags or exchanges",
		"5:13: targets: accounts: want a list of strings, got \"bot1\"",
	}},
	{"targets.yaml", []string{
		"2:10: targets: want all: true, or accounts, tags or exchanges",
	}},
	{"templates.yaml", []string{
		"8:21: step tell-human: instructions: template refers to .Inputs.leaked_key but no input \"leaked_key\" is declared (declared: ticket)",
		"8:21: step tell-human: instructions: template refers to .Account.Region (allowed: .Inputs.NAME, .Account.Name, .Account.Exchange, .Step)",
		"12:21: step broken: instructions: bad template: 1: unclosed action",
		"16:12: step notify: url: template refers to .Inputs.token but no input \"token\" is declared (declared: ticket)",
		"17:47: step notify: headers: template refers to .Account.Secret (allowed: .Inputs.NAME, .Account.Name, .Account.Exchange, .Step)",
		"19:13: step revoke: keys.revoke with method delete deletes API keys for good: add irreversible: true to confirm",
		"20:20: step revoke: method: templates are not allowed in a parameter with fixed values",
	}},
	{"types.yaml", []string{
		"6:17: step freeze: products: want a list of strings, got \"spot\"",
		"7:26: step freeze: symbols: list item: want a string, got a list",
		"10:29: step products: products: \"options\" is not one of spot, margin, isolated_margin, usdm, coinm, futures",
		"13:34: step snap: include_sub_accounts: want true or false, got \"abc\"",
		"16:19: step revoke: scope: \"everything\" is not one of sub_accounts, master, all",
		"16:62: step revoke: ip_whitelist: want a list of strings, got \"192.0.2.1\"",
		"19:58: step hook: headers: want a mapping of strings, got a list",
	}},
	{"unknown-keys.yaml", []string{
		"2:1: unknown key \"descripton\" (known: name, description, inputs, targets, steps)",
		"4:30: input reason: unknown key \"requird\" (known: description, required, default)",
		"5:22: targets: unknown key \"acounts\" (known: all, accounts, tags, exchanges)",
		"9:5: step snap: unknown key \"retry\" (known: id, description, action, with, when, timeout, retries, on_error, irreversible, barrier)",
	}},
	{"when.yaml", []string{
		"7:28: step freeze: when: unexpected \"=\"; use == to compare",
		"10:43: step snap: when: inputs.reason: no input \"reason\" is declared (declared: leaked_key)",
		"13:11: step inventory: when: steps.later: a condition can only refer to earlier steps",
		"16:34: step list: when: unknown step status \"done\" (known: ok, changed, would-change, skipped, failed, pending)",
		"19:11: step tags: when: account.tags can only be used with contains, e.g. account.tags contains 'prod'",
		"22:11: step bare: when: want a condition (true or false), got a string; compare it with == or !=",
		"25:11: step unknown-var: when: unknown variable \"account.region\" (known: inputs.NAME, account.name, account.exchange, account.tags, steps.ID.status)",
	}},
	{"with.yaml", []string{
		"7:7: step freeze: with: unknown key \"symbol\" (known: products, symbols, confirm_timeout, scope, temporary_keys, skip_idle, temp_key_ips)",
		"11:7: step manual-without-instructions: action manual needs parameter instructions",
		"12:5: step webhook: action notify.webhook needs parameter url",
	}},
}

func TestBadCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(corpus, "bad", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, tt := range badCorpus {
		covered[tt.file] = true
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join(corpus, "bad", tt.file)
			pb, err := Load(path)
			if err == nil {
				t.Fatalf("Load(%s) = %v, nil; want errors", path, pb.Name)
			}
			var me *multierror.Error
			if !errors.As(err, &me) {
				t.Fatalf("error is %T, want *multierror.Error", err)
			}
			for _, e := range me.Errors {
				var d *yamlx.Diagnostic
				if !errors.As(e, &d) || d.File != path {
					t.Errorf("element %v: want a *yamlx.Diagnostic of file %s", e, path)
				}
			}
			got := strings.Split(err.Error(), "\n")
			want := make([]string, len(tt.want))
			for i, w := range tt.want {
				want[i] = path + ":" + w
			}
			if !slices.Equal(got, want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
	for _, f := range files {
		if !covered[filepath.Base(f)] {
			t.Errorf("%s has no entry in badCorpus", f)
		}
	}
}

func TestGoodCorpus(t *testing.T) {
	pb, err := Load(filepath.Join(corpus, "good", "full.yaml"))
	if err != nil {
		t.Fatalf("Load(full.yaml): %v", err)
	}
	var inputs []string
	for _, in := range pb.Inputs {
		inputs = append(inputs, in.Name)
	}
	if got, want := strings.Join(inputs, ","), "leaked_key,ticket,channel"; got != want {
		t.Errorf("inputs = %s, want %s (file order)", got, want)
	}
	if !pb.Inputs[1].Required || pb.Inputs[2].Default != "#incidents" {
		t.Errorf("inputs = %+v, want ticket required and channel default #incidents", pb.Inputs)
	}
	if got, want := pb.Inputs[1].Pos.String(), filepath.Join(corpus, "good", "full.yaml")+":6:3"; got != want {
		t.Errorf("ticket pos = %s, want %s", got, want)
	}
	if pb.Targets.All || !slices.Equal(pb.Targets.Tags, []string{"prod"}) || !slices.Equal(pb.Targets.Exchanges, []string{"binance", "kucoin"}) {
		t.Errorf("targets = %+v, want tags [prod] exchanges [binance kucoin]", pb.Targets)
	}
	if got, want := len(pb.Steps), 7; got != want {
		t.Fatalf("got %d steps, want %d", got, want)
	}
	freeze := pb.Steps[1]
	if freeze.Retries != 3 || freeze.Timeout != time.Minute || freeze.OnError != OnErrorAbort || freeze.Description != "cancel everything" {
		t.Errorf("freeze = %+v, want retries 3, timeout 1m, on_error abort, a description", freeze)
	}
	if got := freeze.With.Duration("confirm_timeout"); got != 20*time.Second {
		t.Errorf("confirm_timeout = %v, want 20s", got)
	}
	if got := freeze.With.Strings("products"); !slices.Equal(got, []string{"spot", "futures"}) {
		t.Errorf("products = %v, want [spot futures]", got)
	}
	if pb.Steps[0].With.Bool("include_sub_accounts") != false || pb.Steps[0].With["include_sub_accounts"] == nil {
		t.Errorf("include_sub_accounts = %v, want an explicit false", pb.Steps[0].With["include_sub_accounts"])
	}
	if pb.Steps[0].OnError != OnErrorContinue || pb.Steps[0].When != nil {
		t.Errorf("step 1 on_error %q when %v, want continue and no condition", pb.Steps[0].OnError, pb.Steps[0].When)
	}
	if got, want := pb.Steps[2].When.String(), "account.exchange == 'binance' && steps.freeze.status != 'failed'"; got != want {
		t.Errorf("deadman when = %q, want %q", got, want)
	}
	for _, st := range pb.Steps {
		for name, v := range st.With {
			ps, _ := mustSpec(t, st.Action).Param(name)
			if err := executors.CheckValue(ps.Type, v); err != nil {
				t.Errorf("step %s param %s: %v", st.ID, name, err)
			}
		}
	}
	if got := pb.Steps[6].With.Map("headers"); got["X-Channel"] != "{{ .Inputs.channel }}" {
		t.Errorf("headers = %v, want the template kept for the runner", got)
	}

	if _, err := Load(filepath.Join(corpus, "good", "minimal.yaml")); err != nil {
		t.Errorf("Load(minimal.yaml): %v", err)
	}
}

func mustSpec(t *testing.T, action string) executors.ActionSpec {
	t.Helper()
	spec, ok := executors.Lookup(action)
	if !ok {
		t.Fatalf("unknown action %s", action)
	}
	return spec
}

func TestBuiltins(t *testing.T) {
	names := Builtins()
	if want := []string{"freeze-trading", "posture-check", "suspected-key-leak", "suspicious-call", "third-party-breach"}; !slices.Equal(names, want) {
		t.Fatalf("Builtins() = %v, want %v", names, want)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			pb, err := Builtin(name)
			if err != nil {
				t.Fatalf("Builtin(%s): %v", name, err)
			}
			if pb.Name != name || pb.File != "builtin:"+name || len(pb.Description) < 80 {
				t.Errorf("name %q file %q description %q: want name %s, file builtin:%s and a real description", pb.Name, pb.File, pb.Description, name, name)
			}
			if len(pb.SHA256) != 64 || len(pb.Source) == 0 {
				t.Errorf("sha256 %q, %d source bytes; want both set", pb.SHA256, len(pb.Source))
			}
			if !pb.Targets.All {
				t.Errorf("targets = %+v, want all", pb.Targets)
			}
			// Every built-in must be runnable on any exchange with every action.
			inputs := map[string]string{}
			for _, in := range pb.Inputs {
				if in.Required {
					inputs[in.Name] = "x"
				}
			}
			err = pb.Check(Env{Accounts: []AccountRef{{Name: "a", Exchange: "binance"}}, Supports: func(string, string) bool { return true }, Inputs: inputs})
			if err != nil {
				t.Errorf("Check: %v", err)
			}
		})
	}

	steps := func(name string) (ids, actions []string, pb *Playbook) {
		pb, err := Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range pb.Steps {
			ids = append(ids, s.ID)
			actions = append(actions, s.Action)
		}
		return ids, actions, pb
	}

	ids, _, leak := steps("suspected-key-leak")
	if want := []string{"revoke-leaked-key", "snapshot-before", "inventory", "freeze", "revoke-withdraw-keys", "withdrawals", "revoke-sub-keys", "freeze-sub-accounts", "snapshot-after", "master-key"}; !slices.Equal(ids, want) {
		t.Errorf("suspected-key-leak steps = %v, want %v", ids, want)
	}
	if len(leak.Inputs) != 1 || leak.Inputs[0].Name != "leaked_key" || leak.Inputs[0].Required {
		t.Errorf("suspected-key-leak inputs = %+v, want one optional leaked_key", leak.Inputs)
	}
	byID := map[string]Step{}
	for _, s := range leak.Steps {
		byID[s.ID] = s
	}
	if s := byID["freeze"]; s.Action != executors.OrdersCancelAll || s.Retries != 3 || s.Timeout != 3*time.Minute || s.OnError != OnErrorContinue {
		t.Errorf("freeze = %+v, want orders.cancel_all, retries 3, timeout 3m (a rate window fits), on_error continue", s)
	}
	if s := byID["revoke-sub-keys"]; s.With.String("scope") != "sub_accounts" || s.With.String("method") != "delete" || !s.Irreversible {
		t.Errorf("revoke-sub-keys = %+v, want scope sub_accounts, method delete, irreversible", s)
	}
	// The order that starves the attacker (issue 10 item 2): the leaked
	// key first and on every account before anything else, keys that can
	// withdraw before the rest, sub-account orders only after every sub
	// key is gone.
	if s := byID["revoke-leaked-key"]; s.Action != executors.KeysRevoke || !s.Barrier || !s.Irreversible || s.When == nil ||
		!slices.Equal(s.With.Strings("key_ids"), []string{"{{ .Inputs.leaked_key }}"}) {
		t.Errorf("revoke-leaked-key = %+v, want keys.revoke of key_ids [leaked_key], barrier, irreversible, when leaked_key", s)
	}
	if s := byID["revoke-withdraw-keys"]; s.With.String("select") != "withdraw_enabled" || !s.Irreversible {
		t.Errorf("revoke-withdraw-keys = %+v, want select withdraw_enabled, irreversible", s)
	}
	if s := byID["revoke-sub-keys"]; !s.With.Bool("created_mid_run") {
		t.Errorf("revoke-sub-keys = %+v, want created_mid_run (the hold deletes keys created mid-run)", s)
	}
	if s := byID["freeze-sub-accounts"]; s.Action != executors.OrdersCancelAll || s.With.String("scope") != executors.ScopeSubAccounts {
		t.Errorf("freeze-sub-accounts = %+v, want orders.cancel_all scope sub_accounts", s)
	}
	if s := byID["master-key"]; s.Action != executors.Manual || s.With.String("verify") != "key_rejected" || s.Timeout != 30*time.Minute ||
		!strings.Contains(s.With.String("instructions"), "{{ .Inputs.leaked_key | mask }}") {
		t.Errorf("master-key = %+v, want manual, verify key_rejected, timeout 30m, instructions naming the leaked key", s)
	}

	_, actions, freeze := steps("freeze-trading")
	if want := []string{executors.SnapshotBalances, executors.OrdersCancelAll, executors.SnapshotBalances}; !slices.Equal(actions, want) {
		t.Errorf("freeze-trading actions = %v, want %v", actions, want)
	}
	if p := freeze.Steps[1].With.Strings("products"); p != nil {
		t.Errorf("freeze-trading products = %v, want none (every product)", p)
	}

	_, actions, posture := steps("posture-check")
	if want := []string{executors.KeysInventory, executors.WithdrawalsList, executors.NotifyWebhook}; !slices.Equal(actions, want) {
		t.Errorf("posture-check actions = %v, want %v", actions, want)
	}
	if posture.Mutating() {
		t.Errorf("posture-check has a mutating step, want none")
	}
	if !leak.Mutating() || !freeze.Mutating() {
		t.Errorf("Mutating() false for suspected-key-leak or freeze-trading, want true")
	}
}

func TestBuiltinMasterKeyInstructions(t *testing.T) {
	leak, err := Builtin("suspected-key-leak")
	if err != nil {
		t.Fatal(err)
	}
	var master Step
	for _, s := range leak.Steps {
		if s.ID == "master-key" {
			master = s
		}
	}
	acct := AccountRef{Name: "main", Exchange: "binance"}
	tests := []struct {
		name    string
		inputs  map[string]string
		want    []string
		notWant string
	}{
		{"with key", map[string]string{"leaked_key": "vmPUZE6mv9"}, []string{"account main (binance)", "leaked is vmPU…6mv9", "API Management"}, "vmPUZE6mv9"},
		{"without key", map[string]string{"leaked_key": ""}, []string{"account main (binance)", "API Management"}, "leaked is"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := RenderParams(master.With, TemplateData{Inputs: tt.inputs, Account: acct, Step: master.ID})
			if err != nil {
				t.Fatal(err)
			}
			got := p.String("instructions")
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("instructions do not contain %q:\n%s", w, got)
				}
			}
			if strings.Contains(got, tt.notWant) {
				t.Errorf("instructions contain %q:\n%s", tt.notWant, got)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "mine.yaml")
	if err := os.WriteFile(good, []byte("name: mine\nsteps:\n  - {id: s, action: orders.list}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge.yaml")
	if err := os.WriteFile(huge, []byte("name: "+strings.Repeat("x", 2<<20)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		arg      string
		wantName string
		wantFile string
		wantErr  string
	}{
		{"freeze-trading", "freeze-trading", "builtin:freeze-trading", ""},
		{good, "mine", good, ""},
		{"no-such-playbook", "", "", `playbook "no-such-playbook": not a built-in (built-ins: freeze-trading, posture-check, suspected-key-leak, suspicious-call, third-party-breach) and no such file`},
		{filepath.Join(dir, "missing.yaml"), "", "", "read playbook: open " + filepath.Join(dir, "missing.yaml") + ": no such file or directory"},
		{huge, "", "", huge + ": file is too large (limit 1048576 bytes)"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.arg), func(t *testing.T) {
			pb, err := Load(tt.arg)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Load() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load() error = %v", err)
			}
			if pb.Name != tt.wantName || pb.File != tt.wantFile {
				t.Errorf("name %q file %q, want %q %q", pb.Name, pb.File, tt.wantName, tt.wantFile)
			}
		})
	}
	if _, err := Builtin("../playbook"); err == nil {
		t.Errorf("Builtin(../playbook) = nil error, want refusal")
	}
}
