package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testFactory(out, errOut io.Writer) *Factory {
	return &Factory{In: strings.NewReader(""), Out: out, ErrOut: errOut, IsTTY: func() bool { return false },
		Now: time.Now, Getenv: func(string) string { return "" }, Logger: slog.New(slog.DiscardHandler)}
}

// TestEmulatorCommand starts the demo emulator, checks the printed URLs,
// the accounts file and a live venue, then stops it by cancelling.
func TestEmulatorCommand(t *testing.T) {
	var out, errOut syncBuffer
	f := testFactory(&out, &errOut)
	dir := t.TempDir()
	o := &EmulatorOptions{Addr: "127.0.0.1:0", AccountsOut: filepath.Join(dir, "accounts.yaml"),
		Attackers: []string{"binance:northwind-master/northwind-trading:rate=10/s"}}
	ready := make(chan string, 1)
	o.Ready = func(base string) { ready <- base }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runEmulator(ctx, f, o) }()
	var base string
	select {
	case base = <-ready:
	case err := <-done:
		t.Fatalf("emulator stopped early: %v (stderr %s)", err, errOut.String())
	case <-time.After(10 * time.Second):
		t.Fatal("emulator did not start")
	}
	for _, want := range []string{"binance: " + base + "/binance", "kucoin: " + base + "/kucoin", "kucoin-futures: " + base + "/kucoin-futures", "admin: " + base + "/_emulator/"} {
		if !strings.Contains(out.String(), want+"\n") {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	resp, err := http.Get(base + "/binance/api/v3/time")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("binance time: %v", err)
	}
	resp.Body.Close()
	if want := "attacker: binance:northwind-master/northwind-trading (binance:northwind-master/northwind-trading:rate=10/s,withdraw=on)"; !strings.Contains(out.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, out.String())
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var reps []struct{ Accepted int }
		resp, err := http.Get(base + "/_emulator/attacker")
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&reps)
		resp.Body.Close()
		if err == nil && len(reps) == 1 && reps[0].Accepted > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the --attacker's report shows nothing accepted: %v %v", reps, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, err := os.ReadFile(o.AccountsOut)
	if err != nil || !strings.Contains(string(b), "base_url: "+base+"/binance") || !strings.Contains(string(b), "name: northwind-master") {
		t.Errorf("accounts file: %v\n%s", err, b)
	}
	fi, err := os.Stat(filepath.Join(dir, "northwind-master.secret"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file: got %v, %v; want mode 0600", fi, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("got %v, want a clean stop", err)
		}
		if !regexp.MustCompile(`attacker binance:northwind-master/northwind-trading: tried \d+, accepted [1-9]\d* \(0 after its key died\), refused \d+`).MatchString(errOut.String()) {
			t.Errorf("no final attacker counts on stop:\n%s", errOut.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("emulator did not stop")
	}
}

// TestEmulatorCommandErrors: bad flags and bad states exit 2 with a
// message that says what is wrong.
func TestEmulatorCommandErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"non-loopback address", []string{"emulator", "--addr", "0.0.0.0:0"}, "non-loopback"},
		{"error rate", []string{"emulator", "--error-rate", "1.5"}, "--error-rate 1.5 is outside 0..1"},
		{"bad state", []string{"emulator", "--state", "../../testdata/emulator/bad-binance-typo.yaml"}, `bad-binance-typo.yaml:5:7: unknown field "emial"`},
		{"missing state", []string{"emulator", "--state", "no/such/state.yaml"}, "read state file"},
		{"bad attacker", []string{"emulator", "--attacker", "binance:northwind-master:rate=9/x"}, `--attacker: attacker "binance:northwind-master:rate=9/x": rate "9/x": unit "x" is not s, m or h`},
		{"attacker account", []string{"emulator", "--attacker", "binance:nobody"}, `--attacker: attacker binance:nobody: no account "nobody" on binance`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut syncBuffer
			code := Run(context.Background(), testFactory(&out, &errOut), tt.args)
			if code != ExitUsage || !strings.Contains(errOut.String(), tt.want) {
				t.Errorf("got exit %d, stderr %q; want %d and %q", code, errOut.String(), ExitUsage, tt.want)
			}
		})
	}
}
