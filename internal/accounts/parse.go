package accounts

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/panicbutton/panicbutton/internal/yamlx"
)

var (
	topKeys    = []string{"accounts"}
	entryKeys  = []string{"name", "exchange", "key_type", "api_key", "secret", "passphrase", "key_version", "tags", "base_url", "futures_base_url", "sub_keys"}
	sourceKeys = []string{"env", "file", "command"}
	subKeyKeys = []string{"sub", "api_key", "passphrase", "secret", "key_type"}

	nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]*$`)
	envRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// LiteralSecretMsg is the message for a credential written as a plain
// value. The value itself is never repeated.
const LiteralSecretMsg = "literal secret values are not allowed in accounts files; use {env: VAR}, {file: PATH} or {command: [argv…]}"

// Load reads and parses the accounts file at path (see Parse).
func Load(path string, exchanges []string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read accounts file: %w", err)
	}
	defer fh.Close()
	// yamlx.Parse refuses anything over its limit; read one byte more so
	// that it can tell.
	data, err := io.ReadAll(io.LimitReader(fh, yamlx.DefaultMaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read accounts file: %w", err)
	}
	return Parse(path, data, exchanges)
}

// Parse parses an accounts file strictly and reports every problem at once
// as a yamlx Diagnostics error ("file:line:col: msg" per line). exchanges
// lists the accepted exchange names (nil: Exchanges).
//
// Defaults are applied: key_type hmac for binance, key_version 3 for
// kucoin, and the kucoin futures_base_url derived from base_url (production
// when base_url is empty or the production host, base_url+"-futures" when
// base_url ends in "/kucoin", as the emulator serves it). Any other kucoin
// base_url needs an explicit futures_base_url, so that futures requests
// never silently go to a different venue than the rest.
func Parse(path string, data []byte, exchanges []string) (*File, error) {
	if exchanges == nil {
		exchanges = Exchanges
	}
	root, err := yamlx.Parse(path, data, yamlx.Limits{})
	if err != nil {
		return nil, err
	}
	p := &parser{file: path, exchanges: exchanges, seen: map[string]int{}}
	f := &File{Path: path}
	var list *yaml.Node
	for _, kv := range yamlx.Mapping(path, root, topKeys, &p.d) {
		list = kv.Value
	}
	switch {
	case list == nil:
		p.d.Add(path, root, "missing required key %q", "accounts")
	case list.Kind != yaml.SequenceNode:
		p.d.Add(path, list, "accounts: want a list of accounts, got %s", kindOf(list))
	case len(list.Content) == 0:
		p.d.Add(path, list, "accounts: at least one account is required")
	default:
		for _, n := range list.Content {
			if e, ok := p.entry(n); ok {
				f.Accounts = append(f.Accounts, e)
			}
		}
	}
	if err := p.d.Err(); err != nil {
		return nil, err
	}
	return f, nil
}

type parser struct {
	file      string
	exchanges []string
	d         yamlx.Diagnostics
	seen      map[string]int // account name → line
}

func (p *parser) add(n *yaml.Node, format string, args ...any) {
	p.d.Add(p.file, n, format, args...)
}

// kindOf names a node without quoting its value (it might be a secret).
func kindOf(n *yaml.Node) string {
	switch {
	case yamlx.IsNull(n):
		return "nothing (null)"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	}
	return "a plain value"
}

// entry parses one account; ok is false when the entry is unusable.
func (p *parser) entry(n *yaml.Node) (Entry, bool) {
	e := Entry{Line: n.Line, Col: n.Column}
	if n.Kind != yaml.MappingNode {
		p.add(n, "account: want a mapping, got %s", kindOf(n))
		return e, false
	}
	before := p.d.Len()
	fields := map[string]yamlx.KV{}
	for _, kv := range yamlx.Mapping(p.file, n, entryKeys, &p.d) {
		fields[kv.Key] = kv
	}
	str := func(key string) (string, *yaml.Node) {
		kv, ok := fields[key]
		if !ok {
			return "", nil
		}
		s, _ := yamlx.String(p.file, kv.Value, &p.d)
		return s, kv.Value
	}

	// name
	if name, node := str("name"); node == nil {
		p.add(n, "missing required key %q", "name")
	} else if name != "" {
		switch {
		case !nameRE.MatchString(name):
			p.add(node, "invalid account name %q: use letters, digits, '.', '_' and '-', starting with a letter or digit", name)
		case p.seen[name] != 0:
			p.add(node, "duplicate account name %q (first at line %d)", name, p.seen[name])
		default:
			p.seen[name] = node.Line
		}
		e.Name = name
	}

	// exchange
	exchangeOK := false
	if ex, node := str("exchange"); node == nil {
		p.add(n, "missing required key %q", "exchange")
	} else if ex != "" {
		switch {
		case len(p.exchanges) == 0:
			p.add(node, "unknown exchange %q (no exchange drivers are registered)", ex)
		case !slices.Contains(p.exchanges, ex):
			p.add(node, "unknown exchange %q (known: %s)", ex, strings.Join(p.exchanges, ", "))
		default:
			exchangeOK = true
		}
		e.Exchange = ex
	}

	// credentials
	e.APIKey = p.source("api_key", fields)
	e.Secret = p.source("secret", fields)
	e.Passphrase = p.source("passphrase", fields)

	// key_type, key_version
	if kt, node := str("key_type"); node != nil {
		switch {
		case exchangeOK && e.Exchange != "binance":
			p.add(fields["key_type"].KeyNode, "key_type is only for binance accounts")
		case kt != "" && !slices.Contains(KeyTypes, kt):
			p.add(node, "unknown key_type %q (known: %s)", kt, strings.Join(KeyTypes, ", "))
		}
		e.KeyType = kt
	}
	if kv, ok := fields["key_version"]; ok {
		v, good := yamlx.Int(p.file, kv.Value, &p.d)
		switch {
		case exchangeOK && e.Exchange != "kucoin":
			p.add(kv.KeyNode, "key_version is only for kucoin accounts")
		case good && (v < 1 || v > 3):
			p.add(kv.Value, "key_version must be 1, 2 or 3, got %d", v)
		}
		e.KeyVersion = v
	}

	// tags
	if kv, ok := fields["tags"]; ok {
		tags, _ := yamlx.StringList(p.file, kv.Value, &p.d)
		for i, t := range tags {
			if !nameRE.MatchString(t) {
				p.add(kv.Value.Content[i], "invalid tag %q: use letters, digits, '.', '_' and '-', starting with a letter or digit", t)
			}
		}
		e.Tags = tags
	}

	// base URLs
	baseURLBad := false
	if u, node := str("base_url"); node != nil && u != "" {
		if msg := checkURL(u); msg != "" {
			p.add(node, "base_url %s", msg)
			baseURLBad = true
		}
		e.BaseURL = strings.TrimRight(u, "/")
	}
	if u, node := str("futures_base_url"); node != nil && u != "" {
		switch {
		case exchangeOK && e.Exchange != "kucoin":
			p.add(fields["futures_base_url"].KeyNode, "futures_base_url is only for kucoin accounts")
		default:
			if msg := checkURL(u); msg != "" {
				p.add(node, "futures_base_url %s", msg)
			}
		}
		e.FuturesBaseURL = strings.TrimRight(u, "/")
	}

	// sub_keys
	if kv, ok := fields["sub_keys"]; ok {
		e.SubKeys = p.subKeys(kv.Value, e.Exchange)
	}

	if exchangeOK {
		p.exchangeRules(n, &e, fields, baseURLBad)
	}
	return e, p.d.Len() == before
}

// exchangeRules checks what an exchange requires and applies its defaults.
func (p *parser) exchangeRules(n *yaml.Node, e *Entry, fields map[string]yamlx.KV, baseURLBad bool) {
	need := func(keys ...string) {
		for _, k := range keys {
			if _, ok := fields[k]; !ok {
				p.add(n, "missing required key %q (%s accounts need %s)", k, e.Exchange, andList(keys))
			}
		}
	}
	switch e.Exchange {
	case "binance":
		need("api_key", "secret")
		if kv, ok := fields["passphrase"]; ok {
			p.add(kv.KeyNode, "passphrase is only for kucoin accounts")
		}
		if e.KeyType == "" {
			e.KeyType = KeyTypeHMAC
		}
	case "kucoin":
		need("api_key", "secret", "passphrase")
		if e.KeyVersion == 0 {
			e.KeyVersion = DefaultKeyVersion
		}
		if e.FuturesBaseURL == "" {
			switch {
			case e.BaseURL == "" || e.BaseURL == KucoinBaseURL:
				e.FuturesBaseURL = KucoinFuturesBaseURL
			case strings.HasSuffix(e.BaseURL, "/kucoin"):
				e.FuturesBaseURL = e.BaseURL + "-futures"
			case !baseURLBad:
				p.add(fields["base_url"].Value, "futures_base_url is required when base_url is neither %s nor an emulator URL ending in /kucoin", KucoinBaseURL)
			}
		}
	default:
		need("api_key")
	}
}

// checkURL returns "" for an absolute http(s) URL, else what is wrong.
func checkURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("must be an absolute http(s) URL, got %q", s)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Sprintf("must not have a query or fragment, got %q", s)
	}
	return ""
}

// source parses the credential under key, or returns nil when absent or
// unusable. A literal value is refused without repeating it.
func (p *parser) source(key string, fields map[string]yamlx.KV) *Source {
	kv, ok := fields[key]
	if !ok {
		return nil
	}
	return p.sourceNode(key, kv.Value)
}

func (p *parser) sourceNode(key string, n *yaml.Node) *Source {
	switch {
	case yamlx.IsNull(n):
		p.add(n, "%s: want {env: VAR}, {file: PATH} or {command: [argv…]}, got nothing (null)", key)
		return nil
	case n.Kind == yaml.ScalarNode:
		p.add(n, "%s: %s", key, LiteralSecretMsg)
		return nil
	case n.Kind != yaml.MappingNode:
		p.add(n, "%s: want {env: VAR}, {file: PATH} or {command: [argv…]}, got %s", key, kindOf(n))
		return nil
	}
	s := &Source{Line: n.Line, Col: n.Column}
	before := p.d.Len()
	var kinds []string
	for _, kv := range yamlx.Mapping(p.file, n, sourceKeys, &p.d) {
		kinds = append(kinds, kv.Key)
		switch kv.Key {
		case "env":
			v, ok := yamlx.String(p.file, kv.Value, &p.d)
			if ok && !envRE.MatchString(v) {
				p.add(kv.Value, "%s: env: invalid variable name %q", key, v)
			}
			s.Env = v
		case "file":
			v, ok := yamlx.String(p.file, kv.Value, &p.d)
			if ok && strings.TrimSpace(v) == "" {
				p.add(kv.Value, "%s: file: want a path, got an empty string", key)
			}
			s.File = v
		case "command":
			if kv.Value.Kind == yaml.ScalarNode && !yamlx.IsNull(kv.Value) {
				p.add(kv.Value, "%s: command: want a list of arguments (it runs without a shell), e.g. [pass, show, NAME]", key)
				continue
			}
			argv, ok := yamlx.StringList(p.file, kv.Value, &p.d)
			if ok && (len(argv) == 0 || argv[0] == "") {
				p.add(kv.Value, "%s: command: want a non-empty list of arguments", key)
			}
			s.Command = argv
		}
	}
	switch {
	case len(kinds) == 0 && p.d.Len() == before:
		p.add(n, "%s: one of env, file or command is required", key)
	case len(kinds) > 1:
		p.add(n, "%s: exactly one of env, file or command is allowed, got %s", key, strings.Join(kinds, " and "))
	}
	if p.d.Len() != before {
		return nil
	}
	return s
}

// subKeys parses sub_keys.
func (p *parser) subKeys(n *yaml.Node, exchange string) []SubKeyEntry {
	if n.Kind != yaml.SequenceNode {
		p.add(n, "sub_keys: want a list, got %s", kindOf(n))
		return nil
	}
	var out []SubKeyEntry
	for _, item := range n.Content {
		sk := SubKeyEntry{Line: item.Line, Col: item.Column}
		if item.Kind != yaml.MappingNode {
			p.add(item, "sub key: want a mapping {sub, api_key, secret, key_type, passphrase}, got %s", kindOf(item))
			continue
		}
		present := map[string]bool{}
		for _, kv := range yamlx.Mapping(p.file, item, subKeyKeys, &p.d) {
			present[kv.Key] = true
			switch kv.Key {
			case "sub":
				sk.Sub, _ = yamlx.String(p.file, kv.Value, &p.d)
			case "api_key":
				if kv.Value.Kind == yaml.MappingNode {
					p.add(kv.Value, "sub key api_key: want the key's public id as plain text, got a mapping")
					continue
				}
				sk.APIKey, _ = yamlx.String(p.file, kv.Value, &p.d)
			case "passphrase":
				if exchange == "binance" {
					p.add(kv.KeyNode, "passphrase is only for kucoin accounts")
					continue
				}
				sk.Passphrase = p.sourceNode("passphrase", kv.Value)
			case "secret":
				sk.Secret = p.sourceNode("secret", kv.Value)
			case "key_type":
				kt, _ := yamlx.String(p.file, kv.Value, &p.d)
				switch {
				case exchange != "binance":
					p.add(kv.KeyNode, "key_type is only for binance accounts")
				case !slices.Contains(KeyTypes, kt):
					p.add(kv.Value, "unknown key_type %q (known: %s)", kt, strings.Join(KeyTypes, ", "))
				default:
					sk.KeyType = kt
				}
			}
		}
		for _, k := range []string{"sub", "api_key"} {
			if !present[k] {
				p.add(item, "sub key: missing required key %q", k)
			}
		}
		out = append(out, sk)
	}
	return out
}

// andList joins "a", "a and b", "a, b and c".
func andList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
