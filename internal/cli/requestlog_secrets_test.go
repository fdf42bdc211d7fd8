package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/internal/emulator/emu"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// TestRequestLogHasNoSecrets: after a live suspected-key-leak run on the
// demo fund, the emulator's request log (GET /_emulator/requests) holds no
// secret of the accounts file — neither an API secret nor the passphrase of
// a master or sub-account key — although the run signed every request with
// them and sent KuCoin sub-key passphrases in the query of DELETE
// /api/v1/sub/api-key.
func TestRequestLogHasNoSecrets(t *testing.T) {
	srv, cfg := startDemoEmulator(t, 0)

	// Every credential file WriteAccounts wrote beside accounts.yaml except
	// the API keys, which are public ids the log names on purpose.
	files, err := os.ReadDir(filepath.Dir(cfg))
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{} // file name -> secret
	var masterSecrets, masterPassphrases, subPassphrases int
	for _, fe := range files {
		name := fe.Name()
		if name == filepath.Base(cfg) || strings.HasSuffix(name, ".api_key") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(filepath.Dir(cfg), name))
		if err != nil {
			t.Fatal(err)
		}
		v := strings.TrimSpace(string(b))
		if len(v) < 6 {
			t.Fatalf("%s: secret %q too short to search for meaningfully", name, v)
		}
		secrets[name] = v
		switch {
		case strings.Contains(name, ".sub.") && strings.HasSuffix(name, ".passphrase"):
			subPassphrases++
		case strings.HasSuffix(name, ".passphrase"):
			masterPassphrases++
		case strings.HasSuffix(name, ".secret"):
			masterSecrets++
		}
	}
	if masterSecrets < 2 || masterPassphrases < 1 || subPassphrases < 1 {
		t.Fatalf("demo accounts file: %d API secrets, %d master passphrases, %d sub-key passphrases; want >= 2, >= 1, >= 1",
			masterSecrets, masterPassphrases, subPassphrases)
	}

	var out, errOut strings.Builder
	f := &Factory{In: strings.NewReader(""), Out: &out, ErrOut: &errOut, IsTTY: func() bool { return false },
		Now: time.Now, Getenv: func(string) string { return "" }, Logger: NewFactory().Logger,
		Registry: NewRegistry(), Transport: loopbackOnly{base: http.DefaultTransport}, Version: "test"}
	code := Run(context.Background(), f, []string{"run", "suspected-key-leak", "--yes", "--config", cfg, "--runs-dir", t.TempDir()})
	if code != ExitOK && code != ExitManual {
		t.Fatalf("run: exit code %d, want %d or %d\n%s\n%s", code, ExitOK, ExitManual, out.String(), errOut.String())
	}

	req := httptest.NewRequest(http.MethodGet, "/_emulator/requests", nil)
	req.RemoteAddr = "127.0.0.1:1"
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /_emulator/requests: status %d, want 200: %s", rec.Code, rec.Body)
	}
	log := rec.Body.String()
	var entries []emu.Entry
	if err := json.Unmarshal(rec.Body.Bytes(), &entries); err != nil {
		t.Fatalf("request log: %v", err)
	}
	for name, v := range secrets {
		forms := map[string]bool{v: true, url.QueryEscape(v): true, url.PathEscape(v): true}
		for form := range forms {
			if strings.Contains(log, form) {
				t.Errorf("request log contains the secret of %s (%q)", name, form)
			}
		}
	}

	// The run did send what had to be redacted, so the check above is not
	// vacuous: KuCoin sub-key deletions with their passphrase, and signed
	// Binance requests.
	redacted := url.QueryEscape(secret.Redacted)
	var subDeletes, signed int
	for _, e := range entries {
		q, err := url.ParseQuery(e.Query)
		if err != nil {
			t.Errorf("entry %d: query %q: %v", e.Seq, e.Query, err)
			continue
		}
		if e.Venue == "kucoin" && e.Method == http.MethodDelete && e.Path == "/api/v1/sub/api-key" && e.Status/100 == 2 {
			subDeletes++
			if got := q.Get("passphrase"); got != secret.Redacted {
				t.Errorf("entry %d: KuCoin sub-key delete passphrase = %q, want %q", e.Seq, got, secret.Redacted)
			}
			if q.Get("apiKey") == "" {
				t.Errorf("entry %d: KuCoin sub-key delete lost its apiKey: %q", e.Seq, e.Query)
			}
		}
		if e.Venue == "binance" && q.Has("signature") {
			signed++
			if got := q.Get("signature"); got != secret.Redacted {
				t.Errorf("entry %d: Binance signature = %q, want %q", e.Seq, got, secret.Redacted)
			}
		}
	}
	if subDeletes == 0 {
		t.Errorf("no successful KuCoin DELETE /api/v1/sub/api-key in the log; want the run's sub-key deletions")
	}
	if signed == 0 {
		t.Errorf("no signed Binance request in the log; want the run's signed requests (query with signature=%s)", redacted)
	}
}
