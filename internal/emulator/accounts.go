package emulator

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

type sourceYAML struct {
	File string `yaml:"file"`
}

type subKeyYAML struct {
	Sub        string      `yaml:"sub"`
	APIKey     string      `yaml:"api_key"`
	Passphrase *sourceYAML `yaml:"passphrase,omitempty"`
}

type accountYAML struct {
	Name           string       `yaml:"name"`
	Exchange       string       `yaml:"exchange"`
	KeyType        string       `yaml:"key_type,omitempty"`
	APIKey         *sourceYAML  `yaml:"api_key"`
	Secret         *sourceYAML  `yaml:"secret"`
	Passphrase     *sourceYAML  `yaml:"passphrase,omitempty"`
	KeyVersion     int          `yaml:"key_version,omitempty"`
	Tags           []string     `yaml:"tags,omitempty"`
	BaseURL        string       `yaml:"base_url"`
	FuturesBaseURL string       `yaml:"futures_base_url,omitempty"`
	SubKeys        []subKeyYAML `yaml:"sub_keys,omitempty"`
}

var unsafeFileChars = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// WriteAccounts writes an accounts.yaml (DESIGN.md "Accounts config") at
// path for every account the venues export, pointing at the emulator at
// baseURL. Credentials go to 0600 files beside it named <account>.<field>
// (a sub key's passphrase: <account>.sub.<sub>.<n>.passphrase, n its rank
// among the sub-account's keys) and are referenced as file: sources.
func (s *Server) WriteAccounts(path, baseURL string) error {
	baseURL = strings.TrimRight(baseURL, "/")
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("accounts file directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create accounts file directory: %w", err)
	}
	writeSecret := func(account, field, value string) (*sourceYAML, error) {
		name := unsafeFileChars.ReplaceAllString(account, "_") + "." + field
		p := filepath.Join(dir, name)
		if err := writeFile0600(p, []byte(value+"\n")); err != nil {
			return nil, fmt.Errorf("account %s: write %s file: %w", account, field, err)
		}
		return &sourceYAML{File: p}, nil
	}
	var out struct {
		Accounts []accountYAML `yaml:"accounts"`
	}
	for _, v := range s.venues {
		ex, ok := v.(emu.Exporter)
		if !ok {
			continue
		}
		for _, a := range ex.ExportAccounts() {
			entry := accountYAML{Name: a.Name, Exchange: a.Exchange, Tags: a.Tags}
			if entry.Exchange == "" {
				entry.Exchange = v.Name()
			}
			switch entry.Exchange {
			case "binance":
				entry.KeyType = a.KeyType
				if entry.KeyType == "" {
					entry.KeyType = "hmac"
				}
				entry.BaseURL = baseURL + "/binance"
			case "kucoin":
				entry.KeyVersion = a.KeyVersion
				entry.BaseURL = baseURL + "/kucoin"
				entry.FuturesBaseURL = baseURL + "/kucoin-futures"
			default:
				entry.BaseURL = baseURL + "/" + v.Name()
			}
			if entry.APIKey, err = writeSecret(a.Name, "api_key", a.APIKey); err != nil {
				return err
			}
			if entry.Secret, err = writeSecret(a.Name, "secret", a.Secret); err != nil {
				return err
			}
			if a.Passphrase != "" {
				if entry.Passphrase, err = writeSecret(a.Name, "passphrase", a.Passphrase); err != nil {
					return err
				}
			}
			// A sub-account can have several keys: each passphrase file
			// is named after the sub-account and the key's rank in it
			// (<account>.sub.<sub>.<n>.passphrase), so that no key's file
			// overwrites another's.
			perSub := map[string]int{}
			used := map[string]bool{}
			for _, sk := range a.SubKeys {
				sub := subKeyYAML{Sub: sk.Sub, APIKey: sk.APIKey}
				if sk.Passphrase != "" {
					perSub[sk.Sub]++
					field := fmt.Sprintf("sub.%s.%d.passphrase", unsafeFileChars.ReplaceAllString(sk.Sub, "_"), perSub[sk.Sub])
					for k := 2; used[field]; k++ {
						// Two sub names that differ only in unsafe characters.
						field = fmt.Sprintf("sub.%s.%d-%d.passphrase", unsafeFileChars.ReplaceAllString(sk.Sub, "_"), perSub[sk.Sub], k)
					}
					used[field] = true
					if sub.Passphrase, err = writeSecret(a.Name, field, sk.Passphrase); err != nil {
						return err
					}
				}
				entry.SubKeys = append(entry.SubKeys, sub)
			}
			out.Accounts = append(out.Accounts, entry)
		}
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# Written by panicbutton emulator --accounts-out for the emulator at %s.\n", baseURL)
	buf.WriteString("# Credentials are in the 0600 files beside this one.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("encode accounts file: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("encode accounts file: %w", err)
	}
	if err := writeFile0600(path, buf.Bytes()); err != nil {
		return fmt.Errorf("write accounts file: %w", err)
	}
	return nil
}

// writeFile0600 writes data to p with mode 0600, also tightening the mode
// of a file that already existed.
func writeFile0600(p string, data []byte) error {
	if err := os.WriteFile(p, data, 0o600); err != nil {
		return err
	}
	return os.Chmod(p, 0o600)
}
