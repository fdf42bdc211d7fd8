package binance

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// keyAlphabet is the alphabet of generated API keys and HMAC secrets
// (Binance's are 64 letters and digits).
const keyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomToken returns n random letters and digits.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("binance: crypto/rand failed: %v", err))
	}
	for i := range b {
		b[i] = keyAlphabet[int(b[i])%len(keyAlphabet)]
	}
	return string(b)
}

// createPerms maps the create/permission endpoints' can* parameters onto
// the emulator's permission names.
var createPerms = []struct{ param, perm string }{
	{"canTrade", permSpot}, {"canMarginLoanRepay", permMargin}, {"canFuturesTrade", permFutures},
	{"canUniversalTransfer", permUniversalTransfer}, {"canVanillaOptions", permOptions},
}

// parsePublicKey reads a caller-supplied public key: PEM (SPKI or PKCS#1
// RSA) or the bare base64 of its DER SPKI, as Binance's key form takes
// it. It returns the key type (ed25519 or rsa), the key and its PEM.
func parsePublicKey(raw string) (string, any, string, error) {
	raw = strings.TrimSpace(raw)
	if !strings.HasPrefix(raw, "-----BEGIN") {
		der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(raw), ""))
		if err != nil {
			return "", nil, "", fmt.Errorf("not PEM or base64")
		}
		raw = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	}
	b, _ := pem.Decode([]byte(raw))
	if b == nil {
		return "", nil, "", fmt.Errorf("not PEM")
	}
	var pub any
	var err error
	if b.Type == "RSA PUBLIC KEY" {
		pub, err = x509.ParsePKCS1PublicKey(b.Bytes)
	} else {
		pub, err = x509.ParsePKIXPublicKey(b.Bytes)
	}
	if err != nil {
		return "", nil, "", err
	}
	switch p := pub.(type) {
	case ed25519.PublicKey:
		return "ed25519", p, raw, nil
	case *rsa.PublicKey:
		if p.N.BitLen() < 2048 {
			return "", nil, "", fmt.Errorf("RSA keys must have at least 2048 bits")
		}
		return "rsa", p, raw, nil
	}
	return "", nil, "", fmt.Errorf("unsupported key type")
}

// handleSubKeyCreate is POST /sapi/v1|v2/sub-account/subAccountApi: a
// master creates a key for one of its sub-accounts. HMAC keys get a
// generated secret returned once; with publicKey the key is Ed25519 (v1
// and v2) or RSA (v2 only) and signs with the caller's private key. The
// key works at once on every endpoint its permissions allow.
func handleSubKeyCreate(v2 bool) func(*call) {
	return func(c *call) {
		p := c.p
		sub := c.subByEmail("email")
		if sub == nil {
			return
		}
		name := p.Get("apiName")
		if strings.TrimSpace(name) == "" {
			c.mandatory("apiName")
			return
		}
		status := p.Get("status")
		if status == "" {
			c.mandatory("status")
			return
		}
		perms := map[string]bool{permReading: true}
		for _, f := range createPerms {
			raw := p.Get(f.param)
			if raw == "" {
				continue
			}
			on, ok := parseBool(raw)
			if !ok {
				c.fail(http.StatusBadRequest, -1102, fmt.Sprintf("Param '%s' must be true or false.", f.param))
				return
			}
			if on {
				perms[f.perm] = true
			}
		}
		k := &key{APIKey: randomToken(64), Label: name, Perms: perms, Created: c.now, Updated: c.now,
			exportSet: true, account: sub}
		switch status {
		case "1":
		case "2":
			raw := p.Get("ipAddress")
			if raw == "" {
				c.mandatory("ipAddress")
				return
			}
			if len(raw) > 500 {
				c.fail(http.StatusBadRequest, -1102, "Param 'ipAddress' is longer than 500 characters.")
				return
			}
			ips, ok := c.parseIPList(raw)
			if !ok {
				return
			}
			if len(ips) == 0 {
				c.mandatory("ipAddress")
				return
			}
			k.IPRestrict, k.IPs = true, ips
		case "3":
			if p.Get("thirdPartyName") == "" {
				c.mandatory("thirdPartyName")
				return
			}
			k.IPRestrict = true
		default:
			c.fail(http.StatusBadRequest, -1102, "Param 'status' must be 1, 2 or 3.")
			return
		}
		pubRaw := p.Get("publicKey")
		if v2 && pubRaw != "" {
			if q, err := url.ParseQuery(c.r.URL.RawQuery); err == nil && q.Has("publicKey") {
				c.fail(http.StatusBadRequest, -1102, "Param 'publicKey' must be sent in the request body.")
				return
			}
		}
		k.Type = "hmac"
		if pubRaw != "" {
			typ, pub, pemText, err := parsePublicKey(pubRaw)
			if err != nil || (!v2 && typ != "ed25519") {
				c.fail(http.StatusBadRequest, -1102, "Param 'publicKey' is not a valid public key.")
				return
			}
			k.Type, k.pub, k.PublicKey = typ, pub, pemText
		} else {
			k.Secret = randomToken(64)
		}
		if v2 {
			for _, f := range []string{"canFixApiTrading", "canFixApiReading"} {
				raw := p.Get(f)
				if raw == "" {
					continue
				}
				on, ok := parseBool(raw)
				if !ok {
					c.fail(http.StatusBadRequest, -1102, fmt.Sprintf("Param '%s' must be true or false.", f))
					return
				}
				if on && k.Type != "ed25519" {
					c.fail(http.StatusBadRequest, -9000, "Unsupported operation")
					return
				}
			}
		}
		sub.Keys = append(sub.Keys, k)
		c.st.keys[k.APIKey] = k
		out := obj{"apiName": k.Label, "apiKey": k.APIKey, "canTrade": perms[permSpot],
			"canMarginLoanRepay": perms[permMargin], "canFuturesTrade": perms[permFutures],
			"canUniversalTransfer": perms[permUniversalTransfer], "canVanillaOptions": perms[permOptions],
			"status": int(status[0] - '0'), "ipList": append([]string{}, k.IPs...)}
		if k.Type == "hmac" {
			out["secretKey"] = k.Secret
		}
		c.ok(out)
	}
}
