// Package yamlx is strict, safe YAML with positions, for panicbutton's
// configuration files (playbooks, the accounts file).
//
// Parse turns bytes into a *yaml.Node tree, refusing oversized input, binary
// input, excessive nesting, multiple documents and alias abuse ("billion
// laughs") before any caller walks the tree:
//
//   - input larger than Limits.MaxBytes (default 1 MiB) is refused before
//     the YAML parser sees it;
//   - input containing NUL bytes or invalid UTF-8 is refused as binary;
//   - nesting deeper than Limits.MaxDepth (default 64) is refused;
//   - an alias (*name) may only refer to a scalar, and a document may hold
//     at most Limits.MaxAliases (default 100) aliases. Aliases to mappings or
//     sequences are refused, so no tree can expand exponentially. Parse
//     replaces every accepted alias by a copy of its scalar (keeping the
//     alias's position), so the helpers never see an alias node;
//   - merge keys (<<) are not supported and are reported by Mapping as
//     unknown keys.
//
// The helpers decode one node each, report every problem into a
// *Diagnostics (with the file:line:col of the offending node) and return
// the typed value plus ok=false when the node was unusable, so a caller can
// keep going and report every problem of a file at once:
//
//   - Mapping: the key/value pairs of a mapping in file order; reports a
//     non-mapping node, non-scalar keys, duplicate keys and (when known is
//     non-nil) unknown keys, at the key's position. A null node (an empty
//     value, "key:") is an empty mapping.
//   - String: any non-null scalar, as written (so "port: 80" gives "80").
//   - Bool: only true or false (YAML 1.2; "yes"/"no" and quoted strings are
//     refused).
//   - Int: an integer scalar.
//   - Duration: a Go time.ParseDuration string ("30s", "5m", "1h30m"); it
//     must be positive.
//   - StringList: a sequence of non-null scalars. A lone scalar is NOT
//     accepted: write [x] or a one-item block list. This catches
//     "products: spot, margin" (one string, not a list).
//   - StringMap: a mapping of scalars to non-null scalars.
//
// IsNull and Describe help with custom checks ("want X, got " +
// Describe(n)).
//
// Diagnostics collects problems (Add at a node, AddAt a position, Merge
// another error, Prefix the messages a helper just added with context such
// as "step freeze: timeout"). Diagnostics.Err returns nil or a
// *multierror.Error whose elements are *Diagnostic sorted by position, and
// whose Error() prints one "file:line:col: msg" per line, with no header.
// A YAML syntax error has a line but no column: it prints as
// "file:line: msg".
package yamlx

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-multierror"
	"go.yaml.in/yaml/v3"
)

// Default limits used for zero fields of Limits.
const (
	DefaultMaxBytes   = 1 << 20
	DefaultMaxDepth   = 64
	DefaultMaxAliases = 100
)

// Limits bounds what Parse accepts. Zero fields take the defaults.
type Limits struct {
	MaxBytes   int // input size in bytes
	MaxDepth   int // nesting of mappings and sequences
	MaxAliases int // number of aliases (each must refer to a scalar)
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxAliases <= 0 {
		l.MaxAliases = DefaultMaxAliases
	}
	return l
}

// Diagnostic is one problem at a position. Line and Col are 1-based; 0
// means unknown (YAML syntax errors carry a line but no column).
type Diagnostic struct {
	File      string
	Line, Col int
	Msg       string
}

