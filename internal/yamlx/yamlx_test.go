package yamlx

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-multierror"
	"go.yaml.in/yaml/v3"
)

func TestDiagnosticsErr(t *testing.T) {
	var d Diagnostics
	if err := d.Err(); err != nil {
		t.Fatalf("empty Err() = %v, want nil", err)
	}
	d.AddAt("b.yaml", 1, 1, "third")
	d.AddAt("a.yaml", 9, 2, "second %d", 2)
	d.AddAt("a.yaml", 3, 7, "first")
	d.AddAt("a.yaml", 3, 7, "first") // exact duplicate: dropped
	d.Add("a.yaml", nil, "no position")
	if got, want := d.Len(), 5; got != want {
		t.Errorf("Len() = %d, want %d", got, want)
	}
	err := d.Err()
	var me *multierror.Error
	if !errors.As(err, &me) {
		t.Fatalf("Err() is %T, want *multierror.Error", err)
	}
	want := "a.yaml: no position\na.yaml:3:7: first\na.yaml:9:2: second 2\nb.yaml:1:1: third"
	if got := err.Error(); got != want {
		t.Errorf("Err().Error() =\n%s\nwant\n%s", got, want)
	}
	for i, e := range me.Errors {
		if _, ok := e.(*Diagnostic); !ok {
			t.Errorf("element %d is %T, want *Diagnostic", i, e)
		}
	}
}

