package emulator_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/emulator/binance"
	"github.com/panicbutton/panicbutton/internal/emulator/emu"
	"github.com/panicbutton/panicbutton/internal/emulator/venues"
)

func testdata() string { return "../../testdata/emulator" }

// TestLoadStateErrors: every bad state names its file, line and column.
func TestLoadStateErrors(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"bad-unknown-venue.yaml", `bad-unknown-venue.yaml:3:1: unknown venue "bitfinex" (known: binance, kucoin)`},
		{"bad-syntax.yaml", "bad-syntax.yaml:2:1: did not find expected '-' indicator"},
		{"bad-binance-typo.yaml", `bad-binance-typo.yaml:5:7: unknown field "emial" (want one of: name, email,`},
		{"bad-binance-parent.yaml", `bad-binance-parent.yaml:6:7: account bot: parent "mian" is not an account in this state`},
		{"bad-binance-key.yaml", "bad-binance-key.yaml:6:11: key abcd…5678: public_key is not PEM"},
		{"bad-binance-number.yaml", `bad-binance-number.yaml:8:61: "lots" is not a number`},
		{"bad-binance-dup-key.yaml", "bad-binance-dup-key.yaml:10:12: account other: api_key is already used by another key"},
		{"bad-binance-hedge.yaml", "bad-binance-hedge.yaml:9:13: usdm position BTCUSDT: the account is in hedge mode (dual side): side must be LONG or SHORT"},
		{"bad-binance-side.yaml", "bad-binance-side.yaml:7:37: spot order: side must be BUY or SELL"},
		{"no-such-file.yaml", "read state file: open no-such-file.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := emulator.LoadState(os.DirFS(testdata()), tt.file, emulator.Config{Loaders: venues.DefaultLoaders()})
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("got %v, want an error starting %q", err, tt.want)
			}
		})
	}
}

func venueNames(vs []emu.Venue) []string {
	var names []string
	for _, v := range vs {
		names = append(names, v.Name())
	}
	sort.Strings(names)
	return names
}

// TestLoadDemoState: the embedded demo loads with every loader, and with
// the Binance loader alone (a known venue without a loader is skipped).
func TestLoadDemoState(t *testing.T) {
	fsys, name := venues.DemoState()
	tests := []struct {
		name    string
		loaders map[string]emu.Loader
		want    string
	}{
		{"all venues", venues.DefaultLoaders(), "binance,kucoin,kucoin-futures"},
		{"binance only", map[string]emu.Loader{"binance": binance.Load}, "binance"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs, err := emulator.LoadState(fsys, name, emulator.Config{Loaders: tt.loaders})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(venueNames(vs), ","); got != tt.want {
				t.Errorf("got venues %s, want %s", got, tt.want)
			}
		})
	}
	vs, err := emulator.LoadState(fsys, name, emulator.Config{Loaders: venues.DefaultLoaders()})
	if err != nil {
		t.Fatal(err)
	}
	snap, _ := json.Marshal(emulator.Unwrap(vs[0]).Snapshot())
	for _, want := range []string{"northwind-master", "northwind-trading", "northwind-arb", "northwind-hedge", `"type":"ed25519"`, `"spot_lists":[{`} {
		if !strings.Contains(string(snap), want) {
			t.Errorf("demo binance state lacks %s", want)
		}
	}
}

// echoVenue answers with its name and the path it saw.
type echoVenue struct {
	name   string
	resets int
}

func (e *echoVenue) Name() string { return e.name }
func (e *echoVenue) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		emu.Annotate(r).Kind = emu.KindRead
		_, _ = io.WriteString(w, e.name+" "+r.URL.Path)
	})
}
func (e *echoVenue) Snapshot() any { return map[string]int{"resets": e.resets} }
func (e *echoVenue) Reset()        { e.resets++ }
func (e *echoVenue) ExportAccounts() []emu.AccountExport {
	if e.name != "kucoin" {
		return nil
	}
	return []emu.AccountExport{{Name: "kc-main", Exchange: "kucoin", APIKey: "kckey", Secret: "kcsecret", Passphrase: "p@ss word!",
		KeyVersion: 3, Tags: []string{"emulator"}, SubKeys: []emu.SubKeyExport{{Sub: "bot1", APIKey: "subkey", Passphrase: "subpass"}}}}
}

