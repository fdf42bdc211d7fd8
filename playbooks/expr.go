package playbooks

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The when language (see FORMAT.md):
//
//	expr    = or
//	or      = and { "||" and }
//	and     = unary { "&&" unary }
//	unary   = "!" unary | compare
//	compare = primary [ ("==" | "!=" | "contains") primary ]
//	primary = "(" expr ")" | STRING | "true" | "false" | VARIABLE
//
// Variables: inputs.NAME, account.name, account.exchange, account.tags
// (only on the left of contains), steps.ID.status. Every expression is
// type-checked when the playbook is parsed.

// StepStatuses are the values steps.ID.status can take.
var StepStatuses = []string{"ok", "changed", "would-change", "skipped", "failed", "pending"}

// Vars are the values a when expression is evaluated against.
type Vars struct {
	Inputs  map[string]string
	Account AccountRef
	// Steps maps a step id to the status of that step for this account:
	// ok, changed, would-change, skipped, failed, pending. A step missing
	// from the map did not run for this account and counts as "skipped".
	Steps map[string]string
}

// Expr is a parsed, type-checked when expression.
type Expr struct {
	src   string
	root  node
	steps []string // ids of the steps whose status the expression reads
}

// Steps returns the ids of the earlier steps whose status the expression
// reads; the runner waits for them before evaluating it.
func (e *Expr) Steps() []string {
	if e == nil {
		return nil
	}
	return append([]string(nil), e.steps...)
}

// String returns the expression as written.
func (e *Expr) String() string {
	if e == nil {
		return "true"
	}
	return e.src
}

// Eval evaluates the expression. A nil *Expr is true.
func (e *Expr) Eval(v Vars) (bool, error) {
	if e == nil {
		return true, nil
	}
	r, _ := evalNode(e.root, v, false)
	b, ok := r.(bool)
	if !ok {
		return false, fmt.Errorf("when %q: not a condition", e.src)
	}
	return b, nil
}

// partial evaluates with unknown step statuses: known is false when the
// result depends on a step status. Used by Check to decide whether a step
// can run on an account at all.
func (e *Expr) partial(v Vars) (result, known bool) {
	if e == nil {
		return true, true
	}
	r, k := evalNode(e.root, v, true)
	b, _ := r.(bool)
	return b, k
}

// ExprError is a syntax or type error at a 1-based column of the expression.
type ExprError struct {
	Col int
	Msg string
}

func (e *ExprError) Error() string { return fmt.Sprintf("column %d: %s", e.Col, e.Msg) }

// exprScope is what an expression may refer to.
type exprScope struct {
	inputs []string // declared inputs
	steps  []string // ids of EARLIER steps
	later  []string // ids of this and later steps (for a better message)
}

// ParseExpr parses src against the declared inputs and the ids of the steps
// that come before the step it belongs to.
func ParseExpr(src string, inputs, earlierSteps []string) (*Expr, error) {
	return parseExpr(src, exprScope{inputs: inputs, steps: earlierSteps})
}

func parseExpr(src string, sc exprScope) (*Expr, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &exprParser{toks: toks, sc: sc}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, &ExprError{Col: t.col, Msg: fmt.Sprintf("unexpected %s", t)}
	}
	if n.typ() != tyBool {
		return nil, &ExprError{Col: n.col(), Msg: fmt.Sprintf("want a condition (true or false), got a %s; compare it with == or !=", n.typ())}
	}
	return &Expr{src: src, root: n, steps: p.refs}, nil
}

// ---- lexer ----

type tokKind int

const (
	tEOF tokKind = iota
	tString
	tIdent // variable path, true, false, contains
	tEq
	tNe
	tAnd
	tOr
	tNot
	tLParen
	tRParen
)

type token struct {
	kind tokKind
	text string // identifier text or unquoted string value
	col  int    // 1-based
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tString:
		return "string " + strconv.Quote(t.text)
	case tIdent:
		return strconv.Quote(t.text)
	}
	return strconv.Quote(t.text)
}

