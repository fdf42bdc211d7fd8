package playbooks

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
)

const checkPlaybook = `name: check
inputs:
  ticket: {required: true}
  leaked_key: {default: none}
targets:
  tags: [prod, ghost-tag]
  accounts: [bn, kc, ghost]
steps:
  - id: freeze
    action: orders.cancel_all
  - id: deadman
    action: orders.deadman
  - id: binance-only
    action: orders.deadman
    when: account.exchange == 'binance'
  - id: after-freeze
    action: orders.deadman
    when: steps.freeze.status == 'ok'
`

func TestCheck(t *testing.T) {
	pb, err := Parse("c.yaml", []byte(checkPlaybook))
	if err != nil {
		t.Fatal(err)
	}
	accounts := []AccountRef{
		{Name: "bn", Exchange: "binance", Tags: []string{"prod"}},
		{Name: "kc", Exchange: "kucoin", Tags: []string{"prod"}},
		{Name: "dev", Exchange: "kucoin", Tags: []string{"dev"}},
	}
	supports := func(exchange, action string) bool {
		return exchange == "binance" || action != executors.OrdersDeadman
	}
	tests := []struct {
		name string
		env  Env
		want []string
	}{
		{"all good", Env{Accounts: accounts, Inputs: map[string]string{"ticket": "INC-1"}}, []string{
			`c.yaml:6:16: targets: tag "ghost-tag" matches no configured account`,
			`c.yaml:7:22: targets: account "ghost" matches no configured account`,
		}},
		{"inputs", Env{Accounts: accounts, Inputs: map[string]string{"tciket": "x", "extra": "y"}}, []string{
			`c.yaml: unknown input "extra" given (declared: ticket, leaked_key)`,
			`c.yaml: unknown input "tciket" given (declared: ticket, leaked_key)`,
			"c.yaml:3:3: input ticket is required: pass --input ticket=VALUE",
			`c.yaml:6:16: targets: tag "ghost-tag" matches no configured account`,
			`c.yaml:7:22: targets: account "ghost" matches no configured account`,
		}},
		{"nothing targeted", Env{Accounts: accounts[2:], Inputs: map[string]string{"ticket": "x"}}, []string{
			"c.yaml:6:3: targets match no configured account (configured: dev)",
			`c.yaml:6:10: targets: tag "prod" matches no configured account`,
			`c.yaml:6:16: targets: tag "ghost-tag" matches no configured account`,
			`c.yaml:7:14: targets: account "bn" matches no configured account`,
			`c.yaml:7:18: targets: account "kc" matches no configured account`,
			`c.yaml:7:22: targets: account "ghost" matches no configured account`,
		}},
		{"unsupported", Env{Accounts: accounts, Supports: supports, Inputs: map[string]string{"ticket": "x"}}, []string{
			`c.yaml:6:16: targets: tag "ghost-tag" matches no configured account`,
			`c.yaml:7:22: targets: account "ghost" matches no configured account`,
			"c.yaml:11:5: step deadman: action orders.deadman is not supported on kucoin (accounts: kc); limit the step with when: account.exchange != 'kucoin'",
			"c.yaml:16:5: step after-freeze: action orders.deadman is not supported on kucoin (accounts: kc); limit the step with when: account.exchange != 'kucoin'",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := pb.Check(tt.env)
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Check():\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestCheckOK(t *testing.T) {
	pb, err := Parse("ok.yaml", []byte("name: ok\ninputs: {x: {required: true}}\nsteps:\n  - {id: a, action: orders.list}\n"))
	if err != nil {
		t.Fatal(err)
	}
	err = pb.Check(Env{Accounts: []AccountRef{{Name: "a", Exchange: "binance"}}, Inputs: map[string]string{"x": "1"}, Supports: func(string, string) bool { return true }})
	if err != nil {
		t.Errorf("Check() = %v, want nil", err)
	}
}

func TestTargeted(t *testing.T) {
	accts := []AccountRef{
		{Name: "bn-prod", Exchange: "binance", Tags: []string{"prod"}},
		{Name: "kc-prod", Exchange: "kucoin", Tags: []string{"prod", "bots"}},
		{Name: "bn-dev", Exchange: "binance", Tags: []string{"dev"}},
	}
	tests := []struct {
		targets string
		want    []string
	}{
		{"{all: true}", []string{"bn-prod", "kc-prod", "bn-dev"}},
		{"{accounts: [bn-dev, kc-prod]}", []string{"kc-prod", "bn-dev"}},
		{"{tags: [bots, dev]}", []string{"kc-prod", "bn-dev"}},
		{"{exchanges: [binance]}", []string{"bn-prod", "bn-dev"}},
		{"{exchanges: [binance], tags: [prod]}", []string{"bn-prod"}},
		{"{accounts: [bn-prod, kc-prod], exchanges: [kucoin]}", []string{"kc-prod"}},
	}
	for _, tt := range tests {
		t.Run(tt.targets, func(t *testing.T) {
			pb, err := Parse("t.yaml", []byte("name: t\ntargets: "+tt.targets+"\nsteps: [{id: a, action: orders.list}]\n"))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range pb.Targeted(accts) {
				got = append(got, a.Name)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Targeted() = %v, want %v", got, tt.want)
			}
		})
	}
	// Absent targets mean every account.
	pb, err := Parse("t.yaml", []byte("name: t\nsteps: [{id: a, action: orders.list}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(pb.Targeted(accts)); got != 3 {
		t.Errorf("no targets: %d accounts targeted, want 3", got)
	}
}

func TestRenderParams(t *testing.T) {
	data := TemplateData{
		Inputs:  map[string]string{"ticket": "INC-7"},
		Account: AccountRef{Name: "main", Exchange: "kucoin"},
		Step:    "tell",
	}
	in := executors.Params{
		"text":    "{{ .Inputs.ticket }} on {{ .Account.Name }}/{{ .Account.Exchange }} at {{ .Step }}",
		"plain":   "no {template} here",
		"key_ids": []string{"{{ .Inputs.ticket }}", "fixed"},
		"headers": map[string]string{"X-A": "{{ .Account.Name }}"},
		"flag":    true,
		"wait":    5 * time.Second,
	}
	got, err := RenderParams(in, data)
	if err != nil {
		t.Fatal(err)
	}
	if want := "INC-7 on main/kucoin at tell"; got.String("text") != want {
		t.Errorf("text = %q, want %q", got.String("text"), want)
	}
	if got.String("plain") != "no {template} here" {
		t.Errorf("plain = %q, want it unchanged", got.String("plain"))
	}
	if want := []string{"INC-7", "fixed"}; !slices.Equal(got.Strings("key_ids"), want) {
		t.Errorf("key_ids = %v, want %v", got.Strings("key_ids"), want)
	}
	if got.Map("headers")["X-A"] != "main" {
		t.Errorf("headers = %v, want X-A main", got.Map("headers"))
	}
	if !got.Bool("flag") || got.Duration("wait") != 5*time.Second {
		t.Errorf("flag %v wait %v, want true 5s (copied)", got.Bool("flag"), got.Duration("wait"))
	}
	if in.String("text") == got.String("text") || in.Strings("key_ids")[0] != "{{ .Inputs.ticket }}" {
		t.Errorf("RenderParams modified its input")
	}

	errTests := []struct {
		name string
		p    executors.Params
		want string
	}{
		{"missing input", executors.Params{"text": "{{ .Inputs.nope }}"}, "parameter text: render template:"},
		{"bad syntax", executors.Params{"text": "{{ .Inputs.ticket "}, "parameter text: parse template:"},
		{"in a list", executors.Params{"l": []string{"ok", "{{ .Inputs.nope }}"}}, "parameter l[1]: render template:"},
		{"in a map", executors.Params{"m": map[string]string{"k": "{{ .Nope }}"}}, "parameter m[k]: render template:"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := RenderParams(tt.p, data)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error = %v, want prefix %q", err, tt.want)
			}
		})
	}
}

func TestCheckTemplate(t *testing.T) {
	tests := []struct {
		src  string
		want []string
	}{
		{"{{ .Inputs.a }} {{ .Account.Name }} {{ .Account.Exchange }} {{ .Step }}", nil},
		{"{{ if .Inputs.a }}x{{ else }}{{ $.Inputs.a }}{{ end }}", nil},
		{`{{ .Inputs.a | mask }}`, nil},
		{`{{ printf "%s" .Inputs.a }}`, []string{"template function printf is not supported (allowed: mask, eq, ne, and, or, not)"}},
		{"{{ .Inputs.b }}", []string{`template refers to .Inputs.b but no input "b" is declared (declared: a)`}},
		{"{{ .Inputs }}", []string{"template refers to .Inputs (allowed: .Inputs.NAME, .Account.Name, .Account.Exchange, .Step)"}},
		{"{{ .Account.Tags }}", []string{"template refers to .Account.Tags (allowed: .Inputs.NAME, .Account.Name, .Account.Exchange, .Step)"}},
		{"{{ . }}", []string{"template refers to . (allowed: .Inputs.NAME, .Account.Name, .Account.Exchange, .Step)"}},
		{"{{ range .Inputs.a }}{{ end }}", []string{"range is not supported in parameter templates"}},
		{"{{ .Inputs.a", []string{"bad template: 1: unclosed action"}},
		{"{{ if .Inputs.b }}{{ .Inputs.b }}{{ end }}", []string{`template refers to .Inputs.b but no input "b" is declared (declared: a)`}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			got := checkTemplate(tt.src, []string{"a"})
			if !slices.Equal(got, tt.want) {
				t.Errorf("checkTemplate() = %q, want %q", got, tt.want)
			}
		})
	}
}
