package playbooks

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/binance"
	"github.com/panicbutton/panicbutton/executors/kucoin"
	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/emulator/emu"
	"github.com/panicbutton/panicbutton/internal/emulator/venues"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// allActionsRegistry supports every catalog action on binance and kucoin.
func allActionsRegistry() *executors.Registry {
	var actions []string
	for _, a := range executors.Actions() {
		if !a.Local {
			actions = append(actions, a.Name)
		}
	}
	drv := func(name string) executors.Driver {
		return executors.Driver{Exchange: name, Actions: actions,
			New: func(executors.Account, executors.Env) (executors.Executor, error) { return nil, nil }}
	}
	return executors.NewRegistry(drv("binance"), drv("kucoin"))
}

// stepByID returns the step of pb with the given id.
func stepByID(t *testing.T, pb *Playbook, id string) Step {
	t.Helper()
	for _, s := range pb.Steps {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("%s: no step %q", pb.Name, id)
	return Step{}
}

func TestMoreBuiltinsCheck(t *testing.T) {
	reg := allActionsRegistry()
	accounts := []AccountRef{{Name: "bn", Exchange: "binance"}, {Name: "kc", Exchange: "kucoin", Tags: []string{"bots"}}}
	tests := []struct {
		name      string
		inputs    map[string]string
		wantSteps []string
		wantErr   string // substring; "" for none
	}{
		{"suspicious-call", nil,
			[]string{executors.KeysInventory, executors.KeysRevoke, executors.OrdersCancelAll, executors.OrdersCancelAll, executors.SnapshotBalances, executors.Manual}, ""},
		{"third-party-breach", map[string]string{"service": "3commas"},
			[]string{executors.SnapshotBalances, executors.KeysInventory, executors.KeysRevoke, executors.OrdersCancelAll, executors.OrdersCancelAll,
				executors.TradesRecent, executors.Manual, executors.SnapshotBalances}, ""},
		{"third-party-breach", nil, nil, "input service is required: pass --input service=VALUE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !slices.Contains(Builtins(), tt.name) {
				t.Fatalf("Builtins() = %v, want it to contain %s", Builtins(), tt.name)
			}
			pb, err := Load(tt.name)
			if err != nil {
				t.Fatalf("Load(%s): %v", tt.name, err)
			}
			err = pb.Check(Env{Accounts: accounts, Supports: reg.Supports, Inputs: tt.inputs})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Check() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Check() = %v, want nil", err)
			}
			if pb.Name != tt.name || pb.File != "builtin:"+tt.name || !pb.Targets.All || len(pb.Description) < 200 {
				t.Errorf("got name %q file %q targets %+v, %d-byte description; want %s, builtin:%s, all accounts, a real description",
					pb.Name, pb.File, pb.Targets, len(pb.Description), tt.name, tt.name)
			}
			var actions []string
			for _, s := range pb.Steps {
				actions = append(actions, s.Action)
				if s.Description == "" {
					t.Errorf("step %s has no description, want one (it is shown in plans)", s.ID)
				}
			}
			if !slices.Equal(actions, tt.wantSteps) {
				t.Errorf("got actions %v, want %v", actions, tt.wantSteps)
			}
			if !pb.Mutating() {
				t.Errorf("Mutating() = false, want true")
			}
		})
	}
}

