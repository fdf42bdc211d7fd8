package binance_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// created is the answer of POST /sapi/v1|v2/sub-account/subAccountApi.
type created struct {
	APIName              string   `json:"apiName"`
	APIKey               string   `json:"apiKey"`
	SecretKey            *string  `json:"secretKey"`
	CanTrade             bool     `json:"canTrade"`
	CanMarginLoanRepay   bool     `json:"canMarginLoanRepay"`
	CanFuturesTrade      bool     `json:"canFuturesTrade"`
	CanUniversalTransfer bool     `json:"canUniversalTransfer"`
	CanVanillaOptions    bool     `json:"canVanillaOptions"`
	Status               int      `json:"status"`
	IPList               []string `json:"ipList"`
}

// createSubKey creates a key for a sub-account and decodes the answer.
func (h *harness) createSubKey(m cred, path string, form url.Values) (reply, created) {
	h.t.Helper()
	r := h.signed(m, http.MethodPost, path, nil, form)
	var got created
	if r.Status == 200 {
		if err := json.Unmarshal(r.Body, &got); err != nil {
			h.t.Fatalf("decode %s: %v", r.Body, err)
		}
	}
	return r, got
}

func pemOf(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// newKeyPair returns a fresh private key (PKCS#8 PEM, as go-binance reads
// it) and its public key (SPKI PEM) of type ed25519 or rsa.
func newKeyPair(t *testing.T, typ string) (priv, pub string) {
	t.Helper()
	var pk, pubk any
	switch typ {
	case "ed25519":
		p, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pk, pubk = k, p
	case "rsa":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		pk, pubk = k, &k.PublicKey
	}
	der, err := x509.MarshalPKCS8PrivateKey(pk)
	if err != nil {
		t.Fatal(err)
	}
	pder, err := x509.MarshalPKIXPublicKey(pubk)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf("PRIVATE KEY", der), pemOf("PUBLIC KEY", pder)
}

// TestSubKeyCreateHMAC: a master creates an HMAC key for a sub-account;
// the secret comes back once, the key works at once within its
// permissions, is listed, and dies when deleted.
func TestSubKeyCreateHMAC(t *testing.T) {
	h := newHarness(t, testdataFS(), testState)
	m := h.creds("acme-master")
	r, got := h.createSubKey(m, "/sapi/v1/sub-account/subAccountApi", url.Values{
		"email": {"risky@acme.example"}, "apiName": {"attacker-bot"}, "status": {"1"}, "canTrade": {"true"}})
	if r.Status != 200 {
		t.Fatalf("create: got %d %s", r.Status, r.Body)
	}
	if got.SecretKey == nil || len(*got.SecretKey) != 64 || len(got.APIKey) != 64 || got.APIName != "attacker-bot" ||
		!got.CanTrade || got.CanFuturesTrade || got.Status != 1 || got.IPList == nil || len(got.IPList) != 0 {
		t.Fatalf("create: got %s, want a 64-char key and secret, canTrade only, status 1, ipList []", r.Body)
	}
	if w := r.Header.Get("X-SAPI-USED-UID-WEIGHT-1M"); w != "3000" {
		t.Errorf("uid weight: got %q, want 3000", w)
	}
	nk := cred{APIKey: got.APIKey, Secret: *got.SecretKey, Type: "hmac"}
	acc, err := h.spot(nk).NewGetAccountService().Do(bg)
	if err != nil || acc.UID != 1004 || !acc.CanTrade || acc.CanWithdraw {
		t.Fatalf("new key reads: got %+v, %v; want the sub-account 1004 with canTrade", acc, err)
	}
	res, err := h.spot(nk).NewCancelOpenOrdersService().Symbol("ETHBTC").Do(bg)
	if err != nil || len(res.Orders) != 1 {
		t.Errorf("new key cancels spot: got %+v, %v; want order 91 cancelled", res, err)
	}
	if err := h.futures(nk).NewCancelAllOpenOrdersService().Symbol("BTCUSDT").Do(bg); apiCode(err) != -2015 {
		t.Errorf("new key without futures permission: got %v, want -2015", err)
	}
	perm, err := h.spot(nk).NewGetAPIKeyPermission().Do(bg)
	if err != nil || !perm.EnableReading || !perm.EnableSpotAndMarginTrading || perm.EnableWithdrawals || perm.IPRestrict {
		t.Errorf("apiRestrictions: got %+v, %v", perm, err)
	}
	list := h.signed(m, http.MethodGet, "/sapi/v1/sub-account/subAccountApi", url.Values{"email": {"risky@acme.example"}}, nil)
	if !strings.Contains(string(list.Body), `"total":2`) || !strings.Contains(string(list.Body), got.APIKey) ||
		!strings.Contains(string(list.Body), `"apiName":"attacker-bot"`) || strings.Contains(string(list.Body), *got.SecretKey) {
		t.Errorf("list: got %s, want the new key listed without its secret", list.Body)
	}
	del := h.signed(m, http.MethodDelete, "/sapi/v1/sub-account/subAccountApi", nil, url.Values{"email": {"risky@acme.example"}, "subAccountApiKey": {got.APIKey}})
	if del.Status != 200 {
		t.Fatalf("delete: got %d %s", del.Status, del.Body)
	}
	if _, err := h.spot(nk).NewGetAccountService().Do(bg); apiCode(err) != -2015 {
		t.Errorf("deleted key: got %v, want -2015", err)
	}
}

// TestSubKeyCreateAsymmetric: with publicKey the key is Ed25519 (v1, v2)
// or RSA (v2), has no secret, and requests signed with the matching
// private key through go-binance work at once.
func TestSubKeyCreateAsymmetric(t *testing.T) {
	h := newHarness(t, testdataFS(), testState)
	m := h.creds("acme-master")
	tests := []struct {
		name, path, typ string
		perms           url.Values
	}{
		{"ed25519 v1", "/sapi/v1/sub-account/subAccountApi", "ed25519", url.Values{"canFuturesTrade": {"true"}}},
		{"ed25519 v2", "/sapi/v2/sub-account/subAccountApi", "ed25519", url.Values{"canFuturesTrade": {"true"}, "canFixApiTrading": {"true"}}},
		{"rsa v2", "/sapi/v2/sub-account/subAccountApi", "rsa", url.Values{"canFuturesTrade": {"true"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			priv, pub := newKeyPair(t, tt.typ)
			form := url.Values{"email": {"ed@acme.example"}, "apiName": {tt.name}, "status": {"2"}, "ipAddress": {"127.0.0.1,10.0.0.1"}, "publicKey": {pub}}
			for k, v := range tt.perms {
				form[k] = v
			}
			r, got := h.createSubKey(m, tt.path, form)
			if r.Status != 200 || got.SecretKey != nil || !got.CanFuturesTrade || got.CanTrade || got.Status != 2 || len(got.IPList) != 2 {
				t.Fatalf("create: got %d %s, want no secretKey, futures only, status 2 with 2 IPs", r.Status, r.Body)
			}
			nk := cred{APIKey: got.APIKey, Secret: priv, Type: tt.typ}
			bal, err := h.futures(nk).NewGetBalanceService().Do(bg)
			if err != nil || len(bal) != 1 || bal[0].Balance != "10000.00000000" {
				t.Fatalf("new key reads futures: got %+v, %v", bal, err)
			}
			if err := h.futures(nk).NewCancelAllOpenOrdersService().Symbol("BTCUSDT").Do(bg); err != nil {
				t.Errorf("new key cancels futures: %v", err)
			}
			if _, err := h.spot(nk).NewCancelOpenOrdersService().Symbol("BTCUSDT").Do(bg); apiCode(err) != -2015 {
				t.Errorf("new key without spot permission: got %v, want -2015", err)
			}
			wrong, _ := newKeyPair(t, tt.typ)
			if _, err := h.spot(cred{APIKey: got.APIKey, Secret: wrong, Type: tt.typ}).NewGetAccountService().Do(bg); apiCode(err) != -1022 {
				t.Errorf("signed with another private key: got %v, want -1022", err)
			}
		})
	}
}

// TestSubKeyCreateIPRestriction: status 2 restricts the new key to
// ipAddress; status 3 (third party) shuts out every client here.
func TestSubKeyCreateIPRestriction(t *testing.T) {
	h := newHarness(t, testdataFS(), testState)
	m := h.creds("acme-master")
	tests := []struct {
		name string
		form url.Values
		want int64
	}{
		{"trusted elsewhere", url.Values{"status": {"2"}, "ipAddress": {"198.51.100.7"}}, -2015},
		{"trusted here", url.Values{"status": {"2"}, "ipAddress": {"198.51.100.7,127.0.0.1"}}, 0},
		{"third party", url.Values{"status": {"3"}, "thirdPartyName": {"SomeBot"}}, -2015},
		{"unrestricted", url.Values{"status": {"1"}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.form.Set("email", "rsa@acme.example")
			tt.form.Set("apiName", tt.name)
			r, got := h.createSubKey(m, "/sapi/v1/sub-account/subAccountApi", tt.form)
			if r.Status != 200 || got.SecretKey == nil {
				t.Fatalf("create: got %d %s", r.Status, r.Body)
			}
			_, err := h.spot(cred{APIKey: got.APIKey, Secret: *got.SecretKey}).NewGetAccountService().Do(bg)
			if apiCode(err) != tt.want || (tt.want == 0 && err != nil) {
				t.Errorf("got %v, want code %d", err, tt.want)
			}
			ip, err := h.spot(m).NewSubAccountApiIpRestrictionService().Email("rsa@acme.example").SubAccountApiKey(got.APIKey).Do(bg)
			if wantRestrict := tt.form.Get("status") != "1"; err != nil || (ip.IpRestrict == "true") != wantRestrict {
				t.Errorf("ip restriction read back: got %+v, %v; want restricted %v", ip, err, wantRestrict)
			}
		})
	}
}

// TestSubKeyCreateRefusals: bad or unauthorised requests are refused with
// Binance's codes and create nothing.
func TestSubKeyCreateRefusals(t *testing.T) {
	h := newHarness(t, testdataFS(), testState)
	m := h.creds("acme-master")
	readonly := h.keyAt("acme-master", 1)
	sub := h.creds("acme-risky")
	_, rsaPub := newKeyPair(t, "rsa")
	_, edPub := newKeyPair(t, "ed25519")
	base := func(extra url.Values) url.Values {
		v := url.Values{"email": {"risky@acme.example"}, "apiName": {"x"}, "status": {"1"}}
		for k, x := range extra {
			v[k] = x
		}
		return v
	}
	tests := []struct {
		name       string
		c          cred
		path       string
		query      url.Values
		form       url.Values
		wantStatus int
		wantCode   int64
	}{
		{"sub-account key", sub, "/sapi/v1/sub-account/subAccountApi", nil, base(nil), 401, -1002},
		{"master key without trading", readonly, "/sapi/v1/sub-account/subAccountApi", nil, base(nil), 401, -2015},
		{"unknown email", m, "/sapi/v1/sub-account/subAccountApi", nil, base(url.Values{"email": {"nobody@acme.example"}}), 400, -12002},
		{"no apiName", m, "/sapi/v1/sub-account/subAccountApi", nil, base(url.Values{"apiName": {""}}), 400, -1102},
		{"no status", m, "/sapi/v1/sub-account/subAccountApi", nil, base(url.Values{"status": {""}}), 400, -1102},
		{"bad status", m, "/sapi/v1/sub-account/subAccountApi", nil, base(url.Values{"status": {"4"}}), 400, -1102},
		{"status 2 without ipAddress", m, "/sapi/v1/sub-account/subAccountApi", nil, base(url.Values{"status": {"2"}}), 400, -1102},
		{"status 2 with a bad IP", m, "/sapi/v1/sub-account/subAccountApi", nil, base(url.Values{"status": {"2"}, "ipAddress": {"300.1.1.1"}}), 400, -1102},
		{"status 3 without thirdPartyName", m, "/sapi/v1/sub-account/subAccountApi", nil, base(url.Values{"status": {"3"}}), 400, -1102},
		{"bad bool", m, "/sapi/v1/sub-account/subAccountApi", nil, base(url.Values{"canTrade": {"yes"}}), 400, -1102},
		{"rsa on v1", m, "/sapi/v1/sub-account/subAccountApi", nil, base(url.Values{"publicKey": {rsaPub}}), 400, -1102},
		{"garbage public key", m, "/sapi/v2/sub-account/subAccountApi", nil, base(url.Values{"publicKey": {"not a key"}}), 400, -1102},
		{"v2 publicKey in the query", m, "/sapi/v2/sub-account/subAccountApi", url.Values{"publicKey": {edPub}}, base(nil), 400, -1102},
		{"v2 FIX trading on hmac", m, "/sapi/v2/sub-account/subAccountApi", nil, base(url.Values{"canFixApiTrading": {"true"}}), 400, -9000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.signed(tt.c, http.MethodPost, tt.path, tt.query, tt.form)
			if r.Status != tt.wantStatus || r.code() != tt.wantCode {
				t.Errorf("got %d %s, want %d %d", r.Status, r.Body, tt.wantStatus, tt.wantCode)
			}
		})
	}
	list := h.signed(m, http.MethodGet, "/sapi/v1/sub-account/subAccountApi", url.Values{"email": {"risky@acme.example"}}, nil)
	if !strings.Contains(string(list.Body), `"total":1`) {
		t.Errorf("after the refusals: got %s, want still 1 key", list.Body)
	}
}
