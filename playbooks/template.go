package playbooks

import (
	"fmt"
	"github.com/panicbutton/panicbutton/internal/secret"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"

	"github.com/panicbutton/panicbutton/executors"
)

// TemplateData is what a parameter template sees: {{ .Inputs.NAME }},
// {{ .Account.Name }}, {{ .Account.Exchange }}, {{ .Step }}.
type TemplateData struct {
	Inputs  map[string]string
	Account AccountRef
	Step    string
}

const allowedFields = ".Inputs.NAME, .Account.Name, .Account.Exchange, .Step"

// templateFuncs are the functions parameter templates may call. mask shows
// an API key id as its first and last four characters, so instructions can
// name a key without printing it in full.
var templateFuncs = template.FuncMap{"mask": secret.Mask}

// allowedFuncs are the function names a template may use: mask and the
// comparisons of text/template.
var allowedFuncs = []string{"mask", "eq", "ne", "and", "or", "not"}

// checkTemplate parses s as a text/template and returns a message for each
// problem: syntax errors, and references to anything but a declared input,
// .Account.Name, .Account.Exchange or .Step.
func checkTemplate(s string, inputs []string) []string {
	t, err := template.New("with").Option("missingkey=error").Funcs(templateFuncs).Parse(s)
	if err != nil {
		return []string{"bad template: " + strings.TrimPrefix(err.Error(), "template: with:")}
	}
	var problems []string
	seen := map[string]bool{}
	report := func(msg string) {
		if !seen[msg] {
			seen[msg] = true
			problems = append(problems, msg)
		}
	}
	checkChain := func(chain []string) {
		ref := "." + strings.Join(chain, ".")
		switch {
		case len(chain) == 2 && chain[0] == "Inputs":
			if !slices.Contains(inputs, chain[1]) {
				report(fmt.Sprintf("template refers to %s but no input %q is declared%s", ref, chain[1], declared(inputs)))
			}
		case len(chain) == 2 && chain[0] == "Account" && (chain[1] == "Name" || chain[1] == "Exchange"):
		case len(chain) == 1 && chain[0] == "Step":
		default:
			report(fmt.Sprintf("template refers to %s (allowed: %s)", ref, allowedFields))
		}
	}
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case nil:
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, c := range n.Nodes {
				walk(c)
			}
		case *parse.ActionNode:
			walk(n.Pipe)
		case *parse.PipeNode:
			if n == nil {
				return
			}
			for _, c := range n.Cmds {
				walk(c)
			}
		case *parse.CommandNode:
			for _, a := range n.Args {
				walk(a)
			}
		case *parse.IfNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode:
			report("range is not supported in parameter templates")
		case *parse.WithNode:
			report("with is not supported in parameter templates")
		case *parse.TemplateNode:
			report("template calls are not supported in parameter templates")
		case *parse.FieldNode:
			checkChain(n.Ident)
		case *parse.IdentifierNode:
			if !slices.Contains(allowedFuncs, n.Ident) {
				report(fmt.Sprintf("template function %s is not supported (allowed: %s)", n.Ident, strings.Join(allowedFuncs, ", ")))
			}
		case *parse.ChainNode:
			report(fmt.Sprintf("template expression %s is not supported (allowed: %s)", n, allowedFields))
		case *parse.VariableNode:
			if n.Ident[0] == "$" && len(n.Ident) > 1 {
				checkChain(n.Ident[1:])
			}
		case *parse.DotNode:
			report(fmt.Sprintf("template refers to . (allowed: %s)", allowedFields))
		}
	}
	walk(t.Tree.Root)
	return problems
}

// RenderParams executes the templates in every string, list element and
// map value of p (text/template, missingkey=error) and returns a new
// Params; values of other types are copied as they are.
func RenderParams(p executors.Params, data TemplateData) (executors.Params, error) {
	out := make(executors.Params, len(p))
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch v := p[k].(type) {
		case string:
			s, err := render(v, data)
			if err != nil {
				return nil, fmt.Errorf("parameter %s: %w", k, err)
			}
			out[k] = s
		case []string:
			l := make([]string, len(v))
			for i, e := range v {
				s, err := render(e, data)
				if err != nil {
					return nil, fmt.Errorf("parameter %s[%d]: %w", k, i, err)
				}
				l[i] = s
			}
			out[k] = l
		case map[string]string:
			m := make(map[string]string, len(v))
			mk := make([]string, 0, len(v))
			for mkey := range v {
				mk = append(mk, mkey)
			}
			slices.Sort(mk)
			for _, mkey := range mk {
				s, err := render(v[mkey], data)
				if err != nil {
					return nil, fmt.Errorf("parameter %s[%s]: %w", k, mkey, err)
				}
				m[mkey] = s
			}
			out[k] = m
		default:
			out[k] = v
		}
	}
	return out, nil
}

func render(s string, data TemplateData) (string, error) {
	if !strings.Contains(s, "{{") {
		return s, nil
	}
	t, err := template.New("param").Option("missingkey=error").Funcs(templateFuncs).Parse(s)
	if err != nil {
		return "", fmt.Errorf("parse template: %w", err)
	}
	if data.Inputs == nil {
		data.Inputs = map[string]string{}
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("render template: %w", err)
	}
	return b.String(), nil
}