// Error returns "file:line:col: msg" (omitting unknown parts).
func (d *Diagnostic) Error() string {
	var b strings.Builder
	b.WriteString(d.File)
	if d.Line > 0 {
		b.WriteString(":" + strconv.Itoa(d.Line))
		if d.Col > 0 {
			b.WriteString(":" + strconv.Itoa(d.Col))
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(d.Msg)
	return b.String()
}

// Diagnostics collects problems. The zero value is ready to use.
type Diagnostics struct {
	list []*Diagnostic
}

// Add reports a problem at node n (n may be nil: no position).
func (d *Diagnostics) Add(file string, n *yaml.Node, format string, args ...any) {
	line, col := 0, 0
	if n != nil {
		line, col = n.Line, n.Column
	}
	d.AddAt(file, line, col, format, args...)
}

// AddAt reports a problem at an explicit position.
func (d *Diagnostics) AddAt(file string, line, col int, format string, args ...any) {
	d.list = append(d.list, &Diagnostic{File: file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)})
}

// Merge adds the problems of err: the elements of a *multierror.Error and
// *Diagnostic values keep their positions; any other error is added with
// file and no position. A nil err adds nothing.
func (d *Diagnostics) Merge(file string, err error) {
	if err == nil {
		return
	}
	var me *multierror.Error
	if errors.As(err, &me) {
		for _, e := range me.Errors {
			d.Merge(file, e)
		}
		return
	}
	var diag *Diagnostic
	if errors.As(err, &diag) {
		c := *diag
		d.list = append(d.list, &c)
		return
	}
	d.AddAt(file, 0, 0, "%s", err.Error())
}

// Prefix prepends "prefix: " to the message of every problem added since
// Len() was from, so a caller can say where a helper's problems belong:
//
//	n := d.Len()
//	yamlx.Duration(file, node, &d)
//	d.Prefix(n, "step freeze: timeout")
func (d *Diagnostics) Prefix(from int, prefix string) {
	for i := max(from, 0); i < len(d.list); i++ {
		d.list[i].Msg = prefix + ": " + d.list[i].Msg
	}
}

// Len returns the number of problems.
func (d *Diagnostics) Len() int { return len(d.list) }

// List returns the problems sorted by position.
func (d *Diagnostics) List() []*Diagnostic {
	out := append([]*Diagnostic(nil), d.list...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return out
}

// Err returns nil when there are no problems, otherwise a *multierror.Error
// whose elements are the *Diagnostic values sorted by position (exact
// duplicates removed) and whose Error() is one problem per line.
func (d *Diagnostics) Err() error {
	if len(d.list) == 0 {
		return nil
	}
	me := &multierror.Error{ErrorFormat: formatLines}
	seen := map[string]bool{}
	for _, diag := range d.List() {
		s := diag.Error()
		if seen[s] {
			continue
		}
		seen[s] = true
		me.Errors = append(me.Errors, diag)
	}
	return me
}

func formatLines(es []error) string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

var syntaxErrRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Parse parses a single YAML document whose top level must be a mapping and
// returns that mapping node. Every refusal is a Diagnostics error (see Err)
// with as precise a position as is known.
func Parse(file string, data []byte, lim Limits) (root *yaml.Node, err error) {
	lim = lim.withDefaults()
	var d Diagnostics
	if len(data) > lim.MaxBytes {
		d.AddAt(file, 0, 0, "file is too large (%d bytes, limit %d)", len(data), lim.MaxBytes)
		return nil, d.Err()
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		line, col := lineCol(data, i)
		d.AddAt(file, line, col, "binary input (NUL byte) is not YAML")
		return nil, d.Err()
	}
	if !utf8.Valid(data) {
		line, col := lineCol(data, invalidUTF8(data))
		d.AddAt(file, line, col, "invalid UTF-8: not a text file")
		return nil, d.Err()
	}
	defer func() {
		// The YAML library should never panic on bad input; if it does,
		// report it as a problem of this file rather than crash.
		if r := recover(); r != nil {
			root = nil
			var dd Diagnostics
			dd.AddAt(file, 0, 0, "cannot parse YAML: %v", r)
			err = dd.Err()
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.AddAt(file, 0, 0, "empty document: want a mapping")
			return nil, d.Err()
		}
		addYAMLError(&d, file, err)
		return nil, d.Err()
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		addYAMLError(&d, file, err)
		return nil, d.Err()
	default:
		d.Add(file, &extra, "more than one YAML document: want exactly one")
		return nil, d.Err()
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		d.AddAt(file, 0, 0, "empty document: want a mapping")
		return nil, d.Err()
	}
	root = doc.Content[0]
	w := walker{file: file, lim: lim, d: &d}
	w.walk(root, 1) // the top-level mapping is level 1
	if d.Len() > 0 {
		return nil, d.Err()
	}
	if root.Kind != yaml.MappingNode {
		d.Add(file, root, "top level: want a mapping, got %s", describe(root))
		return nil, d.Err()
	}
	return root, nil
}

// parserProblems are the problems the YAML library reports from its
// parser (not its scanner). For them it prints a 0-based line: the line
// where the enclosing collection starts (or of the problem itself), so the
// problem is at or after line+1.
var parserProblems = map[string]bool{
	"did not find expected <document start>": true,
	"did not find expected node content":     true,
	"did not find expected key":              true,
	"did not find expected '-' indicator":    true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
}

func addYAMLError(d *Diagnostics, file string, err error) {
	msg := err.Error()
	if m := syntaxErrRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		if parserProblems[m[2]] {
			d.AddAt(file, line+1, 0, "yaml: %s (at or after this line)", m[2])
			return
		}
		d.AddAt(file, line, 0, "yaml: %s", m[2])
		return
	}
	d.AddAt(file, 0, 0, "%s", msg)
}

// walker enforces depth and alias limits and inlines scalar aliases.
type walker struct {
	file    string
	lim     Limits
	d       *Diagnostics
	aliases int
	stop    bool
}

func (w *walker) walk(n *yaml.Node, depth int) {
	if w.stop || n == nil {
		return
	}
	if (n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode) && depth > w.lim.MaxDepth {
		w.d.Add(w.file, n, "nesting deeper than %d levels", w.lim.MaxDepth)
		w.stop = true
		return
	}
	switch n.Kind {
	case yaml.AliasNode:
		w.aliases++
		if w.aliases > w.lim.MaxAliases {
			w.d.Add(w.file, n, "too many aliases (limit %d)", w.lim.MaxAliases)
			w.stop = true
			return
		}
		t := n.Alias
		if t == nil || t.Kind != yaml.ScalarNode {
			w.d.Add(w.file, n, "alias *%s refers to a mapping or list: only aliases to plain values are allowed", n.Value)
			return
		}
		line, col := n.Line, n.Column
		*n = *t
		n.Line, n.Column = line, col
		n.Anchor = ""
	case yaml.MappingNode, yaml.SequenceNode:
		for _, c := range n.Content {
			w.walk(c, depth+1)
		}
	}
}

func lineCol(data []byte, off int) (line, col int) {
	line = 1 + bytes.Count(data[:off], []byte("\n"))
	start := bytes.LastIndexByte(data[:off], '\n') + 1
	col = 1 + utf8.RuneCount(data[start:off])
	return line, col
}

func invalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(data)
}

