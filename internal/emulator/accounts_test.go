package emulator_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

// exportVenue is a venue that only exports accounts.
type exportVenue struct{ accounts []emu.AccountExport }

func (exportVenue) Name() string                          { return "kucoin" }
func (exportVenue) Handler() http.Handler                 { return http.NotFoundHandler() }
func (exportVenue) Snapshot() any                         { return nil }
func (exportVenue) Reset()                                {}
func (v exportVenue) ExportAccounts() []emu.AccountExport { return v.accounts }

// TestWriteAccountsSubKeyFiles: every sub key's passphrase gets its own
// file, also when a sub-account has several keys (or two sub names differ
// only in characters a file name cannot hold), and each file holds that
// key's passphrase.
func TestWriteAccountsSubKeyFiles(t *testing.T) {
	for _, c := range []struct {
		name string
		subs []emu.SubKeyExport
	}{
		{"one key per sub", []emu.SubKeyExport{{Sub: "a", APIKey: "k1", Passphrase: "p1"}, {Sub: "b", APIKey: "k2", Passphrase: "p2"}}},
		{"two keys of one sub", []emu.SubKeyExport{{Sub: "a", APIKey: "k1", Passphrase: "p1"}, {Sub: "a", APIKey: "k2", Passphrase: "p2"}}},
		{"three keys, two subs", []emu.SubKeyExport{{Sub: "a", APIKey: "k1", Passphrase: "p1"}, {Sub: "b", APIKey: "k2", Passphrase: "p2"}, {Sub: "a", APIKey: "k3", Passphrase: "p3"}}},
		{"sub names alike once sanitised", []emu.SubKeyExport{{Sub: "a b", APIKey: "k1", Passphrase: "p1"}, {Sub: "a/b", APIKey: "k2", Passphrase: "p2"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := exportVenue{accounts: []emu.AccountExport{{Name: "kc-master", Exchange: "kucoin", APIKey: "key", Secret: "secret",
				Passphrase: "pass", KeyVersion: 2, SubKeys: c.subs}}}
			srv := emulator.New(emulator.Config{}, []emu.Venue{v})
			path := filepath.Join(t.TempDir(), "accounts.yaml")
			if err := srv.WriteAccounts(path, "http://127.0.0.1:9999"); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				Accounts []struct {
					SubKeys []struct {
						Sub        string            `yaml:"sub"`
						APIKey     string            `yaml:"api_key"`
						Passphrase map[string]string `yaml:"passphrase"`
					} `yaml:"sub_keys"`
				} `yaml:"accounts"`
			}
			if err := yaml.Unmarshal(b, &got); err != nil {
				t.Fatalf("parse: %v\n%s", err, b)
			}
			if len(got.Accounts) != 1 || len(got.Accounts[0].SubKeys) != len(c.subs) {
				t.Fatalf("got %+v, want one account with %d sub keys", got.Accounts, len(c.subs))
			}
			files := map[string]bool{}
			for i, sk := range got.Accounts[0].SubKeys {
				want := c.subs[i]
				p := sk.Passphrase["file"]
				if sk.Sub != want.Sub || sk.APIKey != want.APIKey || p == "" {
					t.Errorf("sub key %d: got %+v, want sub %s key %s with a passphrase file", i, sk, want.Sub, want.APIKey)
					continue
				}
				if files[p] {
					t.Errorf("sub key %d: passphrase file %s is shared with another key", i, p)
				}
				files[p] = true
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatalf("sub key %d: %v", i, err)
				}
				if got := strings.TrimSpace(string(data)); got != want.Passphrase {
					t.Errorf("sub key %d (%s/%s): passphrase file holds %q, want %q", i, want.Sub, want.APIKey, got, want.Passphrase)
				}
			}
		})
	}
}
