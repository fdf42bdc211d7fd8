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