// KV is one key/value pair of a mapping.
type KV struct {
	Key     string
	KeyNode *yaml.Node
	Value   *yaml.Node
}

func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 8; i++ {
		n = n.Alias
	}
	return n
}

// IsNull reports whether n is absent or a YAML null ("", "~", "null").
func IsNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// describe names what a node is, for "want X, got Y" messages.
func describe(n *yaml.Node) string {
	n = resolve(n)
	switch {
	case n == nil || IsNull(n):
		return "nothing (null)"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "an unexpected node"
}

// Describe names what a node is ("a mapping", "a list", `"abc"`,
// "nothing (null)"), for messages of the form "want X, got Y".
func Describe(n *yaml.Node) string { return describe(n) }

// Mapping returns the pairs of mapping n in file order. It reports a node
// that is not a mapping, non-scalar keys, duplicate keys (the later ones are
// dropped) and, when known is non-nil, keys not in known (dropped too). A
// null node is an empty mapping.
func Mapping(file string, n *yaml.Node, known []string, d *Diagnostics) []KV {
	n = resolve(n)
	if IsNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.Add(file, n, "want a mapping, got %s", describe(n))
		return nil
	}
	var out []KV
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.Add(file, k, "mapping key: want a plain value, got %s", describe(k))
			continue
		}
		if k.Tag == "!!merge" {
			d.Add(file, k, "merge keys (<<) are not supported")
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			d.Add(file, k, "duplicate key %q (first at line %d)", k.Value, prev.Line)
			continue
		}
		seen[k.Value] = k
		if known != nil && !contains(known, k.Value) {
			d.Add(file, k, "unknown key %q (known: %s)", k.Value, strings.Join(known, ", "))
			continue
		}
		out = append(out, KV{Key: k.Value, KeyNode: k, Value: v})
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// String returns the text of a non-null scalar.
func String(file string, n *yaml.Node, d *Diagnostics) (string, bool) {
	n = resolve(n)
	if IsNull(n) || n.Kind != yaml.ScalarNode {
		d.Add(file, n, "want a string, got %s", describe(n))
		return "", false
	}
	return n.Value, true
}

