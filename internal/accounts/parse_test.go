package accounts

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/go-multierror"

	"github.com/panicbutton/panicbutton/internal/yamlx"
)

const binanceOK = `accounts:
  - name: a
    exchange: binance
    api_key: {env: A_KEY}
    secret: {env: A_SECRET}
`

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // exact, in order
	}{
		{"unknown key", binanceOK + "    secert: {env: B}\n",
			[]string{`t.yaml:6:5: unknown key "secert" (known: name, exchange, key_type, api_key, secret, passphrase, key_version, tags, base_url, futures_base_url, sub_keys)`}},
		{"unknown top-level key", "acounts: []\n",
			[]string{`t.yaml:1:1: unknown key "acounts" (known: accounts)`, `t.yaml:1:1: missing required key "accounts"`}},
		{"missing name and exchange", "accounts:\n  - api_key: {env: A}\n",
			[]string{`t.yaml:2:5: missing required key "name"`, `t.yaml:2:5: missing required key "exchange"`}},
		{"missing secret", "accounts:\n  - name: a\n    exchange: binance\n    api_key: {env: A}\n",
			[]string{`t.yaml:2:5: missing required key "secret" (binance accounts need api_key and secret)`}},
		{"kucoin missing passphrase", "accounts:\n  - name: k\n    exchange: kucoin\n    api_key: {env: A}\n    secret: {env: B}\n",
			[]string{`t.yaml:2:5: missing required key "passphrase" (kucoin accounts need api_key, secret and passphrase)`}},
		{"duplicate name", binanceOK + "  - name: a\n    exchange: binance\n    api_key: {env: A}\n    secret: {env: B}\n",
			[]string{`t.yaml:6:11: duplicate account name "a" (first at line 2)`}},
		{"bad name", strings.Replace(binanceOK, "name: a", "name: a b", 1),
			[]string{`t.yaml:2:11: invalid account name "a b": use letters, digits, '.', '_' and '-', starting with a letter or digit`}},
		{"bad exchange", strings.Replace(binanceOK, "exchange: binance", "exchange: bitmex", 1),
			[]string{`t.yaml:3:15: unknown exchange "bitmex" (known: binance, kucoin)`}},
		{"literal secret", strings.Replace(binanceOK, "{env: A_SECRET}", `"s3cr3t-literal"`, 1),
			[]string{`t.yaml:5:13: secret: ` + LiteralSecretMsg}},
		{"literal api key", strings.Replace(binanceOK, "{env: A_KEY}", `s3cr3t-literal`, 1),
			[]string{`t.yaml:4:14: api_key: ` + LiteralSecretMsg}},
		{"null secret", strings.Replace(binanceOK, "{env: A_SECRET}", ``, 1),
			[]string{`t.yaml:5:12: secret: want {env: VAR}, {file: PATH} or {command: [argv…]}, got nothing (null)`}},
		{"bad key_version", "accounts:\n  - name: k\n    exchange: kucoin\n    api_key: {env: A}\n    secret: {env: B}\n    passphrase: {env: C}\n    key_version: 4\n",
			[]string{`t.yaml:7:18: key_version must be 1, 2 or 3, got 4`}},
		{"key_version not an integer", "accounts:\n  - name: k\n    exchange: kucoin\n    api_key: {env: A}\n    secret: {env: B}\n    passphrase: {env: C}\n    key_version: three\n",
			[]string{`t.yaml:7:18: want an integer, got "three"`}},
		{"key_version on binance", binanceOK + "    key_version: 2\n",
			[]string{`t.yaml:6:5: key_version is only for kucoin accounts`}},
		{"bad key_type", binanceOK + "    key_type: ecdsa\n",
			[]string{`t.yaml:6:15: unknown key_type "ecdsa" (known: hmac, ed25519, rsa)`}},
		{"key_type on kucoin", "accounts:\n  - name: k\n    exchange: kucoin\n    api_key: {env: A}\n    secret: {env: B}\n    passphrase: {env: C}\n    key_type: hmac\n",
			[]string{`t.yaml:7:5: key_type is only for binance accounts`}},
		{"passphrase on binance", binanceOK + "    passphrase: {env: P}\n",
			[]string{`t.yaml:6:5: passphrase is only for kucoin accounts`}},
		{"bad base_url", binanceOK + "    base_url: ftp://example.com\n",
			[]string{`t.yaml:6:15: base_url must be an absolute http(s) URL, got "ftp://example.com"`}},
		{"relative base_url", binanceOK + "    base_url: /binance\n",
			[]string{`t.yaml:6:15: base_url must be an absolute http(s) URL, got "/binance"`}},
		{"kucoin foreign base_url without futures", "accounts:\n  - name: k\n    exchange: kucoin\n    api_key: {env: A}\n    secret: {env: B}\n    passphrase: {env: C}\n    base_url: http://127.0.0.1:1\n",
			[]string{`t.yaml:7:15: futures_base_url is required when base_url is neither https://api.kucoin.com nor an emulator URL ending in /kucoin`}},
		{"source with two kinds", strings.Replace(binanceOK, "{env: A_SECRET}", "{env: A_SECRET, file: a.secret}", 1),
			[]string{`t.yaml:5:13: secret: exactly one of env, file or command is allowed, got env and file`}},
		{"source with no kind", strings.Replace(binanceOK, "{env: A_SECRET}", "{}", 1),
			[]string{`t.yaml:5:13: secret: one of env, file or command is required`}},
		{"source unknown key", strings.Replace(binanceOK, "{env: A_SECRET}", "{value: s3cr3t-literal}", 1),
			[]string{`t.yaml:5:14: unknown key "value" (known: env, file, command)`}},
		{"command as a string", strings.Replace(binanceOK, "{env: A_SECRET}", `{command: "pass show x"}`, 1),
			[]string{`t.yaml:5:23: secret: command: want a list of arguments (it runs without a shell), e.g. [pass, show, NAME]`}},
		{"command empty", strings.Replace(binanceOK, "{env: A_SECRET}", `{command: []}`, 1),
			[]string{`t.yaml:5:23: secret: command: want a non-empty list of arguments`}},
		{"bad env name", strings.Replace(binanceOK, "{env: A_SECRET}", `{env: "A-SECRET"}`, 1),
			[]string{`t.yaml:5:19: secret: env: invalid variable name "A-SECRET"`}},
		{"bad tag", binanceOK + "    tags: [prod, \"a b\"]\n",
			[]string{`t.yaml:6:18: invalid tag "a b": use letters, digits, '.', '_' and '-', starting with a letter or digit`}},
		{"tags not a list", binanceOK + "    tags: prod\n",
			[]string{`t.yaml:6:11: want a list of strings, got "prod"`}},
		{"sub key problems", "accounts:\n  - name: k\n    exchange: kucoin\n    api_key: {env: A}\n    secret: {env: B}\n    passphrase: {env: C}\n    sub_keys:\n      - {sub: bot1, passphrase: s3cr3t-literal}\n      - {sub: bot2, api_key: x, pass: {env: D}}\n",
			[]string{
				`t.yaml:8:9: sub key: missing required key "api_key"`,
				`t.yaml:8:33: passphrase: ` + LiteralSecretMsg,
				`t.yaml:9:33: unknown key "pass" (known: sub, api_key, passphrase, secret, key_type)`,
			}},
		{"sub key type problems", binanceOK + "    sub_keys:\n      - {sub: a@x, api_key: k1, secret: {env: S1}, key_type: dsa}\n",
			[]string{`t.yaml:7:62: unknown key_type "dsa" (known: hmac, ed25519, rsa)`}},
		{"sub key type on kucoin", "accounts:\n  - name: k\n    exchange: kucoin\n    api_key: {env: A}\n    secret: {env: B}\n    passphrase: {env: C}\n    sub_keys:\n      - {sub: bot1, api_key: x, secret: {env: S}, key_type: ed25519}\n",
			[]string{`t.yaml:8:51: key_type is only for binance accounts`}},
		{"accounts not a list", "accounts: {name: a}\n",
			[]string{`t.yaml:1:11: accounts: want a list of accounts, got a mapping`}},
		{"no accounts", "accounts: []\n",
			[]string{`t.yaml:1:11: accounts: at least one account is required`}},
		{"entry not a mapping", "accounts:\n  - s3cr3t-literal\n",
			[]string{`t.yaml:2:5: account: want a mapping, got a plain value`}},
		{"yaml syntax", "accounts: [\n",
			[]string{`t.yaml:2: yaml: did not find expected node content (at or after this line)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("t.yaml", []byte(tt.yaml), nil)
			if err == nil {
				t.Fatalf("got file %+v and no error, want errors %q", f, tt.want)
			}
			if got := diagLines(t, err); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got errors\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if strings.Contains(err.Error(), "s3cr3t-literal") {
				t.Errorf("error %q repeats a literal secret value", err)
			}
		})
	}
}

func TestParseNoDrivers(t *testing.T) {
	_, err := Parse("t.yaml", []byte(binanceOK), []string{})
	want := `t.yaml:3:15: unknown exchange "binance" (no exchange drivers are registered)`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}

// diagLines checks that err is a yamlx Diagnostics error and returns its lines.
func diagLines(t *testing.T, err error) []string {
	t.Helper()
	var me *multierror.Error
	if !errors.As(err, &me) {
		t.Fatalf("error is %T, want *multierror.Error of yamlx diagnostics: %v", err, err)
	}
	var out []string
	for _, e := range me.Errors {
		var d *yamlx.Diagnostic
		if !errors.As(e, &d) {
			t.Errorf("element %T is not a *yamlx.Diagnostic: %v", e, e)
		}
		out = append(out, e.Error())
	}
	if got := strings.Join(out, "\n"); got != err.Error() {
		t.Errorf("Error() = %q, want one diagnostic per line %q", err.Error(), got)
	}
	return out
}

// TestParseBadFile checks that every problem of testdata/accounts/bad.yaml
// is reported at once, in file order, without the literal secret.
func TestParseBadFile(t *testing.T) {
	path := filepath.Join("..", "..", "testdata", "accounts", "bad.yaml")
	_, err := Load(path, nil)
	if err == nil {
		t.Fatal("got no error, want every problem of bad.yaml")
	}
	want := []string{
		path + `:3:5: missing required key "secret" (binance accounts need api_key and secret)`,
		path + `:6:5: unknown key "secert" (known: name, exchange, key_type, api_key, secret, passphrase, key_version, tags, base_url, futures_base_url, sub_keys)`,
		path + `:7:11: duplicate account name "binance-main" (first at line 3)`,
		path + `:10:13: secret: ` + LiteralSecretMsg,
		path + `:11:5: missing required key "passphrase" (kucoin accounts need api_key, secret and passphrase)`,
		path + `:13:14: api_key: exactly one of env, file or command is allowed, got env and file`,
		path + `:15:18: key_version must be 1, 2 or 3, got 4`,
		path + `:16:15: base_url must be an absolute http(s) URL, got "ftp://example.com"`,
		path + `:17:11: invalid account name "bad name": use letters, digits, '.', '_' and '-', starting with a letter or digit`,
		path + `:18:15: unknown exchange "bitmex" (known: binance, kucoin)`,
	}
	if got := diagLines(t, err); !reflect.DeepEqual(got, want) {
		t.Errorf("got errors\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if strings.Contains(err.Error(), "do-not-echo-this-value") {
		t.Errorf("error repeats the literal secret: %v", err)
	}
}

func TestParseGoodFile(t *testing.T) {
	path := filepath.Join("..", "..", "testdata", "accounts", "good.yaml")
	f, err := Load(path, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := &File{Path: path, Accounts: []Entry{
		{
			Name: "binance-main", Exchange: "binance", KeyType: "ed25519",
			APIKey: &Source{Env: "BINANCE_API_KEY", Line: 6, Col: 14},
			Secret: &Source{File: "~/.config/panicbutton/binance-main.secret", Line: 7, Col: 13},
			Tags:   []string{"prod", "spot"},
			Line:   3, Col: 5,
		},
		{
			Name: "kucoin-bots", Exchange: "kucoin", KeyVersion: 2,
			APIKey:         &Source{Env: "KUCOIN_KEY", Line: 11, Col: 14},
			Secret:         &Source{Command: []string{"pass", "show", "kucoin/secret"}, Line: 12, Col: 13},
			Passphrase:     &Source{Env: "KUCOIN_PASSPHRASE", Line: 13, Col: 17},
			Tags:           []string{"prod", "bots"},
			BaseURL:        "http://127.0.0.1:8080/kucoin",
			FuturesBaseURL: "http://127.0.0.1:8080/kucoin-futures",
			SubKeys: []SubKeyEntry{
				{Sub: "bot1", APIKey: "6650aa11bb22cc33dd44ee55", Passphrase: &Source{Env: "KUCOIN_BOT1_PASS", Line: 18, Col: 70}, Line: 18, Col: 9},
				{Sub: "bot2", APIKey: "6650ff00ee11dd22cc33bb44", Line: 19, Col: 9},
			},
			Line: 9, Col: 5,
		},
		{
			Name: "binance-test", Exchange: "binance", KeyType: "hmac",
			APIKey:  &Source{File: "secrets/test.key", Line: 22, Col: 14},
			Secret:  &Source{File: "secrets/test.secret", Line: 23, Col: 13},
			BaseURL: "https://testnet.binance.vision",
			Line:    20, Col: 5,
		},
	}}
	if len(f.Accounts) != len(want.Accounts) {
		t.Fatalf("got %d accounts, want %d", len(f.Accounts), len(want.Accounts))
	}
	if f.Path != want.Path {
		t.Errorf("got Path %q, want %q", f.Path, want.Path)
	}
	for i := range want.Accounts {
		if got, want := dump(f.Accounts[i]), dump(want.Accounts[i]); got != want {
			t.Errorf("account %d:\ngot  %s\nwant %s", i, got, want)
		}
	}
}

func TestParseDefaults(t *testing.T) {
	kucoin := "accounts:\n  - name: k\n    exchange: kucoin\n    api_key: {env: A}\n    secret: {env: B}\n    passphrase: {env: C}\n"
	tests := []struct {
		name, yaml string
		keyType    string
		keyVersion int
		futures    string
		exchanges  []string
	}{
		{name: "binance hmac by default", yaml: binanceOK, keyType: "hmac"},
		{name: "kucoin production", yaml: kucoin, keyVersion: 3, futures: KucoinFuturesBaseURL},
		{name: "kucoin explicit production", yaml: kucoin + "    base_url: https://api.kucoin.com/\n", keyVersion: 3, futures: KucoinFuturesBaseURL},
		{name: "kucoin emulator", yaml: kucoin + "    base_url: http://127.0.0.1:9/kucoin\n", keyVersion: 3, futures: "http://127.0.0.1:9/kucoin-futures"},
		{name: "kucoin explicit futures", yaml: kucoin + "    base_url: http://127.0.0.1:9\n    futures_base_url: http://127.0.0.1:10/\n", keyVersion: 3, futures: "http://127.0.0.1:10"},
		{name: "other registered exchange", yaml: "accounts:\n  - {name: o, exchange: okx, api_key: {env: O}}\n", exchanges: []string{"okx"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("t.yaml", []byte(tt.yaml), tt.exchanges)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			e := f.Accounts[0]
			if e.KeyType != tt.keyType || e.KeyVersion != tt.keyVersion || e.FuturesBaseURL != tt.futures {
				t.Errorf("got key_type %q, key_version %d, futures %q; want %q, %d, %q", e.KeyType, e.KeyVersion, e.FuturesBaseURL, tt.keyType, tt.keyVersion, tt.futures)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), nil)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want an error wrapping fs.ErrNotExist", err)
	}
	if !strings.HasPrefix(err.Error(), "read accounts file: ") {
		t.Errorf("got %q, want it to say the accounts file could not be read", err)
	}
}

// dump prints an entry with its sources expanded (they are pointers).
func dump(e Entry) string {
	src := func(s *Source) string {
		if s == nil {
			return "nil"
		}
		return fmt.Sprintf("%+v", *s)
	}
	var subs []string
	for _, sk := range e.SubKeys {
		subs = append(subs, fmt.Sprintf("{%s %s %s %d:%d}", sk.Sub, sk.APIKey, src(sk.Passphrase), sk.Line, sk.Col))
	}
	return fmt.Sprintf("%s %s type=%q v=%d api_key=%s secret=%s pass=%s tags=%q base=%q futures=%q subs=%v at %d:%d",
		e.Name, e.Exchange, e.KeyType, e.KeyVersion, src(e.APIKey), src(e.Secret), src(e.Passphrase), e.Tags, e.BaseURL, e.FuturesBaseURL, subs, e.Line, e.Col)
}
