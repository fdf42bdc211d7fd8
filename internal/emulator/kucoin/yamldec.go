package kucoin

import (
	"fmt"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// pos is a position in the state file, filled by the decoder into any
// struct field named At of this type.
type pos struct {
	Line, Col int
}

// decoder is a strict YAML-node decoder: unknown keys, wrong kinds and bad
// scalars are errors that carry file:line:col.
type decoder struct {
	file string
}

// nodeDecoder lets a type decode itself from a node.
type nodeDecoder interface {
	decodeYAML(d *decoder, n *yaml.Node) error
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	posType      = reflect.TypeOf(pos{})
)

func (d *decoder) errf(n *yaml.Node, format string, args ...any) error {
	return fmt.Errorf("%s:%d:%d: %s", d.file, n.Line, n.Column, fmt.Sprintf(format, args...))
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value) error {
	for n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if v.CanAddr() {
		if u, ok := v.Addr().Interface().(nodeDecoder); ok {
			return u.decodeYAML(d, n)
		}
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" && v.Kind() != reflect.String {
		v.Set(reflect.Zero(v.Type()))
		return nil
	}
	if v.Type() == durationType {
		if n.Kind != yaml.ScalarNode {
			return d.errf(n, "expected a duration such as 150ms, got %s", kindName(n))
		}
		if n.Value == "0" {
			v.SetInt(0)
			return nil
		}
		dur, err := time.ParseDuration(n.Value)
		if err != nil {
			return d.errf(n, "invalid duration %q (want e.g. 150ms, 2h)", n.Value)
		}
		v.SetInt(int64(dur))
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		if err := d.decode(n, p.Elem()); err != nil {
			return err
		}
		v.Set(p)
		return nil
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			return d.errf(n, "expected a string, got %s", kindName(n))
		}
		v.SetString(n.Value)
		return nil
	case reflect.Int, reflect.Int64, reflect.Int32:
		if n.Kind != yaml.ScalarNode {
			return d.errf(n, "expected an integer, got %s", kindName(n))
		}
		i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 10, 64)
		if err != nil {
			return d.errf(n, "invalid integer %q", n.Value)
		}
		v.SetInt(i)
		return nil
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode {
			return d.errf(n, "expected true or false, got %s", kindName(n))
		}
		switch strings.ToLower(n.Value) {
		case "true", "yes", "on":
			v.SetBool(true)
		case "false", "no", "off":
			v.SetBool(false)
		default:
			return d.errf(n, "invalid boolean %q", n.Value)
		}
		return nil
	case reflect.Slice:
		if n.Kind == yaml.ScalarNode && v.Type().Elem().Kind() == reflect.String {
			// "a,b,c" is accepted for string lists.
			var parts []string
			for _, p := range strings.Split(n.Value, ",") {
				if p = strings.TrimSpace(p); p != "" {
					parts = append(parts, p)
				}
			}
			v.Set(reflect.ValueOf(parts).Convert(v.Type()))
			return nil
		}
		if n.Kind != yaml.SequenceNode {
			return d.errf(n, "expected a list, got %s", kindName(n))
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			if err := d.decode(c, s.Index(i)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return d.errf(n, "expected a mapping, got %s", kindName(n))
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if seen[k.Value] {
				return d.errf(k, "duplicate key %q", k.Value)
			}
			seen[k.Value] = true
			ev := reflect.New(v.Type().Elem()).Elem()
			if err := d.decode(val, ev); err != nil {
				return err
			}
			m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), ev)
		}
		v.Set(m)
		return nil
	case reflect.Struct:
		return d.decodeStruct(n, v)
	}
	return d.errf(n, "internal: cannot decode into %s", v.Type())
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value) error {
	if n.Kind != yaml.MappingNode {
		return d.errf(n, "expected a mapping, got %s", kindName(n))
	}
	t := v.Type()
	fields := map[string]int{}
	var known []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Type == posType && f.Name == "At" {
			v.Field(i).Set(reflect.ValueOf(pos{Line: n.Line, Col: n.Column}))
			continue
		}
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" || !f.IsExported() {
			continue
		}
		fields[tag] = i
		known = append(known, tag)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		idx, ok := fields[k.Value]
		if !ok {
			return d.errf(k, "unknown field %q (known: %s)", k.Value, strings.Join(known, ", "))
		}
		if seen[k.Value] {
			return d.errf(k, "duplicate field %q", k.Value)
		}
		seen[k.Value] = true
		if err := d.decode(val, v.Field(idx)); err != nil {
			return err
		}
	}
	return nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "an alias"
}

// dec is a decimal amount written as a string ("0.5", "1000").
type dec string

func (x *dec) decodeYAML(d *decoder, n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return d.errf(n, "expected a decimal amount, got %s", kindName(n))
	}
	if _, ok := new(big.Rat).SetString(n.Value); !ok {
		return d.errf(n, "invalid decimal amount %q", n.Value)
	}
	*x = dec(n.Value)
	return nil
}

func (x dec) rat() *big.Rat {
	r, ok := new(big.Rat).SetString(string(x))
	if !ok {
		return new(big.Rat)
	}
	return r
}

// ratString formats r the way KuCoin prints amounts: up to 8 decimals, no
// trailing zeros.
func ratString(r *big.Rat) string {
	s := r.FloatString(8)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

func parseRat(s string) (*big.Rat, bool) {
	if s == "" {
		return nil, false
	}
	return new(big.Rat).SetString(s)
}

func ratFloat(r *big.Rat) float64 {
	f, _ := r.Float64()
	return f
}

func ptrElem(p any) reflect.Value { return reflect.ValueOf(p).Elem() }