func TestSuspiciousCallSteps(t *testing.T) {
	pb, err := Builtin("suspicious-call")
	if err != nil {
		t.Fatal(err)
	}
	revoke := stepByID(t, pb, "revoke-withdraw-keys")
	if got := [3]string{revoke.With.String("scope"), revoke.With.String("method"), revoke.With.String("select")}; got != [3]string{"all", "delete", "withdraw_enabled"} || !revoke.Irreversible {
		t.Errorf("got revoke scope/method/select %v irreversible %v, want [all delete withdraw_enabled] true", got, revoke.Irreversible)
	}
	if s := stepByID(t, pb, "freeze"); s.Retries == 0 {
		t.Errorf("got freeze retries 0, want retries on transient errors")
	}

	check := stepByID(t, pb, "checklist")
	p, err := RenderParams(check.With, TemplateData{Account: AccountRef{Name: "main", Exchange: "kucoin"}, Step: check.ID})
	if err != nil {
		t.Fatalf("RenderParams: %v", err)
	}
	got := p.String("instructions")
	for _, want := range []string{"account main (kucoin)", "password", "2FA", "passkey", "API Management", "withdrawal address whitelist",
		"only through the official app or website", "never through a phone number"} {
		if !strings.Contains(got, want) {
			t.Errorf("checklist does not contain %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "{{") {
		t.Errorf("checklist has an unrendered template:\n%s", got)
	}
}

func TestThirdPartyBreachSteps(t *testing.T) {
	pb, err := Builtin("third-party-breach")
	if err != nil {
		t.Fatal(err)
	}
	if len(pb.Inputs) != 1 || pb.Inputs[0].Name != "service" || !pb.Inputs[0].Required {
		t.Fatalf("got inputs %+v, want one required input service", pb.Inputs)
	}
	revoke := stepByID(t, pb, "revoke-service-keys")
	acct := AccountRef{Name: "bn", Exchange: "binance"}
	tests := []struct {
		service  string
		wantRun  bool
		wantText string
	}{
		{"3commas", true, "3commas"},
		{"", false, ""}, // an empty match would select every key: the step must not run
	}
	for _, tt := range tests {
		t.Run("service="+tt.service, func(t *testing.T) {
			in := map[string]string{"service": tt.service}
			run := true
			if revoke.When != nil {
				run, err = revoke.When.Eval(Vars{Inputs: in, Account: acct})
				if err != nil {
					t.Fatalf("when: %v", err)
				}
			}
			if run != tt.wantRun {
				t.Errorf("got revoke runs = %v, want %v", run, tt.wantRun)
			}
			p, err := RenderParams(revoke.With, TemplateData{Inputs: in, Account: acct, Step: revoke.ID})
			if err != nil {
				t.Fatalf("RenderParams: %v", err)
			}
			if got := p.String("match"); got != tt.wantText {
				t.Errorf("got match %q, want %q", got, tt.wantText)
			}
			if p.String("scope") != "sub_accounts" || p.String("method") != "delete" || !revoke.Irreversible {
				t.Errorf("got scope %q method %q irreversible %v, want sub_accounts delete true", p.String("scope"), p.String("method"), revoke.Irreversible)
			}
		})
	}

	manual := stepByID(t, pb, "main-account-keys")
	p, err := RenderParams(manual.With, TemplateData{Inputs: map[string]string{"service": "3commas"}, Account: acct, Step: manual.ID})
	if err != nil {
		t.Fatal(err)
	}
	got := p.String("instructions")
	for _, want := range []string{"account bn (binance)", "connected to 3commas", "API Management", "suspected-key-leak"} {
		if !strings.Contains(got, want) {
			t.Errorf("manual instructions do not contain %q:\n%s", want, got)
		}
	}
	if s := stepByID(t, pb, "recent-trades"); s.With.Duration("since") <= 0 {
		t.Errorf("got recent-trades since %v, want a positive window", s.With.Duration("since"))
	}
}

// demoExecutor starts the emulator with the demo fund (what make demo runs
// on) and returns the real executor of one of its accounts, talking to it
// over HTTP, with the emulator to count the requests it received.
func demoExecutor(t *testing.T, account string) (executors.Executor, *emulator.Server) {
	t.Helper()
	cfg := emulator.Config{Loaders: venues.DefaultLoaders()}
	fsys, name := venues.DemoState()
	vs, err := emulator.LoadState(fsys, name, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := emulator.New(cfg, vs)
	base, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	for _, v := range srv.Venues() {
		ex, ok := v.(emu.Exporter)
		if !ok {
			continue
		}
		for _, a := range ex.ExportAccounts() {
			if a.Name != account {
				continue
			}
			acct := executors.Account{Name: a.Name, Exchange: a.Exchange, KeyType: a.KeyType, APIKey: secret.New(a.APIKey),
				Secret: secret.New(a.Secret), Passphrase: secret.New(a.Passphrase), KeyVersion: a.KeyVersion}
			drv := binance.Driver()
			acct.BaseURL = base + "/binance"
			if a.Exchange == "kucoin" {
				drv = kucoin.Driver()
				acct.BaseURL, acct.FuturesBaseURL = base+"/kucoin", base+"/kucoin-futures"
			}
			for _, sk := range a.SubKeys {
				acct.SubKeys = append(acct.SubKeys, executors.SubKey{Sub: sk.Sub, APIKey: sk.APIKey, Passphrase: secret.New(sk.Passphrase)})
			}
			// Idle connections close first: the emulator waits up to 2 s
			// for every connection to go when it shuts down.
			tr := http.DefaultTransport.(*http.Transport).Clone()
			t.Cleanup(tr.CloseIdleConnections)
			x, err := drv.New(acct, executors.Env{Transport: tr}.Defaults())
			if err != nil {
				t.Fatalf("new executor: %v", err)
			}
			return x, srv
		}
	}
	t.Fatalf("the demo fund has no account %q", account)
	return nil, nil
}

// TestMoreBuiltinsSelectTheRightKeys plans each revoke step with the real
// executors against the emulator's demo fund. Binance does not show a
// master whether a sub-account key can withdraw, so every sub key of
// northwind-master counts as withdrawal-enabled (grid-bot-ed25519,
// arb-desk-legacy, hedge-futures); KuCoin shows it, and no sub key of
// kucoin-main may withdraw (mm-bot, arb-bot-v2; hedge has no passphrase
// in the accounts file).
func TestMoreBuiltinsSelectTheRightKeys(t *testing.T) {
	labels := []string{"(grid-bot-ed25519)", "(arb-desk-legacy)", "(hedge-futures)", "(mm-bot)", "(arb-bot-v2)"}
	tests := []struct {
		playbook, step, account string
		inputs                  map[string]string
		want                    []string // labels of the keys that would be deleted
	}{
		{"suspicious-call", "revoke-withdraw-keys", "northwind-master", nil, []string{"(grid-bot-ed25519)", "(arb-desk-legacy)", "(hedge-futures)"}},
		{"suspicious-call", "revoke-withdraw-keys", "kucoin-main", nil, nil},
		{"third-party-breach", "revoke-service-keys", "northwind-master", map[string]string{"service": "ARB-desk"}, []string{"(arb-desk-legacy)"}},
		{"third-party-breach", "revoke-service-keys", "kucoin-main", map[string]string{"service": "MM-bot"}, []string{"(mm-bot)"}},
		{"third-party-breach", "revoke-service-keys", "northwind-master", map[string]string{"service": "no-such-service"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.playbook+"/"+tt.account+"/"+tt.inputs["service"], func(t *testing.T) {
			pb, err := Builtin(tt.playbook)
			if err != nil {
				t.Fatal(err)
			}
			step := stepByID(t, pb, tt.step)
			x, srv := demoExecutor(t, tt.account)
			params, err := RenderParams(executors.WithDefaults(step.Action, step.With),
				TemplateData{Inputs: tt.inputs, Account: AccountRef{Name: tt.account, Exchange: x.Exchange()}, Step: step.ID})
			if err != nil {
				t.Fatal(err)
			}
			res, err := x.Plan(context.Background(),
				executors.Request{Action: step.Action, Step: step.ID, Params: params, Hooks: executors.NopHooks{}})
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			var got []string
			for _, c := range res.Changes {
				if !c.Irreversible {
					t.Errorf("change %q is not marked irreversible, want every deletion marked", c.Target)
				}
				for _, w := range labels {
					if strings.Contains(c.Target, w) {
						got = append(got, w)
					}
				}
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tt.want))
			if !slices.Equal(got, want) || len(res.Changes) != len(tt.want) {
				t.Errorf("got changes %+v, want deletions of %v only", res.Changes, tt.want)
			}
			var mutations int
			for _, e := range srv.Requests() {
				if e.Kind == emu.KindMutation {
					mutations++
				}
			}
			if mutations != 0 {
				t.Errorf("got %d mutations from a plan, want 0", mutations)
			}
		})
	}
}