func TestDiagnosticsPrefix(t *testing.T) {
	var d Diagnostics
	d.AddAt("f", 1, 1, "before")
	n := d.Len()
	d.AddAt("f", 2, 1, "one")
	d.AddAt("f", 3, 1, "two")
	d.Prefix(n, "step x")
	want := "f:1:1: before\nf:2:1: step x: one\nf:3:1: step x: two"
	if got := d.Err().Error(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDiagnosticsMerge(t *testing.T) {
	var a Diagnostics
	a.AddAt("x.yaml", 2, 3, "inner")
	var b Diagnostics
	b.Merge("y.yaml", a.Err())
	b.Merge("y.yaml", errors.New("plain"))
	b.Merge("y.yaml", nil)
	want := "x.yaml:2:3: inner\ny.yaml: plain"
	if got := b.Err().Error(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestParseRejects(t *testing.T) {
	deep := strings.Repeat("a:\n", 0)
	for i := 0; i < 70; i++ {
		deep += strings.Repeat("  ", i) + "k:\n"
	}
	deep += strings.Repeat("  ", 70) + "v: 1\n"
	laughs := `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`
	var manyScalarAliases strings.Builder
	manyScalarAliases.WriteString("x: &x 1\nl: [")
	for i := 0; i < 200; i++ {
		manyScalarAliases.WriteString("*x,")
	}
	manyScalarAliases.WriteString("]\n")

	tests := []struct {
		name string
		data string
		lim  Limits
		want string
	}{
		{"huge", "a: " + strings.Repeat("x", 10<<20) + "\n", Limits{}, "f.yaml: file is too large (10485764 bytes, limit 1048576)"},
		{"custom size limit", "a: 12345\n", Limits{MaxBytes: 4}, "f.yaml: file is too large (9 bytes, limit 4)"},
		{"nul", "a: 1\nb: x\x00y\n", Limits{}, "f.yaml:2:5: binary input (NUL byte) is not YAML"},
		{"invalid utf8", "a: 1\nbb: \xff\xfe\n", Limits{}, "f.yaml:2:5: invalid UTF-8: not a text file"},
		{"unclosed flow list", "a: 1\nb: [1, 2\nc: 3\n", Limits{}, "f.yaml:2: yaml: did not find expected ',' or ']' (at or after this line)"},
		{"bad block indent", "a: 1\nl:\n  - x\n y: 2\n", Limits{}, "f.yaml:4: yaml: did not find expected key (at or after this line)"},
		{"tab indentation", "a:\n\tb: 1\n", Limits{}, "f.yaml:2: yaml: found character that cannot start any token"},
		{"empty", "", Limits{}, "f.yaml: empty document: want a mapping"},
		{"comment only", "# nothing\n", Limits{}, "f.yaml: empty document: want a mapping"},
		{"top level list", "- a\n- b\n", Limits{}, "f.yaml:1:1: top level: want a mapping, got a list"},
		{"top level scalar", "hello\n", Limits{}, `f.yaml:1:1: top level: want a mapping, got "hello"`},
		{"two documents", "a: 1\n---\nb: 2\n", Limits{}, "f.yaml:2:1: more than one YAML document: want exactly one"},
		{"too deep", deep, Limits{}, "f.yaml:65:129: nesting deeper than 64 levels"},
		{"deep flow", "a: " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "\n", Limits{}, "f.yaml:1:67: nesting deeper than 64 levels"},
		{"deeper than the parser allows", "a: " + strings.Repeat("[", 20000) + "\n", Limits{}, "f.yaml: yaml: exceeded max depth of 10000"},
		{"custom depth", "a: {b: {c: 1}}\n", Limits{MaxDepth: 2}, "f.yaml:1:8: nesting deeper than 2 levels"},
		{"billion laughs", laughs, Limits{}, "f.yaml:2:8: alias *a refers to a mapping or list: only aliases to plain values are allowed"},
		{"too many aliases", manyScalarAliases.String(), Limits{}, "f.yaml:2:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			root, err := Parse("f.yaml", []byte(tt.data), tt.lim)
			if el := time.Since(start); el > 2*time.Second {
				t.Errorf("took %s, want a fast rejection", el)
			}
			if err == nil {
				t.Fatalf("Parse() = %v, nil; want error %q", root, tt.want)
			}
			if root != nil {
				t.Errorf("root = %v, want nil on error", root)
			}
			got := strings.SplitN(err.Error(), "\n", 2)[0]
			if !strings.HasPrefix(got, tt.want) {
				t.Errorf("error = %q, want prefix %q", got, tt.want)
			}
		})
	}
}

func TestParseSyntaxErrorKeepsLine(t *testing.T) {
	_, err := Parse("f.yaml", []byte("a: 1\nb: 2\n  c: 3\n"), Limits{})
	var me *multierror.Error
	if !errors.As(err, &me) || len(me.Errors) != 1 {
		t.Fatalf("err = %v, want one diagnostic", err)
	}
	d := me.Errors[0].(*Diagnostic)
	if d.Line != 3 {
		t.Errorf("line = %d, want 3", d.Line)
	}
	if !strings.HasPrefix(d.Msg, "yaml: ") {
		t.Errorf("msg = %q, want a yaml: prefix", d.Msg)
	}
}

func TestParseScalarAliasInlined(t *testing.T) {
	root, err := Parse("f.yaml", []byte("a: &x hello\nb: *x\n"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var d Diagnostics
	kvs := Mapping("f.yaml", root, []string{"a", "b"}, &d)
	if len(kvs) != 2 {
		t.Fatalf("got %d pairs, want 2", len(kvs))
	}
	v := kvs[1].Value
	if v.Kind != yaml.ScalarNode || v.Value != "hello" || v.Line != 2 || v.Column != 4 {
		t.Errorf("b = kind %v %q at %d:%d, want scalar \"hello\" at 2:4", v.Kind, v.Value, v.Line, v.Column)
	}
}

func TestParseAccepts(t *testing.T) {
	// A document just under the size limit parses.
	data := "a: " + strings.Repeat("x", 1000) + "\n"
	root, err := Parse("f.yaml", []byte(data), Limits{MaxBytes: len(data)})
	if err != nil {
		t.Fatalf("Parse() error = %v, want nil", err)
	}
	if root.Kind != yaml.MappingNode {
		t.Errorf("root kind = %v, want mapping", root.Kind)
	}
}

func parseOne(t *testing.T, src string) *yaml.Node {
	t.Helper()
	root, err := Parse("f.yaml", []byte(src), Limits{})
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	return root.Content[1]
}

func TestMapping(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		known    []string
		wantKeys string
		wantErr  string
	}{
		{"ok", "v: {a: 1, b: 2}", []string{"a", "b"}, "a,b", ""},
		{"order kept", "v: {b: 1, a: 2}", nil, "b,a", ""},
		{"null is empty", "v:", []string{"a"}, "", ""},
		{"unknown", "v:\n  a: 1\n  foo: 2\n", []string{"a", "b", "c"}, "a", `f.yaml:3:3: unknown key "foo" (known: a, b, c)`},
		{"duplicate", "v:\n  a: 1\n  a: 2\n", nil, "a", `f.yaml:3:3: duplicate key "a" (first at line 2)`},
		{"not a mapping", "v: [1]", nil, "", "f.yaml:1:4: want a mapping, got a list"},
		{"scalar", "v: x", nil, "", `f.yaml:1:4: want a mapping, got "x"`},
		{"complex key", "v: {[1]: 2}", nil, "", "f.yaml:1:5: mapping key: want a plain value, got a list"},
		{"merge key", "x: &x 1\nv: {<<: *x}", nil, "", "f.yaml:2:5: merge keys (<<) are not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Diagnostics
			kvs := Mapping("f.yaml", parseOneLast(t, tt.src), tt.known, &d)
			var keys []string
			for _, kv := range kvs {
				keys = append(keys, kv.Key)
			}
			if got := strings.Join(keys, ","); got != tt.wantKeys {
				t.Errorf("keys = %q, want %q", got, tt.wantKeys)
			}
			checkErr(t, &d, tt.wantErr)
		})
	}
}

// parseOneLast returns the value of the last top-level key.
func parseOneLast(t *testing.T, src string) *yaml.Node {
	t.Helper()
	root, err := Parse("f.yaml", []byte(src), Limits{})
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	return root.Content[len(root.Content)-1]
}

func checkErr(t *testing.T, d *Diagnostics, want string) {
	t.Helper()
	err := d.Err()
	switch {
	case want == "" && err != nil:
		t.Errorf("error = %v, want none", err)
	case want != "" && err == nil:
		t.Errorf("no error, want %q", want)
	case want != "" && err.Error() != want:
		t.Errorf("error = %q, want %q", err.Error(), want)
	}
}

func TestScalars(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		decode  func(n *yaml.Node, d *Diagnostics) (any, bool)
		want    any
		wantErr string
	}{
		{"string", "v: hello", str, "hello", ""},
		{"string number text", "v: 080", str, "080", ""},
		{"string null", "v:", str, "", "f.yaml:1:3: want a string, got nothing (null)"},
		{"string list", "v: [a]", str, "", "f.yaml:1:4: want a string, got a list"},
		{"bool true", "v: true", boolean, true, ""},
		{"bool false", "v: false", boolean, false, ""},
		{"bool abc", "v: abc", boolean, false, `f.yaml:1:4: want true or false, got "abc"`},
		{"bool yes", "v: yes", boolean, false, `f.yaml:1:4: want true or false, got "yes"`},
		{"bool quoted", `v: "true"`, boolean, false, `f.yaml:1:4: want true or false, got "true"`},
		{"int", "v: 42", integer, 42, ""},
		{"int negative", "v: -3", integer, -3, ""},
		{"int float", "v: 1.5", integer, 0, `f.yaml:1:4: want an integer, got "1.5"`},
		{"int text", "v: three", integer, 0, `f.yaml:1:4: want an integer, got "three"`},
		{"duration", "v: 1m30s", duration, 90 * time.Second, ""},
		{"duration no unit", "v: 30", duration, time.Duration(0), `f.yaml:1:4: want a duration such as 30s or 5m, got "30"`},
		{"duration zero", "v: 0s", duration, time.Duration(0), `f.yaml:1:4: duration must be positive, got "0s"`},
		{"duration negative", "v: -5s", duration, time.Duration(0), `f.yaml:1:4: duration must be positive, got "-5s"`},
		{"duration list", "v: [5s]", duration, time.Duration(0), "f.yaml:1:4: want a duration such as 30s or 5m, got a list"},
		{"list", "v: [a, b]", list, "a,b", ""},
		{"list block", "v:\n  - a\n  - 1\n", list, "a,1", ""},
		{"list empty", "v: []", list, "", ""},
		{"list lone scalar", "v: spot, margin", list, "", `f.yaml:1:4: want a list of strings, got "spot, margin"`},
		{"list null", "v:", list, "", "f.yaml:1:3: want a list of strings, got nothing (null)"},
		{"list nested", "v: [a, [b]]", list, "a", "f.yaml:1:8: list item: want a string, got a list"},
		{"map", "v: {a: x, b: y}", smap, "a=x,b=y", ""},
		{"map bad value", "v: {a: [x]}", smap, "", `f.yaml:1:8: value of "a": want a string, got a list`},
		{"map dup", "v: {a: x, a: y}", smap, "a=x", `f.yaml:1:11: duplicate key "a" (first at line 1)`},
		{"map list", "v: [a]", smap, "", "f.yaml:1:4: want a mapping of strings, got a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Diagnostics
			got, ok := tt.decode(parseOne(t, tt.src), &d)
			if ok != (tt.wantErr == "") {
				t.Errorf("ok = %v, want %v", ok, tt.wantErr == "")
			}
			if got != tt.want {
				t.Errorf("value = %#v, want %#v", got, tt.want)
			}
			checkErr(t, &d, tt.wantErr)
		})
	}
}

func str(n *yaml.Node, d *Diagnostics) (any, bool)      { return String("f.yaml", n, d) }
func boolean(n *yaml.Node, d *Diagnostics) (any, bool)  { return Bool("f.yaml", n, d) }
func integer(n *yaml.Node, d *Diagnostics) (any, bool)  { return Int("f.yaml", n, d) }
func duration(n *yaml.Node, d *Diagnostics) (any, bool) { return Duration("f.yaml", n, d) }
func list(n *yaml.Node, d *Diagnostics) (any, bool) {
	l, ok := StringList("f.yaml", n, d)
	return strings.Join(l, ","), ok
}
func smap(n *yaml.Node, d *Diagnostics) (any, bool) {
	m, ok := StringMap("f.yaml", n, d)
	var parts []string
	for _, k := range []string{"a", "b"} {
		if v, set := m[k]; set {
			parts = append(parts, fmt.Sprintf("%s=%s", k, v))
		}
	}
	return strings.Join(parts, ","), ok
}
