package kucoin

import (
	"fmt"

	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

var (
	_ emu.CredentialSource = (*Venue)(nil)
	_ emu.OrderCounter     = (*Venue)(nil)
)

// Credentials implements emu.CredentialSource for the scripted attacker (on
// the spot venue only, which owns the shared state): the live keys of the
// master user account, or of its sub user sub.
func (v *Venue) Credentials(account, sub string) ([]emu.Credential, bool, error) {
	if v.name != SpotName {
		return nil, false, nil
	}
	v.st.mu.Lock()
	defer v.st.mu.Unlock()
	u := v.st.w.users[account]
	if u == nil || u.master != nil {
		return nil, false, nil
	}
	if sub != "" {
		s := v.st.w.users[sub]
		if s == nil || s.master != u {
			return nil, true, fmt.Errorf("kucoin account %q has no sub-account %q", account, sub)
		}
		u = s
	}
	var out []emu.Credential
	for _, k := range u.keys {
		if k.deleted {
			continue
		}
		out = append(out, emu.Credential{Venue: "kucoin", Account: u.name, APIKey: k.key, Secret: k.secret,
			Passphrase: k.passphrase, KeyVersion: k.version})
	}
	return out, true, nil
}

// KeyAlive implements emu.CredentialSource (an expired key counts as dead).
func (v *Venue) KeyAlive(apiKey string) bool {
	v.st.mu.Lock()
	defer v.st.mu.Unlock()
	k := v.st.w.keys[apiKey]
	return k != nil && !k.deleted && (k.expiresAt.IsZero() || v.st.clock.Now().Before(k.expiresAt))
}

// OpenOrders implements emu.OrderCounter: the open orders of every user
// (spot, margin, stop, OCO and futures), counted on the spot venue only.
func (v *Venue) OpenOrders() map[string]int {
	if v.name != SpotName {
		return nil
	}
	v.st.mu.Lock()
	defer v.st.mu.Unlock()
	now := v.st.clock.Now()
	out := map[string]int{}
	for _, u := range v.st.w.users {
		n := 0
		for _, o := range u.orders {
			if o.live(now) {
				n++
			}
		}
		for _, o := range u.futOrders {
			if o.live(now) {
				n++
			}
		}
		out[u.name] = n
	}
	return out
}
