package playbooks

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/yamlx"
)

var (
	stepIDRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	inputNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

var (
	topKeys    = []string{"name", "description", "inputs", "targets", "steps"}
	inputKeys  = []string{"description", "required", "default"}
	targetKeys = []string{"all", "accounts", "tags", "exchanges"}
	stepKeys   = []string{"id", "description", "action", "with", "when", "timeout", "retries", "on_error", "irreversible", "barrier"}
)

type parser struct {
	file string
	pb   *Playbook
	d    yamlx.Diagnostics
}

func (p *parser) pos(n *yaml.Node) Pos {
	if n == nil {
		return Pos{File: p.file}
	}
	return Pos{File: p.file, Line: n.Line, Col: n.Column}
}

func (p *parser) add(n *yaml.Node, format string, args ...any) {
	p.d.Add(p.file, n, format, args...)
}

// under runs fn and prefixes the problems it reports with prefix.
func (p *parser) under(prefix string, fn func()) {
	n := p.d.Len()
	fn()
	p.d.Prefix(n, prefix)
}

func (p *parser) playbook(root *yaml.Node) {
	kvs := yamlx.Mapping(p.file, root, topKeys, &p.d)
	var stepsNode, targetsNode *yaml.Node
	haveName := false
	for _, kv := range kvs {
		switch kv.Key {
		case "name":
			haveName = true
			if s, ok := yamlx.String(p.file, kv.Value, &p.d); ok {
				if strings.TrimSpace(s) == "" {
					p.add(kv.Value, "name must not be empty")
				}
				p.pb.Name = s
			}
		case "description":
			if s, ok := yamlx.String(p.file, kv.Value, &p.d); ok {
				p.pb.Description = strings.TrimSpace(s)
			}
		case "inputs":
			p.inputs(kv.Value)
		case "targets":
			targetsNode = kv.Value
		case "steps":
			stepsNode = kv.Value
		}
	}
	if !haveName {
		p.add(root, "missing name")
	}
	if targetsNode != nil {
		p.targets(targetsNode)
	} else {
		// Absent targets: every configured account (documented in FORMAT.md).
		p.pb.Targets = Targets{All: true, Pos: p.pos(root)}
	}
	if stepsNode == nil {
		p.add(root, "missing steps")
		return
	}
	p.steps(stepsNode)
}

func (p *parser) inputs(n *yaml.Node) {
	for _, kv := range yamlx.Mapping(p.file, n, nil, &p.d) {
		in := Input{Name: kv.Key, Pos: p.pos(kv.KeyNode)}
		if !inputNameRE.MatchString(kv.Key) {
			p.add(kv.KeyNode, "input name %q: want lower-case letters, digits and _ (starting with a letter)", kv.Key)
		}
		var defNode *yaml.Node
		p.under("input "+kv.Key, func() {
			for _, f := range yamlx.Mapping(p.file, kv.Value, inputKeys, &p.d) {
				p.under(f.Key, func() {
					switch f.Key {
					case "description":
						in.Description, _ = yamlx.String(p.file, f.Value, &p.d)
					case "required":
						in.Required, _ = yamlx.Bool(p.file, f.Value, &p.d)
					case "default":
						defNode = f.Value
						in.Default, _ = yamlx.String(p.file, f.Value, &p.d)
					}
				})
			}
		})
		if in.Required && defNode != nil {
			p.add(defNode, "input %s is required and has a default: drop one of them", in.Name)
		}
		p.pb.Inputs = append(p.pb.Inputs, in)
	}
}

func (p *parser) inputNames() []string {
	out := make([]string, len(p.pb.Inputs))
	for i, in := range p.pb.Inputs {
		out[i] = in.Name
	}
	return out
}

func (p *parser) targets(n *yaml.Node) {
	t := Targets{Pos: p.pos(n)}
	list := func(v *yaml.Node) ([]string, []Pos) {
		l, ok := yamlx.StringList(p.file, v, &p.d)
		if !ok {
			return nil, nil
		}
		if len(l) == 0 {
			p.add(v, "empty list")
		}
		var ps []Pos
		for _, c := range v.Content {
			ps = append(ps, p.pos(c))
		}
		return l, ps
	}
	before := p.d.Len()
	p.under("targets", func() {
		for _, kv := range yamlx.Mapping(p.file, n, targetKeys, &p.d) {
			p.under(kv.Key, func() {
				switch kv.Key {
				case "all":
					t.All, _ = yamlx.Bool(p.file, kv.Value, &p.d)
				case "accounts":
					t.Accounts, t.accountPos = list(kv.Value)
				case "tags":
					t.Tags, t.tagPos = list(kv.Value)
				case "exchanges":
					t.Exchanges, t.exchPos = list(kv.Value)
				}
			})
		}
	})
	selective := len(t.Accounts) > 0 || len(t.Tags) > 0 || len(t.Exchanges) > 0
	switch {
	case t.All && selective:
		p.add(n, "targets: all: true cannot be combined with accounts, tags or exchanges")
	case !t.All && !selective && p.d.Len() == before:
		p.add(n, "targets: want all: true, or accounts, tags or exchanges")
	}
	p.pb.Targets = t
}

func (p *parser) steps(n *yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		p.add(n, "steps: want a list of steps, got %s", yamlx.Describe(n))
		return
	}
	if len(n.Content) == 0 {
		p.add(n, "steps: a playbook needs at least one step")
		return
	}
	// Collect every id first, so a when that names a later step gets a
	// precise message.
	ids := make([]string, len(n.Content))
	for i, sn := range n.Content {
		if sn.Kind != yaml.MappingNode {
			continue
		}
		for j := 0; j+1 < len(sn.Content); j += 2 {
			if sn.Content[j].Value == "id" && sn.Content[j+1].Kind == yaml.ScalarNode {
				ids[i] = sn.Content[j+1].Value
				break
			}
		}
	}
	seen := map[string]*yaml.Node{}
	var earlier []string
	for i, sn := range n.Content {
		st, idNode := p.step(sn, i, exprScope{inputs: p.inputNames(), steps: slices.Clone(earlier), later: ids[i:]})
		if st.ID != "" {
			if prev, dup := seen[st.ID]; dup {
				p.add(idNode, "duplicate step id %q (first at line %d)", st.ID, prev.Line)
			} else {
				seen[st.ID] = idNode
				earlier = append(earlier, st.ID)
			}
		}
		p.pb.Steps = append(p.pb.Steps, st)
	}
	// The account's own key can only be deleted by a human (a manual step
	// that verifies it with key_rejected). Any exchange action after that
	// step would run with a dead key and fail, so it must come before.
	for i, st := range p.pb.Steps {
		if st.Action != executors.Manual || st.With.String("verify") != "key_rejected" || st.With.String("api_key") != "" {
			continue
		}
		for j := i + 1; j < len(p.pb.Steps); j++ {
			later := p.pb.Steps[j]
			if spec, ok := executors.Lookup(later.Action); ok && !spec.Local {
				p.add(n.Content[j], "step %s: runs after step %s, where the account's own API key is deleted by hand, so it would fail with a dead key: move it before %s", later.ID, st.ID, st.ID)
			}
		}
		break
	}
}

