package binance

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"

	gobinance "github.com/adshao/go-binance/v2"
	"github.com/adshao/go-binance/v2/common"
	"github.com/adshao/go-binance/v2/futures"
)

// captured is one request as it arrived on the wire.
type captured struct {
	method, path, rawQuery, body, apiKey, contentType string
}

func captureServer(t *testing.T, reply string) (*httptest.Server, func() captured) {
	t.Helper()
	var (
		mu   sync.Mutex
		last captured
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		last = captured{r.Method, r.URL.Path, r.URL.RawQuery, string(b), r.Header.Get("X-MBX-APIKEY"), r.Header.Get("Content-Type")}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, reply)
	}))
	t.Cleanup(srv.Close)
	return srv, func() captured { mu.Lock(); defer mu.Unlock(); return last }
}

func pemPKCS8(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("marshal key: %v", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// TestSignedMatchesSDK proves the hand-rolled helper signs exactly like the
// SDK: for each key type and each way the SDK places parameters (query,
// form body, e-mail with @, futures client), the request the helper builds
// for the same parameters and timestamp is byte-identical on the wire.
func TestSignedMatchesSDK(t *testing.T) {
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keys := []struct{ name, kt, secret string }{
		{"hmac", common.KeyTypeHmac, "hmacSecret"},
		{"ed25519", common.KeyTypeEd25519, pemPKCS8(t, edKey)},
		{"rsa", common.KeyTypeRsa, pemPKCS8(t, rsaKey)},
	}
	type call struct {
		name   string
		reply  string
		method string
		path   string
		query  url.Values
		form   url.Values
		spot   bool
		sdk    func(ctx context.Context, base, kt, secret string) error
	}
	calls := []call{
		{name: "query with e-mail", reply: `{"balances":[]}`, method: "GET", path: "/sapi/v4/sub-account/assets",
			query: url.Values{"email": {"bot1@fund.example"}}, spot: true,
			sdk: func(ctx context.Context, base, kt, sec string) error {
				c := gobinance.NewClient("k", sec)
				c.BaseURL, c.KeyType, c.HTTPClient = base, kt, &http.Client{}
				_, err := c.NewSubAccountAssetService().Email("bot1@fund.example").Do(ctx)
				return err
			}},
		{name: "form body", reply: `[]`, method: "DELETE", path: "/sapi/v1/margin/openOrders",
			form: url.Values{"symbol": {"BNBUSDT"}, "isIsolated": {"TRUE"}}, spot: true,
			sdk: func(ctx context.Context, base, kt, sec string) error {
				c := gobinance.NewClient("k", sec)
				c.BaseURL, c.KeyType, c.HTTPClient = base, kt, &http.Client{}
				_, err := c.NewCancelAllMarginOrdersService().Symbol("BNBUSDT").IsIsolated(true).Do(ctx)
				return err
			}},
		{name: "form body with e-mail", reply: `{"tranId":1}`, method: "POST", path: "/sapi/v1/sub-account/universalTransfer",
			form: url.Values{"fromEmail": {"bot1@fund.example"}, "fromAccountType": {"SPOT"}, "toAccountType": {"SPOT"}, "asset": {"USDT"}, "amount": {"12.5"}}, spot: true,
			sdk: func(ctx context.Context, base, kt, sec string) error {
				c := gobinance.NewClient("k", sec)
				c.BaseURL, c.KeyType, c.HTTPClient = base, kt, &http.Client{}
				_, err := c.NewSubAccountUniversalTransferService().FromEmail("bot1@fund.example").FromAccountType("SPOT").ToAccountType("SPOT").Asset("USDT").Amount("12.5").Do(ctx)
				return err
			}},
		{name: "futures form body", reply: `{"code":200,"msg":"done"}`, method: "DELETE", path: "/fapi/v1/allOpenOrders",
			form: url.Values{"symbol": {"BTCUSDT"}},
			sdk: func(ctx context.Context, base, kt, sec string) error {
				c := futures.NewClient("k", sec)
				c.BaseURL, c.KeyType, c.HTTPClient = base, kt, &http.Client{}
				return c.NewCancelAllOpenOrdersService().Symbol("BTCUSDT").Do(ctx)
			}},
	}
	for _, k := range keys {
		for _, c := range calls {
			t.Run(k.name+"/"+c.name, func(t *testing.T) {
				srv, last := captureServer(t, c.reply)
				if err := c.sdk(context.Background(), srv.URL, k.kt, k.secret); err != nil {
					t.Fatalf("sdk call: %v", err)
				}
				want := last()
				q, _ := url.ParseQuery(want.rawQuery)
				ts, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
				if err != nil {
					t.Fatalf("sdk sent no timestamp: %q", want.rawQuery)
				}
				req, err := buildSigned(signParams{base: srv.URL, method: c.method, path: c.path, query: c.query, form: c.form,
					apiKey: "k", secret: k.secret, keyType: k.kt, timestamp: ts, spotFamily: c.spot})
				if err != nil {
					t.Fatalf("buildSigned: %v", err)
				}
				resp, err := http.DefaultTransport.RoundTrip(req)
				if err != nil {
					t.Fatalf("send: %v", err)
				}
				resp.Body.Close()
				got := last()
				if got != want {
					t.Errorf("wire request differs from the SDK's:\n got %+v\nwant %+v", got, want)
				}
			})
		}
	}
}