func isIdentStart(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }
func isIdentChar(c byte) bool {
	return isIdentStart(c) || c >= '0' && c <= '9' || c == '-' || c == '.'
}

func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		col := i + 1
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '\'' || c == '"':
			j := i + 1
			var b strings.Builder
			for ; j < len(src) && src[j] != c; j++ {
				if src[j] == '\\' && j+1 < len(src) && (src[j+1] == c || src[j+1] == '\\') {
					j++
				}
				b.WriteByte(src[j])
			}
			if j >= len(src) {
				return nil, &ExprError{Col: col, Msg: "unterminated string"}
			}
			toks = append(toks, token{tString, b.String(), col})
			i = j + 1
		case isIdentStart(c):
			j := i
			for j < len(src) && isIdentChar(src[j]) {
				j++
			}
			toks = append(toks, token{tIdent, src[i:j], col})
			i = j
		case strings.HasPrefix(src[i:], "=="):
			toks = append(toks, token{tEq, "==", col})
			i += 2
		case strings.HasPrefix(src[i:], "!="):
			toks = append(toks, token{tNe, "!=", col})
			i += 2
		case strings.HasPrefix(src[i:], "&&"):
			toks = append(toks, token{tAnd, "&&", col})
			i += 2
		case strings.HasPrefix(src[i:], "||"):
			toks = append(toks, token{tOr, "||", col})
			i += 2
		case c == '!':
			toks = append(toks, token{tNot, "!", col})
			i++
		case c == '(':
			toks = append(toks, token{tLParen, "(", col})
			i++
		case c == ')':
			toks = append(toks, token{tRParen, ")", col})
			i++
		case c == '=':
			return nil, &ExprError{Col: col, Msg: `unexpected "="; use == to compare`}
		case c == '&' || c == '|':
			return nil, &ExprError{Col: col, Msg: fmt.Sprintf("unexpected %q; use && or ||", c)}
		default:
			return nil, &ExprError{Col: col, Msg: fmt.Sprintf("unexpected character %q", rune(c))}
		}
	}
	return append(toks, token{tEOF, "", len(src) + 1}), nil
}

// ---- parser ----

type exprParser struct {
	toks []token
	pos  int
	sc   exprScope
	refs []string // step ids referenced, in order of appearance
}