// step parses one step; it returns the step (possibly partial) and the node
// of its id.
func (p *parser) step(n *yaml.Node, index int, sc exprScope) (Step, *yaml.Node) {
	st := Step{Pos: p.pos(n), OnError: OnErrorContinue}
	if n.Kind != yaml.MappingNode {
		p.add(n, "step %d: want a mapping with id and action, got %s", index+1, yamlx.Describe(n))
		return st, nil
	}
	label := fmt.Sprintf("step %d", index+1)
	var idNode, actionNode, withNode, whenNode, irrNode *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k, v := n.Content[i], n.Content[i+1]; k.Value == "id" && v.Kind == yaml.ScalarNode && stepIDRE.MatchString(v.Value) {
			label = "step " + v.Value
			break
		}
	}
	var kvs []yamlx.KV
	p.under(label, func() { kvs = yamlx.Mapping(p.file, n, stepKeys, &p.d) })
	for _, kv := range kvs {
		mark := p.d.Len()
		switch kv.Key {
		case "id":
			idNode = kv.Value
			if s, ok := yamlx.String(p.file, kv.Value, &p.d); ok {
				if !stepIDRE.MatchString(s) {
					p.add(kv.Value, "%q: want lower-case letters, digits, - and _ (matching %s)", s, stepIDRE)
				} else {
					st.ID = s
				}
			}
		case "description":
			if s, ok := yamlx.String(p.file, kv.Value, &p.d); ok {
				st.Description = strings.TrimSpace(s)
			}
		case "action":
			actionNode = kv.Value
			st.Action, _ = yamlx.String(p.file, kv.Value, &p.d)
		case "with":
			withNode = kv.Value
		case "when":
			whenNode = kv.Value
		case "timeout":
			st.Timeout, _ = yamlx.Duration(p.file, kv.Value, &p.d)
		case "retries":
			if r, ok := yamlx.Int(p.file, kv.Value, &p.d); ok {
				if r < 0 || r > MaxRetries {
					p.add(kv.Value, "must be between 0 and %d, got %d", MaxRetries, r)
				} else {
					st.Retries = r
				}
			}
		case "on_error":
			if s, ok := yamlx.String(p.file, kv.Value, &p.d); ok {
				if s != OnErrorContinue && s != OnErrorAbort {
					p.add(kv.Value, "must be continue or abort, got %q", s)
				} else {
					st.OnError = s
				}
			}
		case "irreversible":
			irrNode = kv.Value
			st.Irreversible, _ = yamlx.Bool(p.file, kv.Value, &p.d)
		case "barrier":
			st.Barrier, _ = yamlx.Bool(p.file, kv.Value, &p.d)
		}
		p.d.Prefix(mark, label+": "+kv.Key)
	}
	if idNode == nil {
		p.add(n, "%s: missing id", label)
	}
	if whenNode != nil {
		st.When = p.when(label, whenNode, sc)
	}
	if actionNode == nil {
		p.add(n, "%s: missing action", label)
		return st, idNode
	}
	if st.Action == "" {
		return st, idNode
	}
	spec, ok := executors.Lookup(st.Action)
	if !ok {
		p.add(actionNode, "%s: unknown action %q%s", label, st.Action, suggestAction(st.Action))
		return st, idNode
	}
	st.With = p.with(label, spec, withNode, n, sc.inputs)
	if st.Action == executors.KeysRevoke && !st.Irreversible {
		method := executors.WithDefaults(st.Action, st.With).String("method")
		if method == "delete" {
			at := actionNode
			if irrNode != nil {
				at = irrNode
			}
			p.add(at, "%s: keys.revoke with method delete deletes API keys for good: add irreversible: true to confirm", label)
		}
	}
	return st, idNode
}

