package kucoin

import (
	"strings"
	"time"
	"unicode/utf8"
)

// maxSubKeys bounds the keys of one sub-account (KuCoin's limit is not
// documented; the web UI stops at 20).
const maxSubKeys = 20

// hCreateSubKey is POST /api/v1/sub/api-key: a master creates an API key
// for one of its sub-accounts. The key is version 3, has General plus the
// permissions asked (only General, Spot, Futures, Margin, InnerTransfer),
// works at once and is listed by GET /api/v1/sub/api-key. The answer is
// the only place its secret appears.
func hCreateSubKey(c *call) (any, *apiError) {
	var req struct {
		SubName     string `json:"subName"`
		Passphrase  string `json:"passphrase"`
		Remark      string `json:"remark"`
		Permission  string `json:"permission"`
		IPWhitelist string `json:"ipWhitelist"`
		Expire      string `json:"expire"`
	}
	if aerr := c.decodeBody(&req); aerr != nil {
		return nil, aerr
	}
	sub, aerr := c.subByName(req.SubName)
	if aerr != nil {
		return nil, aerr
	}
	if n := utf8.RuneCountInString(req.Passphrase); n < 7 || n > 32 || strings.ContainsAny(req.Passphrase, " \t\r\n") {
		return nil, badParam("passphrase must be 7-32 characters without spaces")
	}
	if n := utf8.RuneCountInString(req.Remark); n < 1 || n > 24 {
		return nil, badParam("remark must be 1-24 characters")
	}
	perms := []string{"General"}
	for _, p := range strings.Split(req.Permission, ",") {
		p = strings.TrimSpace(p)
		switch {
		case p == "" || p == "General":
		case contains(subPermissions, p):
			if !contains(perms, p) {
				perms = append(perms, p)
			}
		default:
			return nil, badParam("permission is invalid: %s (a sub-account key may have %s)", p, strings.Join(subPermissions, ", "))
		}
	}
	var ips []string
	for _, ip := range strings.Split(req.IPWhitelist, ",") {
		if ip = strings.TrimSpace(ip); ip != "" {
			ips = append(ips, ip)
		}
	}
	if err := checkIPs(ips); err != nil {
		return nil, badParam("ipWhitelist is invalid: %v", err)
	}
	var expires time.Time
	switch req.Expire {
	case "", "-1":
	case "30", "90", "180", "360":
		d, _ := time.ParseDuration(req.Expire + "h")
		expires = c.now.Add(24 * d)
	default:
		return nil, badParam("expire must be -1, 30, 90, 180 or 360")
	}
	live := 0
	for _, k := range sub.keys {
		if !k.deleted {
			live++
		}
	}
	if live >= maxSubKeys {
		return nil, badParam("the sub-account already has %d API keys", maxSubKeys)
	}
	k := &apiKey{key: randomHex(24), secret: newSecret(), passphrase: req.Passphrase, version: 3, permission: perms,
		ipList: ips, remark: req.Remark, createdAt: c.now.UnixMilli(), expiresAt: expires, owner: sub}
	for c.w.keys[k.key] != nil {
		k.key = randomHex(24)
	}
	sub.keys = append(sub.keys, k)
	c.w.keys[k.key] = k
	return map[string]any{
		"subName": sub.name, "remark": k.remark, "apiKey": k.key, "apiSecret": k.secret, "apiVersion": k.version,
		"passphrase": k.passphrase, "permission": strings.Join(perms, ","), "ipWhitelist": strings.Join(ips, ","),
		"createdAt": k.createdAt,
	}, nil
}

// newSecret is a random secret shaped like KuCoin's (a UUID).
func newSecret() string {
	h := randomHex(32)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
