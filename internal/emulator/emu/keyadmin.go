package emu

// KeyEdit changes a key's settings the way the exchange's web UI does
// (POST /_emulator/edit-key). Nil fields are left as they are.
type KeyEdit struct {
	// Permissions replaces the key's permissions (the venue's own names,
	// as in the state file: Binance reading, spot, withdrawals…; KuCoin
	// General, Spot, Transfer…).
	Permissions *[]string `json:"permissions,omitempty"`
	// Withdrawals switches the withdrawal permission on or off (Binance
	// "Enable Withdrawals", KuCoin "Transfer").
	Withdrawals *bool `json:"withdrawals,omitempty"`
	// IPs replaces the key's trusted IP list; an empty list lifts the IP
	// restriction (the key then works from any IP).
	IPs *[]string `json:"ips,omitempty"`
}

// KeyCreate creates a key the way the web UI does (POST
// /_emulator/create-key): for the named account (Binance) or user
// (KuCoin), master or sub-account.
type KeyCreate struct {
	Venue       string   `json:"venue"`
	Account     string   `json:"account"`
	APIKey      string   `json:"api_key"`
	Secret      string   `json:"secret"`
	Passphrase  string   `json:"passphrase,omitempty"` // KuCoin
	Label       string   `json:"label,omitempty"`
	Permissions []string `json:"permissions,omitempty"`
	IPs         []string `json:"ips,omitempty"`
}

// KeyView is a key's settings after an edit or creation (no secret).
type KeyView struct {
	Venue        string   `json:"venue"`
	Account      string   `json:"account"`
	APIKey       string   `json:"api_key"`
	Label        string   `json:"label,omitempty"`
	Permissions  []string `json:"permissions"`
	IPRestricted bool     `json:"ip_restricted"`
	IPs          []string `json:"ips"`
}

// KeyEditor is implemented by venues whose keys the admin endpoints can
// change and create the way the web UI does. found is false when the venue
// does not know the key (or, for CreateKey, the account); err is a
// validation error (unknown permission, bad IP, duplicate key).
type KeyEditor interface {
	EditKey(apiKey string, e KeyEdit) (v KeyView, found bool, err error)
	CreateKey(c KeyCreate) (v KeyView, found bool, err error)
}