func (p *parser) when(label string, n *yaml.Node, sc exprScope) *Expr {
	var src string
	ok := false
	p.under(label+": when", func() { src, ok = yamlx.String(p.file, n, &p.d) })
	if !ok {
		return nil
	}
	e, err := parseExpr(src, sc)
	if err == nil {
		return e
	}
	var ee *ExprError
	if !errors.As(err, &ee) {
		p.add(n, "%s: when: %v", label, err)
		return nil
	}
	line, col := n.Line, n.Column
	switch n.Style {
	case 0, yaml.FlowStyle: // plain scalar
		col += ee.Col - 1
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		col += ee.Col // after the opening quote
	}
	p.d.AddAt(p.file, line, col, "%s: when: %s", label, ee.Msg)
	return nil
}

// with parses the parameters of an action.
func (p *parser) with(label string, spec executors.ActionSpec, n, stepNode *yaml.Node, inputs []string) executors.Params {
	out := executors.Params{}
	var names []string
	for _, ps := range spec.Params {
		names = append(names, ps.Name)
	}
	if n != nil && len(names) == 0 && !yamlx.IsNull(n) {
		p.add(n, "%s: action %s takes no parameters", label, spec.Name)
		return out
	}
	if names == nil {
		names = []string{}
	}
	var kvs []yamlx.KV
	p.under(label+": with", func() { kvs = yamlx.Mapping(p.file, n, names, &p.d) })
	for _, kv := range kvs {
		ps, _ := spec.Param(kv.Key)
		p.under(label+": "+kv.Key, func() {
			if v, ok := p.param(ps, kv.Value, inputs); ok {
				out[kv.Key] = v
			}
		})
	}
	for _, ps := range spec.Params {
		if _, set := out[ps.Name]; ps.Required && !set && !p.paramGiven(n, ps.Name) {
			at := n
			if at == nil {
				at = stepNode
			}
			p.add(at, "%s: action %s needs parameter %s", label, spec.Name, ps.Name)
		}
	}
	return out
}

