package emu

// KindAttacker marks, in the request log, a request the emulator's own
// scripted attacker sent (Entry.Attacker names it, Entry.Action says what
// it tried, Entry.Accepted whether the venue accepted it).
const KindAttacker = "attacker"

// Credential is a key the scripted attacker signs with. It never leaves the
// emulator process: the attacker uses it to sign HTTP requests to the
// emulator's own listener, exactly as a client holding the leaked key would.
type Credential struct {
	Venue      string // binance | kucoin
	Account    string // the account (Binance) or user (KuCoin) that owns the key
	APIKey     string
	Type       string // Binance: hmac | ed25519 | rsa
	Secret     string // HMAC secret, or (Binance ed25519/rsa) the PEM private key
	Passphrase string // KuCoin: the passphrase as the user typed it
	KeyVersion int    // KuCoin: 1, 2 or 3
}

// CredentialSource is implemented by venues whose keys the scripted
// attacker can use ("the leaked key").
type CredentialSource interface {
	// Credentials returns the keys of an account: account is a master (or,
	// on Binance, any account's name); sub, when set, names a sub-account
	// of it. found is false when the venue does not know the account.
	Credentials(account, sub string) (keys []Credential, found bool, err error)
	// KeyAlive reports whether the venue still knows the key (false once
	// it has been deleted, by the API or the web UI). The attacker's report
	// uses it to count what was accepted after its key died; it never
	// steers what the attacker does.
	KeyAlive(apiKey string) bool
}

// OrderCounter is implemented by venues that can count open orders per
// account, from their own state (the rehearsal's "zero open orders
// everywhere" check).
type OrderCounter interface {
	// OpenOrders maps each account (Binance account name, KuCoin user
	// name) to its open orders on every product, stop and algo orders
	// included.
	OpenOrders() map[string]int
}
