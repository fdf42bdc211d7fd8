package binance

import (
	"crypto"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

var (
	apiKeyHeaderRE = regexp.MustCompile(`^[A-Za-z0-9]{1,128}$`)
	recvWindowRE   = regexp.MustCompile(`^[0-9]{1,5}(\.[0-9]{1,3})?$`)
	timestampRE    = regexp.MustCompile(`^[0-9]{1,20}$`)
)

// authenticate applies Binance's SIGNED-endpoint rules in order: API key
// present and well-formed (-2014), known (-2015; -2008 on /sapi), timestamp present
// (-1102), recvWindow valid (-1131), signature present (-1102), timestamp
// inside the window (-1021), signature valid (-1022), IP allowed (-2015).
// On success c.key and c.acct are set.
func (v *Venue) authenticate(c *call, rawQuery, rawBody string) bool {
	apiKey := c.r.Header.Get("X-MBX-APIKEY")
	if apiKey == "" || !apiKeyHeaderRE.MatchString(apiKey) {
		c.fail(http.StatusUnauthorized, -2014, "API-key format invalid.")
		return false
	}
	c.e.Key = apiKey
	k := c.st.keyByAPIKey(apiKey)
	if k == nil {
		c.unknownKey()
		return false
	}
	c.e.Account = k.account.Name
	tsRaw := c.p.Get("timestamp")
	if !timestampRE.MatchString(tsRaw) {
		c.mandatory("timestamp")
		return false
	}
	ts, err := strconv.ParseInt(tsRaw, 10, 64)
	if err != nil {
		c.mandatory("timestamp")
		return false
	}
	if ts > 1e14 { // microseconds
		ts /= 1000
	}
	recvWindow := 5000.0
	if rw := c.p.Get("recvWindow"); rw != "" {
		if !recvWindowRE.MatchString(rw) {
			c.fail(http.StatusBadRequest, -1100, "Illegal characters found in parameter 'recvWindow'; legal range is '^[0-9]{1,5}(\\.[0-9]{1,3})?$'.")
			return false
		}
		f, _ := strconv.ParseFloat(rw, 64)
		if f > 60000 || f <= 0 {
			c.fail(http.StatusBadRequest, -1131, "recvWindow must be less than 60000.")
			return false
		}
		recvWindow = f
	}
	sig, ok := extractSignature(rawQuery, rawBody)
	if !ok || sig == "" {
		c.mandatory("signature")
		return false
	}
	nowMs := c.now.UnixMilli()
	if ts >= nowMs+1000 {
		c.fail(http.StatusBadRequest, -1021, "Timestamp for this request was 1000ms ahead of the server's time.")
		return false
	}
	if float64(nowMs-ts) > math.Floor(recvWindow) {
		c.fail(http.StatusBadRequest, -1021, "Timestamp for this request is outside of the recvWindow.")
		return false
	}
	payload := stripSignature(rawQuery) + stripSignature(rawBody)
	if !verifySignature(k, payload, sig) {
		c.fail(http.StatusBadRequest, -1022, "Signature for this request is not valid.")
		return false
	}
	if k.IPRestrict && !contains(k.IPs, c.ip) {
		c.rejectKey()
		return false
	}
	c.key, c.acct = k, k.account
	return true
}

// extractSignature returns the percent-decoded signature from the query
// or, failing that, the body.
func extractSignature(rawQuery, rawBody string) (string, bool) {
	for _, raw := range []string{rawQuery, rawBody} {
		for _, part := range strings.Split(raw, "&") {
			if v, ok := strings.CutPrefix(part, "signature="); ok {
				dec, err := url.QueryUnescape(v)
				if err != nil {
					return "", false
				}
				return dec, true
			}
		}
	}
	return "", false
}

// stripSignature removes every signature= pair from a raw query or body,
// keeping the rest byte for byte.
func stripSignature(raw string) string {
	if !strings.Contains(raw, "signature=") {
		return raw
	}
	parts := strings.Split(raw, "&")
	out := parts[:0]
	for _, p := range parts {
		if !strings.HasPrefix(p, "signature=") {
			out = append(out, p)
		}
	}
	return strings.Join(out, "&")
}

// verifySignature checks sig over payload with k: HMAC-SHA256 hex (case
// insensitive), Ed25519 or RSA PKCS#1 v1.5 SHA-256 (base64).
func verifySignature(k *key, payload, sig string) bool {
	switch k.Type {
	case "hmac":
		got, err := hex.DecodeString(strings.ToLower(sig))
		if err != nil {
			return false
		}
		m := hmac.New(sha256.New, []byte(k.Secret))
		m.Write([]byte(payload))
		return hmac.Equal(got, m.Sum(nil))
	case "ed25519":
		raw, err := base64.StdEncoding.DecodeString(sig)
		if err != nil {
			return false
		}
		pub, ok := k.pub.(ed25519.PublicKey)
		return ok && ed25519.Verify(pub, []byte(payload), raw)
	case "rsa":
		raw, err := base64.StdEncoding.DecodeString(sig)
		if err != nil {
			return false
		}
		pub, ok := k.pub.(*rsa.PublicKey)
		if !ok {
			return false
		}
		h := sha256.Sum256([]byte(payload))
		return rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], raw) == nil
	}
	return false
}