func newEchoServer(t *testing.T) (*emulator.Server, []*echoVenue) {
	t.Helper()
	vs := []*echoVenue{{name: "kucoin"}, {name: "kucoin-futures"}, {name: "binance"}}
	var list []emu.Venue
	for _, v := range vs {
		list = append(list, v)
	}
	return emulator.New(emulator.Config{}, list), vs
}

func get(t *testing.T, h http.Handler, method, path, body, remote string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if remote != "" {
		req.RemoteAddr = remote
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestRouting: each venue sees its own requests with the prefix removed.
func TestRouting(t *testing.T) {
	srv, _ := newEchoServer(t)
	tests := []struct{ path, want string }{
		{"/kucoin/api/v1/timestamp", "kucoin /api/v1/timestamp"},
		{"/kucoin-futures/api/v1/timestamp", "kucoin-futures /api/v1/timestamp"},
		{"/binance/api/v3/time", "binance /api/v3/time"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			rec := get(t, srv.Handler(), http.MethodGet, tt.path, "", "")
			if got := rec.Body.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if rec := get(t, srv.Handler(), http.MethodGet, "/bitfinex/x", "", ""); rec.Code != http.StatusNotFound {
		t.Errorf("unknown prefix: got %d, want 404", rec.Code)
	}
	log := srv.Requests()
	if len(log) != 3 || log[1].Venue != "kucoin-futures" || log[1].Path != "/api/v1/timestamp" || log[1].Seq != 2 || log[1].Kind != emu.KindRead {
		t.Errorf("got log %+v", log)
	}
}

// TestStartLoopbackOnly: Start refuses addresses that are not loopback.
func TestStartLoopbackOnly(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:0", true},
		{"localhost:0", true},
		{"", true},
		{"0.0.0.0:0", false},
		{":0", false},
		{"192.0.2.10:0", false},
		{"[::]:0", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			srv, _ := newEchoServer(t)
			base, err := srv.Start(tt.addr)
			defer srv.Close()
			if (err == nil) != tt.ok {
				t.Fatalf("got %q, %v; want ok=%v", base, err, tt.ok)
			}
			if tt.ok && !strings.HasPrefix(base, "http://127.0.0.1:") {
				t.Errorf("got base %q, want http://127.0.0.1:PORT", base)
			}
		})
	}
}

// TestAdmin: loopback only; faults round-trip and are validated; reset
// resets venues, the log and the faults.
func TestAdmin(t *testing.T) {
	srv, vs := newEchoServer(t)
	h := srv.Handler()
	if rec := get(t, h, http.MethodGet, "/_emulator/state", "", "192.0.2.7:4000"); rec.Code != http.StatusForbidden {
		t.Errorf("remote client: got %d, want 403", rec.Code)
	}
	rec := get(t, h, http.MethodGet, "/_emulator/state", "", "127.0.0.1:4000")
	var st map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st["binance"] == nil || st["clock"] == nil {
		t.Errorf("state: got %s", rec.Body)
	}
	bad := []string{`{"error_rate":2}`, `{"latency":"fast"}`, `{"script":[{"status":42}]}`, `{"unknown":1}`, `{"edge":{"limit":500,"window":"10s"}}`}
	for _, b := range bad {
		if rec := get(t, h, http.MethodPost, "/_emulator/faults", b, "127.0.0.1:1"); rec.Code != http.StatusBadRequest {
			t.Errorf("faults %s: got %d, want 400", b, rec.Code)
		}
	}
	rec = get(t, h, http.MethodPost, "/_emulator/faults", `{"skew":"-3s","down":["kucoin"],"script":[{"venue":"binance","count":2,"status":429}]}`, "127.0.0.1:1")
	if rec.Code != 200 || srv.Clock().Skew() != -3*time.Second {
		t.Fatalf("set faults: got %d %s, skew %v", rec.Code, rec.Body, srv.Clock().Skew())
	}
	if rec := get(t, h, http.MethodGet, "/kucoin/x", "", ""); rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "503000") {
		t.Errorf("down venue: got %d %s", rec.Code, rec.Body)
	}
	if rec := get(t, h, http.MethodGet, "/binance/x", "", ""); rec.Code != 429 {
		t.Errorf("script: got %d, want 429", rec.Code)
	}
	rec = get(t, h, http.MethodGet, "/_emulator/faults", "", "127.0.0.1:1")
	var f emulator.Faults
	if err := json.Unmarshal(rec.Body.Bytes(), &f); err != nil || len(f.Script) != 1 || f.Script[0].Count != 1 {
		t.Errorf("faults left: got %s, want one script entry with count 1", rec.Body)
	}
	rec = get(t, h, http.MethodGet, "/_emulator/requests?since=1&kind=read", "", "127.0.0.1:1")
	var entries []emu.Entry
	if err := json.Unmarshal(rec.Body.Bytes(), &entries); err != nil || len(entries) != 0 {
		t.Errorf("requests since 1 of kind read: got %s, want none (both were faults)", rec.Body)
	}
	rec = get(t, h, http.MethodGet, "/_emulator/requests", "", "127.0.0.1:1")
	if err := json.Unmarshal(rec.Body.Bytes(), &entries); err != nil || len(entries) != 2 || entries[0].Fault != "down" {
		t.Errorf("requests: got %s, want 2 with the down fault first", rec.Body)
	}
	get(t, h, http.MethodPost, "/_emulator/reset", "", "127.0.0.1:1")
	if vs[0].resets != 1 || len(srv.Requests()) != 0 || srv.Clock().Skew() != 0 || len(srv.Faults().Down) != 0 {
		t.Errorf("after reset: resets %d, log %d, skew %v, down %v", vs[0].resets, len(srv.Requests()), srv.Clock().Skew(), srv.Faults().Down)
	}
}

// TestLatencyAndCancel: latency delays answers, and a client that gives
// up is not kept waiting.
func TestLatencyAndCancel(t *testing.T) {
	srv, _ := newEchoServer(t)
	base, err := srv.Start("")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.SetFaults(emulator.Faults{Latency: emulator.Duration(60 * time.Millisecond), Jitter: emulator.Duration(20 * time.Millisecond)})
	start := time.Now()
	resp, err := http.Get(base + "/binance/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if d := time.Since(start); d < 60*time.Millisecond || d > 2*time.Second {
		t.Errorf("got %v, want 60..80ms plus overhead", d)
	}
	srv.SetFaults(emulator.Faults{Latency: emulator.Duration(5 * time.Second)})
	cl := &http.Client{Timeout: 100 * time.Millisecond}
	start = time.Now()
	if _, err := cl.Get(base + "/binance/x"); err == nil {
		t.Fatal("got an answer, want a client timeout")
	}
	time.Sleep(50 * time.Millisecond)
	log := srv.Requests()
	if last := log[len(log)-1]; last.Status != 499 || time.Since(start) > 2*time.Second {
		t.Errorf("got %+v, want the abandoned request logged 499", last)
	}
}

// startWithHandshake starts an echo emulator whose connections carry
// nothing for handshake after they open (Faults.Handshake); it is closed
// when the test ends.
func startWithHandshake(t *testing.T, handshake time.Duration) (*emulator.Server, string) {
	t.Helper()
	srv, _ := newEchoServer(t)
	base, err := srv.Start("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	srv.SetFaults(emulator.Faults{Handshake: emulator.Duration(handshake)})
	return srv, base
}

// TestHandshakeOncePerConnection: the handshake fault delays the answer
// to the first request of each new connection (sent as it opens), and not
// the next.
func TestHandshakeOncePerConnection(t *testing.T) {
	const handshake = 400 * time.Millisecond
	srv, base := startWithHandshake(t, handshake)
	get := func(c *http.Client) {
		t.Helper()
		resp, err := c.Get(base + "/binance/x")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	a := &http.Client{Transport: &http.Transport{}}
	b := &http.Client{Transport: &http.Transport{}}
	get(a) // new connection
	get(a) // the same connection, kept alive
	get(b) // another new connection
	log := srv.Requests()
	if len(log) != 3 {
		t.Fatalf("%d requests logged, want 3", len(log))
	}
	for i, want := range []bool{true, false, true} {
		if got := log[i].Duration >= handshake*9/10; got != want { // less the microseconds from accept to read
			t.Errorf("request %d took %v: handshake charged %v, want %v", i, log[i].Duration, got, want)
		}
	}
}

// TestHandshakeFromOpening: the handshake runs from the moment the
// connection is opened: a connection opened ahead of its first request
// has paid it by then.
func TestHandshakeFromOpening(t *testing.T) {
	const handshake = 300 * time.Millisecond
	srv, base := startWithHandshake(t, handshake)
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	time.Sleep(handshake) // the connection, opened ahead, is through its handshake
	if _, err := io.WriteString(conn, "GET /binance/x HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := http.ReadResponse(bufio.NewReader(conn), nil); err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: &http.Transport{}}).Get(base + "/binance/x") // a new connection
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	log := srv.Requests()
	if len(log) != 2 {
		t.Fatalf("%d requests logged, want 2", len(log))
	}
	if log[0].Duration >= handshake/2 {
		t.Errorf("the request on a connection opened %v before took %v: charged a handshake it had paid", handshake, log[0].Duration)
	}
	if log[1].Duration < handshake*9/10 {
		t.Errorf("the request on a new connection took %v, want the handshake of %v", log[1].Duration, handshake)
	}
}

// TestWriteAccounts: the accounts file points at the emulator, holds no
// secret inline, and every file is 0600.
func TestWriteAccounts(t *testing.T) {
	srv, _ := newEchoServer(t)
	dir := filepath.Join(t.TempDir(), "out")
	path := filepath.Join(dir, "accounts.yaml")
	if err := srv.WriteAccounts(path, "http://127.0.0.1:9999/"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Accounts []struct {
			Name           string            `yaml:"name"`
			Exchange       string            `yaml:"exchange"`
			APIKey         map[string]string `yaml:"api_key"`
			Secret         map[string]string `yaml:"secret"`
			Passphrase     map[string]string `yaml:"passphrase"`
			KeyVersion     int               `yaml:"key_version"`
			BaseURL        string            `yaml:"base_url"`
			FuturesBaseURL string            `yaml:"futures_base_url"`
			SubKeys        []struct {
				Sub        string            `yaml:"sub"`
				APIKey     string            `yaml:"api_key"`
				Passphrase map[string]string `yaml:"passphrase"`
			} `yaml:"sub_keys"`
		} `yaml:"accounts"`
	}
	if err := yaml.Unmarshal(b, &got); err != nil {
		t.Fatalf("parse: %v\n%s", err, b)
	}
	if len(got.Accounts) != 1 {
		t.Fatalf("got %d accounts, want 1:\n%s", len(got.Accounts), b)
	}
	a := got.Accounts[0]
	if a.Exchange != "kucoin" || a.KeyVersion != 3 || a.BaseURL != "http://127.0.0.1:9999/kucoin" || a.FuturesBaseURL != "http://127.0.0.1:9999/kucoin-futures" {
		t.Errorf("got %+v", a)
	}
	if len(a.SubKeys) != 1 || a.SubKeys[0].APIKey != "subkey" || a.SubKeys[0].Passphrase["file"] == "" {
		t.Errorf("got sub keys %+v", a.SubKeys)
	}
	for field, src := range map[string]map[string]string{"api_key": a.APIKey, "secret": a.Secret, "passphrase": a.Passphrase, "sub": a.SubKeys[0].Passphrase} {
		p := src["file"]
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s file %q: got %v, %v; want mode 0600", field, p, fi, err)
		}
	}
	if v, _ := os.ReadFile(a.Passphrase["file"]); strings.TrimSpace(string(v)) != "p@ss word!" {
		t.Errorf("passphrase file: got %q", v)
	}
	if bytes.Contains(b, []byte("kcsecret")) || bytes.Contains(b, []byte("p@ss")) {
		t.Errorf("a secret is inline in the accounts file:\n%s", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("accounts file mode %v, want 0600", fi.Mode().Perm())
	}
}

// TestEdgeFault: past the edge's limit within its window, every KuCoin
// request of that IP (both hosts) is answered 429 with Cloudflare's HTML
// until the block ends; Binance, other IPs and the time before the limit
// are untouched, and the log marks the blocked answers.
func TestEdgeFault(t *testing.T) {
	srv, _ := newEchoServer(t)
	const block = 150 * time.Millisecond
	srv.SetFaults(emulator.Faults{Edge: &emulator.EdgeFault{Limit: 3, Window: emulator.Duration(time.Minute), Block: emulator.Duration(block)}})
	h := srv.Handler()
	const ip = "192.0.2.7:4000"
	for i, path := range []string{"/kucoin/a", "/kucoin-futures/b", "/kucoin/c"} {
		if rec := get(t, h, http.MethodGet, path, "", ip); rec.Code != http.StatusOK {
			t.Fatalf("request %d within the limit: got %d", i+1, rec.Code)
		}
	}
	rec := get(t, h, http.MethodGet, "/kucoin-futures/d", "", ip)
	if rec.Code != http.StatusTooManyRequests || !strings.Contains(rec.Body.String(), "1015") || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("4th request: got %d %q (%s), want 429 with Cloudflare's HTML", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
	}
	if rec := get(t, h, http.MethodGet, "/kucoin/e", "", ip); rec.Code != http.StatusTooManyRequests {
		t.Errorf("during the block: got %d, want 429", rec.Code)
	}
	if rec := get(t, h, http.MethodGet, "/binance/f", "", ip); rec.Code != http.StatusOK {
		t.Errorf("binance during the block: got %d, want 200", rec.Code)
	}
	if rec := get(t, h, http.MethodGet, "/kucoin/g", "", "192.0.2.8:4000"); rec.Code != http.StatusOK {
		t.Errorf("another IP during the block: got %d, want 200", rec.Code)
	}
	time.Sleep(block + 20*time.Millisecond)
	if rec := get(t, h, http.MethodGet, "/kucoin/h", "", ip); rec.Code != http.StatusOK {
		t.Errorf("after the block: got %d, want 200", rec.Code)
	}
	var blocked []string
	for _, e := range srv.Requests() {
		if e.Fault == "edge: 1015" {
			if e.Status != http.StatusTooManyRequests {
				t.Errorf("%s logged with status %d", e.Path, e.Status)
			}
			blocked = append(blocked, e.Path)
		}
	}
	if strings.Join(blocked, " ") != "/d /e" {
		t.Errorf("blocked answers in the log: %v, want /d /e", blocked)
	}
}

// TestParseEdge: the --kucoin-edge form, and its mistakes.
func TestParseEdge(t *testing.T) {
	got, err := emulator.ParseEdge("500/10s:45s")
	if err != nil || *got != (emulator.EdgeFault{Limit: 500, Window: emulator.Duration(10 * time.Second), Block: emulator.Duration(45 * time.Second)}) {
		t.Errorf("500/10s:45s: got %+v, %v", got, err)
	}
	got, err = emulator.ParseEdge("20/1s")
	if err != nil || got.Block != emulator.Duration(30*time.Second) {
		t.Errorf("20/1s: got %+v, %v; want the 30 s block by default", got, err)
	}
	for _, bad := range []string{"", "500", "x/10s", "0/10s", "500/ten", "500/0s", "500/10s:-1s", "500/10s:soon"} {
		if _, err := emulator.ParseEdge(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}
