package binance

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"

	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

var _ emu.KeyEditor = (*Venue)(nil)

// EditKey changes a key's settings as Binance's API Management page does
// ("Edit restrictions"): permissions, withdrawals, trusted IPs. It does
// not enforce the web UI's rule that withdrawals need an IP restriction,
// so a test can produce the worst case (see STATE.md).
func (v *Venue) EditKey(apiKey string, e emu.KeyEdit) (emu.KeyView, bool, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	k := v.st.keys[apiKey]
	if k == nil {
		return emu.KeyView{}, false, nil
	}
	perms := map[string]bool{}
	for p, on := range k.Perms {
		perms[p] = on
	}
	if e.Permissions != nil {
		perms = map[string]bool{}
		for _, p := range *e.Permissions {
			p = strings.ToLower(strings.TrimSpace(p))
			if !slices.Contains(allPerms, p) {
				return emu.KeyView{}, true, fmt.Errorf("unknown permission %q (want: %s)", p, strings.Join(allPerms, ", "))
			}
			perms[p] = true
		}
	}
	if e.Withdrawals != nil {
		perms[permWithdrawals] = *e.Withdrawals
	}
	ips, restrict := k.IPs, k.IPRestrict
	if e.IPs != nil {
		if err := checkIPs(*e.IPs); err != nil {
			return emu.KeyView{}, true, err
		}
		ips, restrict = append([]string(nil), *e.IPs...), len(*e.IPs) > 0
	}
	k.Perms, k.IPs, k.IPRestrict = perms, ips, restrict
	k.Updated = v.env.Clock.Now()
	return keyView(k), true, nil
}

// CreateKey creates an HMAC key for an account (master or sub-account),
// as the web UI's "Create API" does; an empty api_key or secret is
// generated. Default permissions: reading.
func (v *Venue) CreateKey(c emu.KeyCreate) (emu.KeyView, bool, error) {
	if c.Venue != "" && c.Venue != v.Name() {
		return emu.KeyView{}, false, nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	a := v.st.byName[c.Account]
	if a == nil {
		return emu.KeyView{}, false, nil
	}
	if c.APIKey == "" {
		c.APIKey = randomAlnum(64)
	}
	if c.Secret == "" {
		c.Secret = randomAlnum(64)
	}
	if !apiKeyRE.MatchString(c.APIKey) {
		return emu.KeyView{}, true, fmt.Errorf("api_key must be 8 to 128 letters and digits")
	}
	if v.st.keys[c.APIKey] != nil {
		return emu.KeyView{}, true, fmt.Errorf("api_key is already used by another key")
	}
	if err := checkIPs(c.IPs); err != nil {
		return emu.KeyView{}, true, err
	}
	k := &key{APIKey: c.APIKey, Type: "hmac", Secret: c.Secret, Label: c.Label, Perms: map[string]bool{permReading: true},
		IPs: append([]string(nil), c.IPs...), IPRestrict: len(c.IPs) > 0, account: a}
	if c.Permissions != nil {
		k.Perms = map[string]bool{}
		for _, p := range c.Permissions {
			p = strings.ToLower(strings.TrimSpace(p))
			if !slices.Contains(allPerms, p) {
				return emu.KeyView{}, true, fmt.Errorf("unknown permission %q (want: %s)", p, strings.Join(allPerms, ", "))
			}
			k.Perms[p] = true
		}
	}
	if k.Label == "" {
		k.Label = "key-" + c.APIKey[:6]
	}
	k.Created = v.env.Clock.Now()
	k.Updated = k.Created
	v.st.keys[k.APIKey] = k
	a.Keys = append(a.Keys, k)
	return keyView(k), true, nil
}

func checkIPs(ips []string) error {
	for _, ip := range ips {
		if net.ParseIP(ip) == nil {
			return fmt.Errorf("%q is not an IP address", ip)
		}
	}
	return nil
}

func keyView(k *key) emu.KeyView {
	kv := emu.KeyView{Venue: "binance", APIKey: k.APIKey, Label: k.Label, Permissions: []string{},
		IPRestricted: k.IPRestrict, IPs: append([]string{}, k.IPs...)}
	if k.account != nil {
		kv.Account = k.account.Name
	}
	for p, on := range k.Perms {
		if on {
			kv.Permissions = append(kv.Permissions, p)
		}
	}
	sort.Strings(kv.Permissions)
	return kv
}

// randomAlnum returns n random letters and digits.
func randomAlnum(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}
