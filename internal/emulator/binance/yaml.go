package binance

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// posError is a state error at a YAML position.
type posError struct {
	file      string
	line, col int
	msg       string
}

func (e *posError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.file, e.line, e.col, e.msg)
}

func errAt(file string, n *yaml.Node, format string, args ...any) error {
	line, col := 0, 0
	if n != nil {
		line, col = n.Line, n.Column
	}
	return &posError{file: file, line: line, col: col, msg: fmt.Sprintf(format, args...)}
}

var yamlTypeErrLine = regexp.MustCompile(`^line (\d+)(?::(\d+))?: (.*)$`)

// decodeStrict decodes n into out (a pointer to a struct), reporting
// unknown and duplicate keys with their positions.
func decodeStrict(file string, n *yaml.Node, out any) error {
	if err := checkKeys(file, n, reflect.TypeOf(out).Elem()); err != nil {
		return err
	}
	if err := n.Decode(out); err != nil {
		if te, ok := err.(*yaml.TypeError); ok && len(te.Errors) > 0 {
			msg := te.Errors[0]
			if m := yamlTypeErrLine.FindStringSubmatch(msg); m != nil {
				return fmt.Errorf("%s:%s:%s: %s", file, m[1], orOne(m[2]), m[3])
			}
			return errAt(file, n, "%s", msg)
		}
		if m := yamlTypeErrLine.FindStringSubmatch(err.Error()); m != nil {
			return fmt.Errorf("%s:%s:%s: %s", file, m[1], orOne(m[2]), m[3])
		}
		return errAt(file, n, "%v", err)
	}
	return nil
}

func orOne(s string) string {
	if s == "" {
		return "1"
	}
	return s
}

// checkKeys walks n against type t (struct fields with yaml tags, maps,
// slices) and reports the first unknown or duplicate key.
func checkKeys(file string, n *yaml.Node, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if t == reflect.TypeOf(yaml.Node{}) {
		return nil
	}
	if reflect.PointerTo(t).Implements(reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
				return nil
			}
			return errAt(file, n, "want a mapping, got %s", nodeKind(n))
		}
		fields := map[string]reflect.StructField{}
		var names []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if tag == "" || tag == "-" {
				continue
			}
			fields[tag] = f
			names = append(names, tag)
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := fields[k.Value]
			if !ok {
				return errAt(file, k, "unknown field %q (want one of: %s)", k.Value, strings.Join(names, ", "))
			}
			if seen[k.Value] {
				return errAt(file, k, "duplicate field %q", k.Value)
			}
			seen[k.Value] = true
			if err := checkKeys(file, v, f.Type); err != nil {
				return err
			}
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
				return nil
			}
			return errAt(file, n, "want a mapping, got %s", nodeKind(n))
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if seen[k.Value] {
				return errAt(file, k, "duplicate key %q", k.Value)
			}
			seen[k.Value] = true
			if err := checkKeys(file, v, t.Elem()); err != nil {
				return err
			}
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
				return nil
			}
			if t.Elem().Kind() == reflect.String && n.Kind == yaml.ScalarNode {
				return nil // decoded by the field's own rules below
			}
			return errAt(file, n, "want a list, got %s", nodeKind(n))
		}
		for _, c := range n.Content {
			if err := checkKeys(file, c, t.Elem()); err != nil {
				return err
			}
		}
	}
	return nil
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

// Num is a decimal amount written as a YAML number or string ("0.5").
type Num float64

// UnmarshalYAML implements yaml.Unmarshaler.
func (x *Num) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d:%d: want a number, got %s", n.Line, n.Column, nodeKind(n))
	}
	s := strings.ReplaceAll(strings.TrimSpace(n.Value), "_", "")
	if s == "" {
		*x = 0
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("line %d:%d: %q is not a number", n.Line, n.Column, n.Value)
	}
	*x = Num(f)
	return nil
}

// When is a point in time: RFC 3339 ("2026-11-20T10:00:00Z"), a date
// ("2026-11-20"), or a duration relative to the time the state is loaded
// ("-90m", "-3d" meaning days ago).
type When struct {
	set bool
	abs time.Time
	rel time.Duration
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (w *When) UnmarshalYAML(n *yaml.Node) error {
	s := strings.TrimSpace(n.Value)
	if n.Kind != yaml.ScalarNode || s == "" {
		return fmt.Errorf("line %d:%d: want a time", n.Line, n.Column)
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			*w = When{set: true, abs: t}
			return nil
		}
	}
	if strings.HasSuffix(s, "d") {
		if d, err := strconv.ParseFloat(strings.TrimSuffix(s, "d"), 64); err == nil {
			*w = When{set: true, rel: time.Duration(d * float64(24*time.Hour))}
			return nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil {
		*w = When{set: true, rel: d}
		return nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		*w = When{set: true, abs: time.UnixMilli(ms)}
		return nil
	}
	return fmt.Errorf("line %d:%d: %q is not a time (RFC 3339, a date, a Unix time in ms, or a relative duration like -2h or -3d)", n.Line, n.Column, s)
}

// at resolves w against now, or returns def when unset.
func (w When) at(now, def time.Time) time.Time {
	if !w.set {
		return def
	}
	if w.abs.IsZero() {
		return now.Add(w.rel)
	}
	return w.abs
}
