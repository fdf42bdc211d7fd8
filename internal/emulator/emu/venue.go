package emu

import (
	"io/fs"
	"log/slog"

	"go.yaml.in/yaml/v3"
)

// Env is what the core gives every venue it loads.
type Env struct {
	Clock  *Clock
	Logger *slog.Logger
	// FS and Dir resolve files a state refers to (e.g. a venue section given
	// as a file name); Dir is the directory of the state file inside FS.
	FS  fs.FS
	Dir string
}

// Loader builds the venues of one top-level key of the state file from its
// YAML node. file is the name used in error messages ("file:line:col: …").
// KuCoin returns two venues (kucoin and kucoin-futures) sharing one state.
type Loader func(file string, node *yaml.Node, env Env) ([]Venue, error)

// Exporter is implemented by venues that can describe the credentials of
// the accounts in their state, for --accounts-out.
type Exporter interface {
	// ExportAccounts lists the accounts a user of the emulator would
	// configure (typically each master), with their credentials.
	ExportAccounts() []AccountExport
}

// AccountExport is one account with credentials, as --accounts-out writes it.
type AccountExport struct {
	Name       string
	Exchange   string // binance | kucoin
	KeyType    string // binance: hmac | ed25519 | rsa
	APIKey     string
	Secret     string // HMAC secret or PEM private key
	Passphrase string // kucoin
	KeyVersion int    // kucoin
	Tags       []string
	SubKeys    []SubKeyExport
}

// SubKeyExport is a sub-account key whose passphrase the owner knows.
type SubKeyExport struct {
	Sub        string
	APIKey     string
	Passphrase string
}

// KeyDeleter is implemented by venues that can delete any API key the way
// the exchange's web UI does (no API can delete a master's own key): the
// admin endpoint POST /_emulator/delete-key uses it, so a rehearsal or a
// test can play the human who deletes the leaked key by hand.
type KeyDeleter interface {
	// DeleteKey deletes the key with this public id; false if unknown.
	DeleteKey(apiKey string) bool
}