// Bool returns a true/false scalar.
func Bool(file string, n *yaml.Node, d *Diagnostics) (bool, bool) {
	n = resolve(n)
	if n != nil && n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		var b bool
		if err := n.Decode(&b); err == nil {
			return b, true
		}
	}
	d.Add(file, n, "want true or false, got %s", describe(n))
	return false, false
}

// Int returns an integer scalar.
func Int(file string, n *yaml.Node, d *Diagnostics) (int, bool) {
	n = resolve(n)
	if n != nil && n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
		var i int
		if err := n.Decode(&i); err == nil {
			return i, true
		}
	}
	d.Add(file, n, "want an integer, got %s", describe(n))
	return 0, false
}

// Duration returns a positive duration written in Go syntax ("30s", "5m").
func Duration(file string, n *yaml.Node, d *Diagnostics) (time.Duration, bool) {
	n = resolve(n)
	if IsNull(n) || n.Kind != yaml.ScalarNode {
		d.Add(file, n, "want a duration such as 30s or 5m, got %s", describe(n))
		return 0, false
	}
	dur, err := time.ParseDuration(n.Value)
	if err != nil {
		d.Add(file, n, "want a duration such as 30s or 5m, got %q", n.Value)
		return 0, false
	}
	if dur <= 0 {
		d.Add(file, n, "duration must be positive, got %q", n.Value)
		return 0, false
	}
	return dur, true
}

// StringList returns a sequence of non-null scalars. A lone scalar is
// refused (see the package comment).
func StringList(file string, n *yaml.Node, d *Diagnostics) ([]string, bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		d.Add(file, n, "want a list of strings, got %s", describe(n))
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	ok := true
	for _, c := range n.Content {
		c = resolve(c)
		if IsNull(c) || c.Kind != yaml.ScalarNode {
			d.Add(file, c, "list item: want a string, got %s", describe(c))
			ok = false
			continue
		}
		out = append(out, c.Value)
	}
	return out, ok
}

// StringMap returns a mapping of scalars to non-null scalars.
func StringMap(file string, n *yaml.Node, d *Diagnostics) (map[string]string, bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		d.Add(file, n, "want a mapping of strings, got %s", describe(n))
		return nil, false
	}
	before := d.Len()
	out := map[string]string{}
	for _, kv := range Mapping(file, n, nil, d) {
		v := resolve(kv.Value)
		if IsNull(v) || v.Kind != yaml.ScalarNode {
			d.Add(file, v, "value of %q: want a string, got %s", kv.Key, describe(v))
			continue
		}
		out[kv.Key] = v.Value
	}
	return out, d.Len() == before
}
