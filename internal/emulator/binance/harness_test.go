package binance_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gb "github.com/adshao/go-binance/v2"
	"github.com/adshao/go-binance/v2/common"
	"github.com/adshao/go-binance/v2/delivery"
	"github.com/adshao/go-binance/v2/futures"
	"go.yaml.in/yaml/v3"

	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/emulator/binance"
	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

const testState = "binance-test.yaml"

func testdataFS() fs.FS { return os.DirFS("../../../testdata/emulator") }

// harness is an emulator with only the Binance venue, on a real loopback
// listener, with a clock tests can move.
type harness struct {
	t    testing.TB
	srv  *emulator.Server
	root string // http://127.0.0.1:PORT
	base string // root + "/binance"
	adv  atomic.Int64
	fsys fs.FS
	name string
}

func newHarness(t testing.TB, fsys fs.FS, name string) *harness {
	t.Helper()
	h := &harness{t: t, fsys: fsys, name: name}
	cfg := emulator.Config{
		Loaders: map[string]emu.Loader{"binance": binance.Load},
		Now:     func() time.Time { return time.Now().Add(time.Duration(h.adv.Load())) },
	}
	vs, err := emulator.LoadState(fsys, name, cfg)
	if err != nil {
		t.Fatalf("load state: %v", err)
	}
	h.srv = emulator.New(cfg, vs)
	root, err := h.srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { _ = h.srv.Close() })
	h.root, h.base = root, root+"/binance"
	return h
}

// alignMinute moves the emulator clock to just after the start of a
// minute, so rate-limit tests never straddle a window.
func (h *harness) alignMinute() {
	now := time.Now()
	next := now.Truncate(time.Minute).Add(time.Minute)
	h.adv.Store(int64(next.Sub(now) + 200*time.Millisecond))
}

// advance moves the emulator clock forward by d.
func (h *harness) advance(d time.Duration) { h.adv.Add(int64(d)) }

// cred is one key of the test state.
type cred struct {
	APIKey, Secret, Type string
}

// creds reads the first key of an account from the state file.
func (h *harness) creds(account string) cred { return h.keyAt(account, 0) }

// keyAt reads key idx of an account from the state file.
func (h *harness) keyAt(account string, idx int) cred {
	h.t.Helper()
	b, err := fs.ReadFile(h.fsys, h.name)
	if err != nil {
		h.t.Fatal(err)
	}
	var doc struct {
		Binance struct {
			Accounts []struct {
				Name string `yaml:"name"`
				Keys []struct {
					APIKey     string `yaml:"api_key"`
					Secret     string `yaml:"secret"`
					Type       string `yaml:"type"`
					PrivateKey string `yaml:"private_key"`
				} `yaml:"keys"`
			} `yaml:"accounts"`
		} `yaml:"binance"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		h.t.Fatal(err)
	}
	for _, a := range doc.Binance.Accounts {
		if a.Name == account && len(a.Keys) > idx {
			k := a.Keys[idx]
			c := cred{APIKey: k.APIKey, Secret: k.Secret, Type: k.Type}
			if c.Type == "" {
				c.Type = "hmac"
			}
			if c.Type != "hmac" {
				c.Secret = k.PrivateKey
			}
			return c
		}
	}
	h.t.Fatalf("no key for account %s in %s", account, h.name)
	return cred{}
}

func (c cred) keyType() string {
	switch c.Type {
	case "ed25519":
		return common.KeyTypeEd25519
	case "rsa":
		return common.KeyTypeRsa
	}
	return common.KeyTypeHmac
}

// offsetMs is the SDK TimeOffset that compensates the clock advance.
func (h *harness) offsetMs() int64 { return -time.Duration(h.adv.Load()).Milliseconds() }

func (h *harness) spot(c cred) *gb.Client {
	cl := gb.NewClient(c.APIKey, c.Secret)
	cl.BaseURL = h.base
	cl.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	cl.KeyType = c.keyType()
	cl.TimeOffset = h.offsetMs()
	return cl
}

func (h *harness) futures(c cred) *futures.Client {
	cl := futures.NewClient(c.APIKey, c.Secret)
	cl.BaseURL = h.base
	cl.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	cl.KeyType = c.keyType()
	cl.TimeOffset = h.offsetMs()
	return cl
}

func (h *harness) delivery(c cred) *delivery.Client {
	cl := delivery.NewClient(c.APIKey, c.Secret)
	cl.BaseURL = h.base
	cl.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	cl.KeyType = c.keyType()
	cl.TimeOffset = h.offsetMs()
	return cl
}

// reply is a raw HTTP answer.
type reply struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r reply) code() int64 {
	var e struct {
		Code int64 `json:"code"`
	}
	_ = json.Unmarshal(r.Body, &e)
	return e.Code
}

// signed sends a signed request exactly as go-binance does: query params
// sorted, timestamp added, form params in the body, signature over
// query+body appended last to the query.
func (h *harness) signed(c cred, method, path string, query, form url.Values) reply {
	h.t.Helper()
	if query == nil {
		query = url.Values{}
	}
	query.Set("timestamp", itoa(time.Now().UnixMilli()+h.offsetMs()*-1))
	return h.rawSigned(c, method, path, query.Encode(), form.Encode())
}

func (h *harness) rawSigned(c cred, method, path, qs, body string) reply {
	h.t.Helper()
	sf, err := common.SignFunc(c.keyType())
	if err != nil {
		h.t.Fatal(err)
	}
	sig, err := sf(c.Secret, qs+body)
	if err != nil {
		h.t.Fatal(err)
	}
	v := url.Values{}
	v.Set("signature", *sig)
	if qs == "" {
		qs = v.Encode()
	} else {
		qs += "&" + v.Encode()
	}
	return h.do(method, h.base+path+"?"+qs, body, c.APIKey)
}

func (h *harness) do(method, u, body, apiKey string) reply {
	h.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, u, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if apiKey != "" {
		req.Header.Set("X-MBX-APIKEY", apiKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func hmacHex(secret, payload string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(payload))
	return hex.EncodeToString(m.Sum(nil))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// apiCode extracts the Binance error code from an SDK error.
func apiCode(err error) int64 {
	if e, ok := err.(*common.APIError); ok {
		return e.Code
	}
	return 0
}
