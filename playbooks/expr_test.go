package playbooks

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/panicbutton/panicbutton/executors"
)

func TestExprEval(t *testing.T) {
	inputs := []string{"leaked_key", "mode"}
	steps := []string{"freeze", "snap-1"}
	vars := Vars{
		Inputs:  map[string]string{"leaked_key": "abc", "mode": ""},
		Account: AccountRef{Name: "main", Exchange: "binance", Tags: []string{"prod", "bots"}},
		Steps:   map[string]string{"freeze": "changed"},
	}
	tests := []struct {
		src  string
		want bool
	}{
		{"true", true},
		{"false", false},
		{"account.exchange == 'binance'", true},
		{`account.exchange == "kucoin"`, false},
		{"account.name != 'main'", false},
		{"account.tags contains 'prod'", true},
		{"account.tags contains 'dev'", false},
		{"inputs.leaked_key contains 'b'", true},
		{"inputs.leaked_key != ''", true},
		{"inputs.mode == ''", true},
		{"steps.freeze.status == 'changed'", true},
		{"steps.snap-1.status == 'skipped'", true}, // did not run for this account
		{"!(steps.freeze.status == 'failed')", true},
		{"!true || true", true},
		{"false && true || true", true},          // && binds tighter
		{"false && (true || true)", false},       // parentheses
		{"true || false && false", true},         // && binds tighter
		{"!account.tags contains 'prod'", false}, // ! applies to the comparison
		{"true == true", true},
		{"true != (account.name == 'main')", false},
		{`'it\'s' == "it's"`, true},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			e, err := ParseExpr(tt.src, inputs, steps)
			if err != nil {
				t.Fatalf("ParseExpr: %v", err)
			}
			got, err := e.Eval(vars)
			if err != nil {
				t.Fatalf("Eval: %v", err)
			}
			if got != tt.want {
				t.Errorf("Eval() = %v, want %v", got, tt.want)
			}
			if e.String() != tt.src {
				t.Errorf("String() = %q, want %q", e.String(), tt.src)
			}
		})
	}
}

func TestNilExpr(t *testing.T) {
	var e *Expr
	got, err := e.Eval(Vars{})
	if err != nil || !got {
		t.Errorf("nil Eval() = %v, %v; want true, nil", got, err)
	}
	if e.String() != "true" {
		t.Errorf("nil String() = %q, want true", e.String())
	}
}

func TestExprErrors(t *testing.T) {
	tests := []struct {
		src     string
		wantCol int
		wantMsg string
	}{
		{"", 1, "unexpected end of expression"},
		{"account.name = 'x'", 14, `unexpected "="; use == to compare`},
		{"account.name == 'x", 17, "unterminated string"},
		{"account.name == 'x' & true", 21, `unexpected '&'; use && or ||`},
		{"(true", 6, "want ), got end of expression"},
		{"true)", 5, `unexpected ")"`},
		{"true true", 6, `unexpected "true"`},
		{"account.name", 1, "want a condition (true or false), got a string; compare it with == or !="},
		{"account.region == 'eu'", 1, `unknown variable "account.region" (known: inputs.NAME, account.name, account.exchange, account.tags, steps.ID.status)`},
		{"inputs.nope == ''", 1, `inputs.nope: no input "nope" is declared (declared: key)`},
		{"steps.later.status == 'ok'", 1, "steps.later: a condition can only refer to earlier steps"},
		{"steps.ghost.status == 'ok'", 1, `steps.ghost: no earlier step has id "ghost"`},
		{"steps.first.state == 'ok'", 1, `unknown variable "steps.first.state" (known: inputs.NAME, account.name, account.exchange, account.tags, steps.ID.status)`},
		{"steps.first.status == 'done'", 23, `unknown step status "done" (known: ok, changed, would-change, skipped, failed, pending)`},
		{"account.tags == 'prod'", 1, "account.tags can only be used with contains, e.g. account.tags contains 'prod'"},
		{"account.tags", 1, "account.tags can only be used with contains, e.g. account.tags contains 'prod'"},
		{"account.name == true", 17, "== compares a string with a condition"},
		{"account.name && true", 1, "&& needs conditions on both sides, got a string"},
		{"!account.name", 2, "! needs a condition, got a string"},
		{"true contains 'x'", 1, "contains needs account.tags or a string on its left, got a condition"},
		{"account.tags contains account.tags", 23, "contains needs a string on its right, got a list"},
		{"contains 'x'", 1, "contains needs a value on its left"},
		{"account.name == 'a' # comment", 21, `unexpected character '#'`},
	}
	sc := exprScope{inputs: []string{"key"}, steps: []string{"first"}, later: []string{"later"}}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			_, err := parseExpr(tt.src, sc)
			var ee *ExprError
			if !errors.As(err, &ee) {
				t.Fatalf("error = %v, want an *ExprError", err)
			}
			if ee.Col != tt.wantCol || ee.Msg != tt.wantMsg {
				t.Errorf("got column %d %q, want column %d %q", ee.Col, ee.Msg, tt.wantCol, tt.wantMsg)
			}
		})
	}
}

func TestExprPartial(t *testing.T) {
	acct := Vars{Account: AccountRef{Name: "k", Exchange: "kucoin"}}
	tests := []struct {
		src       string
		want      bool
		wantKnown bool
	}{
		{"account.exchange == 'binance'", false, true},
		{"account.exchange == 'binance' && steps.a.status == 'ok'", false, true},
		{"steps.a.status == 'ok' && account.exchange == 'binance'", false, true},
		{"account.exchange == 'kucoin' || steps.a.status == 'ok'", true, true},
		{"steps.a.status == 'ok'", false, false},
		{"!(steps.a.status == 'ok')", false, false},
		{"account.exchange == 'kucoin' && steps.a.status == 'ok'", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			e, err := ParseExpr(tt.src, nil, []string{"a"})
			if err != nil {
				t.Fatal(err)
			}
			got, known := e.partial(acct)
			if known != tt.wantKnown || (known && got != tt.want) {
				t.Errorf("partial() = %v, known %v; want %v, known %v", got, known, tt.want, tt.wantKnown)
			}
		})
	}
}

func TestExprSteps(t *testing.T) {
	for _, tt := range []struct {
		src  string
		want []string
	}{
		{"true", nil},
		{"inputs.x == 'a'", nil},
		{"steps.a.status == 'ok' && (steps.b.status != 'failed' || steps.a.status == 'changed')", []string{"a", "b"}},
	} {
		e, err := ParseExpr(tt.src, []string{"x"}, []string{"a", "b"})
		if err != nil {
			t.Fatalf("%s: %v", tt.src, err)
		}
		if got := e.Steps(); !slices.Equal(got, tt.want) {
			t.Errorf("Steps(%q) = %v, want %v", tt.src, got, tt.want)
		}
	}
}

func TestTemplateMaskAndFunctions(t *testing.T) {
	got, err := RenderParams(executors.Params{"instructions": "key {{ .Inputs.k | mask }}"}, TemplateData{Inputs: map[string]string{"k": "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"}})
	if err != nil {
		t.Fatal(err)
	}
	if s := got.String("instructions"); s != "key vmPU…Eh8A" {
		t.Errorf("rendered %q, want the key masked", s)
	}
	if problems := checkTemplate(`{{ printf "%s" .Inputs.k }}`, []string{"k"}); len(problems) != 1 || !strings.Contains(problems[0], "printf is not supported") {
		t.Errorf("printf: problems %v, want one saying it is not supported", problems)
	}
}