// paramGiven reports whether the with mapping has the key (even if its value
// was bad, in which case that was reported already).
func (p *parser) paramGiven(n *yaml.Node, name string) bool {
	if n == nil || n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == name {
			return true
		}
	}
	return false
}

func (p *parser) param(ps executors.ParamSpec, n *yaml.Node, inputs []string) (any, bool) {
	var v any
	ok := false
	switch ps.Type {
	case executors.String:
		var s string
		if s, ok = yamlx.String(p.file, n, &p.d); ok {
			ok = p.enum(ps, n, s) && p.template(n, s, inputs, len(ps.Enum) > 0)
			v = s
		}
	case executors.StringList:
		var l []string
		if l, ok = yamlx.StringList(p.file, n, &p.d); ok {
			for i, s := range l {
				ok = p.enum(ps, n.Content[i], s) && ok
				ok = p.template(n.Content[i], s, inputs, len(ps.Enum) > 0) && ok
			}
			v = l
		}
	case executors.Bool:
		v, ok = yamlx.Bool(p.file, n, &p.d)
	case executors.Int:
		v, ok = yamlx.Int(p.file, n, &p.d)
	case executors.Duration:
		v, ok = yamlx.Duration(p.file, n, &p.d)
	case executors.StringMap:
		var m map[string]string
		if m, ok = yamlx.StringMap(p.file, n, &p.d); ok {
			for i := 0; i+1 < len(n.Content); i += 2 {
				ok = p.template(n.Content[i+1], n.Content[i+1].Value, inputs, false) && ok
			}
			v = m
		}
	default:
		p.add(n, "unsupported parameter type %s", ps.Type)
	}
	if !ok {
		return nil, false
	}
	if err := executors.CheckValue(ps.Type, v); err != nil {
		p.add(n, "%v", err)
		return nil, false
	}
	return v, true
}

func (p *parser) enum(ps executors.ParamSpec, n *yaml.Node, s string) bool {
	if len(ps.Enum) == 0 || slices.Contains(ps.Enum, s) {
		return true
	}
	if strings.Contains(s, "{{") {
		return true // reported by template
	}
	p.add(n, "%q is not one of %s", s, strings.Join(ps.Enum, ", "))
	return false
}

func (p *parser) template(n *yaml.Node, s string, inputs []string, isEnum bool) bool {
	if !strings.Contains(s, "{{") {
		return true
	}
	if isEnum {
		p.add(n, "templates are not allowed in a parameter with fixed values")
		return false
	}
	problems := checkTemplate(s, inputs)
	for _, msg := range problems {
		p.add(n, "%s", msg)
	}
	return len(problems) == 0
}

// suggestAction returns " (did you mean X?)" for the closest catalog
// action, or the list of actions when none is close.
func suggestAction(name string) string {
	best, bestD := "", 1<<30
	var all []string
	for _, a := range executors.Actions() {
		all = append(all, a.Name)
		if d := levenshtein(name, a.Name); d < bestD {
			best, bestD = a.Name, d
		}
	}
	if bestD <= max(3, len(name)/3) {
		return fmt.Sprintf(" (did you mean %s?)", best)
	}
	return " (known: " + strings.Join(all, ", ") + ")"
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
