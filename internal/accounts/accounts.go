// Package accounts reads the accounts file (accounts.yaml) and resolves the
// credentials it points at.
//
// The file never holds a secret: every credential (api_key, secret,
// passphrase, a sub key's passphrase) is a Source naming where the value
// lives — an environment variable ({env: VAR}), a file ({file: PATH}, which
// must not be accessible by group or others) or a command ({command: [argv…]},
// run without a shell, like AWS credential_process). A literal string is
// refused.
//
// Parse and Load validate strictly (unknown keys are errors) and report
// every problem at once, each as "file:line:col: msg". They never read a
// secret, so listing accounts works without any credential available.
// Resolver.Resolve reads the secrets of one account into an
// executors.Account whose credentials are secret.Values; its errors name
// the account and the source ("account binance-main: secret: env
// BINANCE_SECRET is not set"), never a value.
package accounts

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Exchanges that the accounts file understands even when no driver for
// them is registered (listing accounts needs no driver).
var Exchanges = []string{"binance", "kucoin"}

// Binance key types.
const (
	KeyTypeHMAC    = "hmac"
	KeyTypeEd25519 = "ed25519"
	KeyTypeRSA     = "rsa"
)

// KeyTypes lists the accepted Binance key types.
var KeyTypes = []string{KeyTypeHMAC, KeyTypeEd25519, KeyTypeRSA}

// DefaultKeyVersion is the KuCoin API key version used when key_version is
// absent.
const DefaultKeyVersion = 3

// KuCoin production hosts.
const (
	KucoinBaseURL        = "https://api.kucoin.com"
	KucoinFuturesBaseURL = "https://api-futures.kucoin.com"
)

// File is a parsed accounts file.
type File struct {
	// Path is the file's path as given; relative file sources resolve
	// against its directory.
	Path     string
	Accounts []Entry
}

// Entry is one account of the file. Credentials are Sources, never values.
type Entry struct {
	Name     string
	Exchange string
	// KeyType is the Binance key type: hmac (default), ed25519 or rsa;
	// empty for other exchanges.
	KeyType string
	// APIKey, Secret and Passphrase say where each credential comes from;
	// nil when absent.
	APIKey, Secret, Passphrase *Source
	// KeyVersion is the KuCoin API key version: 1, 2 or 3 (default 3); 0
	// for other exchanges.
	KeyVersion int
	Tags       []string
	// BaseURL points at an emulator or testnet; empty means production.
	BaseURL string
	// FuturesBaseURL is KuCoin's futures host, derived when absent (see
	// Parse).
	FuturesBaseURL string
	SubKeys        []SubKeyEntry
	// Line and Col locate the entry in the file.
	Line, Col int
}

// SubKeyEntry is a sub-account key this team created.
type SubKeyEntry struct {
	Sub string
	// APIKey is the sub key's public id (a literal is fine).
	APIKey string
	// Passphrase lets the tool delete or modify the key (KuCoin); nil when
	// unknown.
	Passphrase *Source
	// Secret (optional) lets the tool sign with the sub key itself, so it
	// cancels that sub-account's orders without minting a temporary key.
	Secret *Source
	// KeyType is the Binance sub key's type (hmac, ed25519, rsa); empty:
	// hmac.
	KeyType   string
	Line, Col int
}

// Describe returns "name (exchange)" for messages.
func (e Entry) Describe() string { return e.Name + " (" + e.Exchange + ")" }

// HasTag reports whether e carries tag.
func (e Entry) HasTag(tag string) bool { return slices.Contains(e.Tags, tag) }

// Names returns the account names in file order.
func (f *File) Names() []string {
	out := make([]string, len(f.Accounts))
	for i, e := range f.Accounts {
		out[i] = e.Name
	}
	return out
}

// Lookup returns the named account.
func (f *File) Lookup(name string) (Entry, bool) {
	for _, e := range f.Accounts {
		if e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

// Select returns the accounts named in names or carrying any tag in tags
// (a union), in file order. With neither, it returns every account. A name
// that is not configured, or a tag no account carries, is an error.
func (f *File) Select(names, tags []string) ([]Entry, error) {
	if len(names) == 0 && len(tags) == 0 {
		return slices.Clone(f.Accounts), nil
	}
	var errs []error
	for _, n := range names {
		if _, ok := f.Lookup(n); !ok {
			errs = append(errs, fmt.Errorf("unknown account %q (configured: %s)", n, strings.Join(f.Names(), ", ")))
		}
	}
	for _, t := range tags {
		if !slices.ContainsFunc(f.Accounts, func(e Entry) bool { return e.HasTag(t) }) {
			errs = append(errs, fmt.Errorf("no account has tag %q", t))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var out []Entry
	for _, e := range f.Accounts {
		if slices.Contains(names, e.Name) || slices.ContainsFunc(tags, e.HasTag) {
			out = append(out, e)
		}
	}
	return out, nil
}

// ErrNoConfig is returned by Locate when no accounts file was found.
var ErrNoConfig = errors.New("no accounts file found")

// Locate finds the accounts file: the --config flag when given, else
// $PANICBUTTON_CONFIG when set, else
// $XDG_CONFIG_HOME/panicbutton/accounts.yaml (XDG_CONFIG_HOME defaults to
// $HOME/.config) when it exists. The error wraps ErrNoConfig and lists the
// places tried.
func Locate(flag string, getenv func(string) string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if p := getenv("PANICBUTTON_CONFIG"); p != "" {
		return p, nil
	}
	tried := []string{"--config (not given)", "$PANICBUTTON_CONFIG (not set)"}
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" {
		if home := getenv("HOME"); home != "" {
			dir = filepath.Join(home, ".config")
		}
	}
	if dir == "" {
		tried = append(tried, "$XDG_CONFIG_HOME/panicbutton/accounts.yaml (neither $XDG_CONFIG_HOME nor $HOME is set)")
	} else {
		p := filepath.Join(dir, "panicbutton", "accounts.yaml")
		_, err := os.Stat(p)
		if err == nil {
			return p, nil
		}
		why := "does not exist"
		if !errors.Is(err, fs.ErrNotExist) {
			why = err.Error()
		}
		tried = append(tried, p+" ("+why+")")
	}
	return "", fmt.Errorf("%w; tried %s", ErrNoConfig, strings.Join(tried, ", "))
}