func (p *exprParser) peek() token { return p.toks[p.pos] }
func (p *exprParser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

func (p *exprParser) or() (node, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tOr {
		op := p.next()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		if err := wantBool(op, l, r); err != nil {
			return nil, err
		}
		l = &logic{op: tOr, l: l, r: r, c: l.col()}
	}
	return l, nil
}

func (p *exprParser) and() (node, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tAnd {
		op := p.next()
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		if err := wantBool(op, l, r); err != nil {
			return nil, err
		}
		l = &logic{op: tAnd, l: l, r: r, c: l.col()}
	}
	return l, nil
}

func wantBool(op token, ns ...node) error {
	for _, n := range ns {
		if n.typ() != tyBool {
			return &ExprError{Col: n.col(), Msg: fmt.Sprintf("%s needs conditions on both sides, got a %s", op.text, n.typ())}
		}
	}
	return nil
}

func (p *exprParser) unary() (node, error) {
	if p.peek().kind == tNot {
		op := p.next()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		if x.typ() != tyBool {
			return nil, &ExprError{Col: x.col(), Msg: fmt.Sprintf("! needs a condition, got a %s", x.typ())}
		}
		return &not{x: x, c: op.col}, nil
	}
	return p.compare()
}

func (p *exprParser) compare() (node, error) {
	l, err := p.primary()
	if err != nil {
		return nil, err
	}
	op := p.peek()
	isContains := op.kind == tIdent && op.text == "contains"
	if op.kind != tEq && op.kind != tNe && !isContains {
		if l.typ() == tyList {
			return nil, &ExprError{Col: l.col(), Msg: "account.tags can only be used with contains, e.g. account.tags contains 'prod'"}
		}
		return l, nil
	}
	p.next()
	r, err := p.primary()
	if err != nil {
		return nil, err
	}
	if isContains {
		if l.typ() == tyBool {
			return nil, &ExprError{Col: l.col(), Msg: "contains needs account.tags or a string on its left, got a condition"}
		}
		if r.typ() != tyString {
			return nil, &ExprError{Col: r.col(), Msg: fmt.Sprintf("contains needs a string on its right, got a %s", r.typ())}
		}
		return &contains{l: l, r: r, c: l.col()}, nil
	}
	if l.typ() == tyList || r.typ() == tyList {
		n := l
		if r.typ() == tyList {
			n = r
		}
		return nil, &ExprError{Col: n.col(), Msg: "account.tags can only be used with contains, e.g. account.tags contains 'prod'"}
	}
	if l.typ() != r.typ() {
		return nil, &ExprError{Col: r.col(), Msg: fmt.Sprintf("%s compares a %s with a %s", op.text, l.typ(), r.typ())}
	}
	if err := checkStatusLiteral(l, r); err != nil {
		return nil, err
	}
	if err := checkStatusLiteral(r, l); err != nil {
		return nil, err
	}
	return &compare{neg: op.kind == tNe, l: l, r: r, c: l.col()}, nil
}

// checkStatusLiteral catches steps.x.status == "okay".
func checkStatusLiteral(v, lit node) error {
	sv, ok1 := v.(*variable)
	sl, ok2 := lit.(*literal)
	if !ok1 || !ok2 || sv.kind != vStep {
		return nil
	}
	if s, _ := sl.v.(string); !slices.Contains(StepStatuses, s) {
		return &ExprError{Col: sl.c, Msg: fmt.Sprintf("unknown step status %q (known: %s)", s, strings.Join(StepStatuses, ", "))}
	}
	return nil
}

func (p *exprParser) primary() (node, error) {
	t := p.next()
	switch t.kind {
	case tLParen:
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tRParen {
			return nil, &ExprError{Col: c.col, Msg: fmt.Sprintf("want ), got %s", c)}
		}
		return n, nil
	case tString:
		return &literal{v: t.text, c: t.col}, nil
	case tIdent:
		switch t.text {
		case "true":
			return &literal{v: true, c: t.col}, nil
		case "false":
			return &literal{v: false, c: t.col}, nil
		case "contains":
			return nil, &ExprError{Col: t.col, Msg: "contains needs a value on its left"}
		}
		return p.variable(t)
	case tEOF:
		return nil, &ExprError{Col: t.col, Msg: "unexpected end of expression"}
	}
	return nil, &ExprError{Col: t.col, Msg: fmt.Sprintf("unexpected %s", t)}
}

const knownVars = "inputs.NAME, account.name, account.exchange, account.tags, steps.ID.status"

func (p *exprParser) variable(t token) (node, error) {
	parts := strings.Split(t.text, ".")
	bad := func(msg string) error { return &ExprError{Col: t.col, Msg: msg} }
	switch {
	case parts[0] == "inputs" && len(parts) == 2 && parts[1] != "":
		if !slices.Contains(p.sc.inputs, parts[1]) {
			return nil, bad(fmt.Sprintf("inputs.%s: no input %q is declared%s", parts[1], parts[1], declared(p.sc.inputs)))
		}
		return &variable{kind: vInput, name: parts[1], c: t.col}, nil
	case parts[0] == "account" && len(parts) == 2 && (parts[1] == "name" || parts[1] == "exchange"):
		return &variable{kind: vAccount, name: parts[1], c: t.col}, nil
	case parts[0] == "account" && len(parts) == 2 && parts[1] == "tags":
		return &variable{kind: vTags, c: t.col}, nil
	case parts[0] == "steps" && len(parts) == 3 && parts[2] == "status" && parts[1] != "":
		id := parts[1]
		if !slices.Contains(p.sc.steps, id) {
			if slices.Contains(p.sc.later, id) {
				return nil, bad(fmt.Sprintf("steps.%s: a condition can only refer to earlier steps", id))
			}
			return nil, bad(fmt.Sprintf("steps.%s: no earlier step has id %q", id, id))
		}
		if !slices.Contains(p.refs, id) {
			p.refs = append(p.refs, id)
		}
		return &variable{kind: vStep, name: id, c: t.col}, nil
	}
	return nil, bad(fmt.Sprintf("unknown variable %q (known: %s)", t.text, knownVars))
}

func declared(names []string) string {
	if len(names) == 0 {
		return " (the playbook declares no inputs)"
	}
	return " (declared: " + strings.Join(names, ", ") + ")"
}

// ---- AST ----

type exprType int

const (
	tyBool exprType = iota
	tyString
	tyList
)

func (t exprType) String() string {
	switch t {
	case tyBool:
		return "condition"
	case tyString:
		return "string"
	}
	return "list"
}

type node interface {
	typ() exprType
	col() int
}

type literal struct {
	v any // string or bool
	c int
}

type variableKind int

const (
	vInput variableKind = iota
	vAccount
	vTags
	vStep
)

type variable struct {
	kind variableKind
	name string
	c    int
}

type not struct {
	x node
	c int
}

type logic struct {
	op   tokKind // tAnd or tOr
	l, r node
	c    int
}

type compare struct {
	neg  bool
	l, r node
	c    int
}

type contains struct {
	l, r node
	c    int
}

func (n *literal) typ() exprType {
	if _, ok := n.v.(bool); ok {
		return tyBool
	}
	return tyString
}

func (n *variable) typ() exprType {
	if n.kind == vTags {
		return tyList
	}
	return tyString
}

func (n *not) typ() exprType      { return tyBool }
func (n *logic) typ() exprType    { return tyBool }
func (n *compare) typ() exprType  { return tyBool }
func (n *contains) typ() exprType { return tyBool }
func (n *literal) col() int       { return n.c }
func (n *variable) col() int      { return n.c }
func (n *not) col() int           { return n.c }
func (n *logic) col() int         { return n.c }
func (n *compare) col() int       { return n.c }
func (n *contains) col() int      { return n.c }

// evalNode evaluates n. With partial set, step statuses are unknown and
// known reports whether the value is determined anyway (false && x is
// false whatever x is). Without partial, known is always true. The parser
// has type-checked the tree, so the type assertions hold.
func evalNode(n node, v Vars, partial bool) (val any, known bool) {
	switch n := n.(type) {
	case *literal:
		return n.v, true
	case *variable:
		switch n.kind {
		case vInput:
			return v.Inputs[n.name], true
		case vAccount:
			if n.name == "name" {
				return v.Account.Name, true
			}
			return v.Account.Exchange, true
		case vTags:
			return v.Account.Tags, true
		case vStep:
			if partial {
				return "", false
			}
			if s, ok := v.Steps[n.name]; ok {
				return s, true
			}
			return "skipped", true
		}
	case *not:
		x, k := evalNode(n.x, v, partial)
		return !x.(bool), k
	case *logic:
		l, lk := evalNode(n.l, v, partial)
		lb := l.(bool)
		// short-circuit when the left side decides
		if lk && lb == (n.op == tOr) {
			return lb, true
		}
		r, rk := evalNode(n.r, v, partial)
		rb := r.(bool)
		if rk && rb == (n.op == tOr) {
			return rb, true
		}
		if n.op == tOr {
			return lb || rb, lk && rk
		}
		return lb && rb, lk && rk
	case *compare:
		l, lk := evalNode(n.l, v, partial)
		r, rk := evalNode(n.r, v, partial)
		return (l == r) != n.neg, lk && rk
	case *contains:
		l, lk := evalNode(n.l, v, partial)
		r, rk := evalNode(n.r, v, partial)
		rs, _ := r.(string)
		switch l := l.(type) {
		case []string:
			return slices.Contains(l, rs), lk && rk
		case string:
			return strings.Contains(l, rs), lk && rk
		}
		return false, lk && rk
	}
	panic(fmt.Sprintf("playbooks: unknown expression node %T", n))
}
