package binance

import (
	"fmt"

	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

var _ emu.CredentialSource = (*Venue)(nil)

// Credentials implements emu.CredentialSource for the scripted attacker: the
// live keys of account, or of its sub-account sub, with what signs with them.
func (v *Venue) Credentials(account, sub string) ([]emu.Credential, bool, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	a := v.st.byName[account]
	if a == nil {
		return nil, false, nil
	}
	if sub != "" {
		s := v.st.byName[sub]
		if s == nil || s.Parent != a {
			return nil, true, fmt.Errorf("binance account %q has no sub-account %q", account, sub)
		}
		a = s
	}
	var out []emu.Credential
	for _, k := range a.Keys {
		c := emu.Credential{Venue: "binance", Account: a.Name, APIKey: k.APIKey, Type: k.Type, Secret: k.Secret}
		if k.Type != "hmac" {
			c.Secret = k.PrivateKey
		}
		out = append(out, c)
	}
	return out, true, nil
}

// KeyAlive implements emu.CredentialSource.
func (v *Venue) KeyAlive(apiKey string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.st.keys[apiKey] != nil
}

var _ emu.OrderCounter = (*Venue)(nil)

// OpenOrders implements emu.OrderCounter: every open order of every
// account (OCO legs one by one, algo orders included).
func (v *Venue) OpenOrders() map[string]int {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.fireCountdowns(v.env.Clock.Now())
	out := map[string]int{}
	for _, a := range v.st.accounts {
		n := len(a.SpotOrders) + len(a.MarginOrders) + len(a.IsolatedOrders) + len(a.USDMOrders) + len(a.AlgoOrders) + len(a.COINMOrders)
		for _, l := range a.SpotLists {
			n += len(l.Orders)
		}
		out[a.Name] = n
	}
	return out
}
