package kucoin

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

var _ emu.KeyEditor = (*Venue)(nil)

// subPermissions are the permissions KuCoin lets a sub-account key have
// (never the withdrawal permission, Transfer).
var subPermissions = []string{"General", "Spot", "Futures", "Margin", "InnerTransfer"}

// maxIPs is KuCoin's limit on a key's IP whitelist.
const maxIPs = 20

// EditKey changes a key's settings as KuCoin's API Management page does:
// permissions, withdrawals (the "Transfer" permission), IP whitelist.
// Like the web UI it refuses the withdrawal permission on a sub-account
// key; it does not enforce the UI's rule that withdrawals need an IP
// whitelist, so a test can produce the worst case (see STATE.md). Only the
// spot venue answers (the futures venue shares its state).
func (v *Venue) EditKey(apiKey string, e emu.KeyEdit) (emu.KeyView, bool, error) {
	if v.name != SpotName {
		return emu.KeyView{}, false, nil
	}
	v.st.mu.Lock()
	defer v.st.mu.Unlock()
	k := v.st.w.keys[apiKey]
	if k == nil || k.deleted {
		return emu.KeyView{}, false, nil
	}
	perms := append([]string(nil), k.permission...)
	if e.Permissions != nil {
		perms = nil
		for _, p := range *e.Permissions {
			p = strings.TrimSpace(p)
			if !validPermission(p) {
				return emu.KeyView{}, true, fmt.Errorf("unknown permission %q (want: %s)", p, strings.Join(permissions, ", "))
			}
			if !slices.Contains(perms, p) {
				perms = append(perms, p)
			}
		}
	}
	if e.Withdrawals != nil {
		perms = slices.DeleteFunc(perms, func(p string) bool { return p == "Transfer" })
		if *e.Withdrawals {
			perms = append(perms, "Transfer")
		}
	}
	if !slices.Contains(perms, "General") {
		perms = append([]string{"General"}, perms...)
	}
	if err := checkKeyPerms(k.owner, perms); err != nil {
		return emu.KeyView{}, true, err
	}
	ips := k.ipList
	if e.IPs != nil {
		if err := checkIPs(*e.IPs); err != nil {
			return emu.KeyView{}, true, err
		}
		ips = append([]string(nil), *e.IPs...)
	}
	k.permission, k.ipList = perms, ips
	return keyView(k), true, nil
}

// CreateKey creates a key for a user (master or sub-account), as the web
// UI's "Create API" does; empty api_key, secret or passphrase are
// generated. Default permissions: General.
func (v *Venue) CreateKey(c emu.KeyCreate) (emu.KeyView, bool, error) {
	if v.name != SpotName || (c.Venue != "" && c.Venue != SpotName) {
		return emu.KeyView{}, false, nil
	}
	v.st.mu.Lock()
	defer v.st.mu.Unlock()
	u := v.st.w.users[c.Account]
	if u == nil {
		return emu.KeyView{}, false, nil
	}
	if c.APIKey == "" {
		c.APIKey = randomHex(24)
	}
	if c.Secret == "" {
		c.Secret = randomHex(32)
	}
	if c.Passphrase == "" {
		c.Passphrase = "pass-" + randomHex(10)
	}
	if v.st.w.keys[c.APIKey] != nil {
		return emu.KeyView{}, true, fmt.Errorf("api_key is already used by another key")
	}
	perms := []string{"General"}
	for _, p := range c.Permissions {
		if !validPermission(p) {
			return emu.KeyView{}, true, fmt.Errorf("unknown permission %q (want: %s)", p, strings.Join(permissions, ", "))
		}
		if !slices.Contains(perms, p) {
			perms = append(perms, p)
		}
	}
	if err := checkKeyPerms(u, perms); err != nil {
		return emu.KeyView{}, true, err
	}
	if err := checkIPs(c.IPs); err != nil {
		return emu.KeyView{}, true, err
	}
	k := &apiKey{key: c.APIKey, secret: c.Secret, passphrase: c.Passphrase, version: 3, permission: perms,
		ipList: append([]string(nil), c.IPs...), remark: c.Label, createdAt: v.st.now().UnixMilli(), owner: u}
	if k.remark == "" {
		k.remark = u.name + " key " + c.APIKey[:6]
	}
	u.keys = append(u.keys, k)
	v.st.w.keys[k.key] = k
	return keyView(k), true, nil
}

func checkKeyPerms(u *user, perms []string) error {
	if u.master == nil {
		return nil
	}
	for _, p := range perms {
		if !slices.Contains(subPermissions, p) {
			return fmt.Errorf("a sub-account key cannot have the %s permission (KuCoin allows %s)", p, strings.Join(subPermissions, ", "))
		}
	}
	return nil
}

func checkIPs(ips []string) error {
	if len(ips) > maxIPs {
		return fmt.Errorf("the IP whitelist allows at most %d addresses", maxIPs)
	}
	for _, ip := range ips {
		if net.ParseIP(ip) == nil {
			if _, _, err := net.ParseCIDR(ip); err != nil {
				return fmt.Errorf("%q is not an IP address", ip)
			}
		}
	}
	return nil
}

func keyView(k *apiKey) emu.KeyView {
	kv := emu.KeyView{Venue: SpotName, APIKey: k.key, Label: k.remark, Permissions: append([]string{}, k.permission...),
		IPRestricted: len(k.ipList) > 0, IPs: append([]string{}, k.ipList...)}
	if k.owner != nil {
		kv.Account = k.owner.name
	}
	return kv
}

func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}
