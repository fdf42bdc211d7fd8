package cli

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/panicbutton/panicbutton/internal/emulator"
)

// The testscript commands of the posture scripts (testdata/script/posture_*).
func init() {
	// emuadmin PATH JSON — POSTs JSON to the script's emulator admin
	// endpoint /_emulator/PATH (e.g. edit-key) and fails unless it answers
	// 200 (with !, unless it does not).
	scriptCmds["emuadmin"] = func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 2 {
			ts.Fatalf("usage: emuadmin PATH JSON")
		}
		v, ok := emulators.Load(ts)
		if !ok {
			ts.Fatalf("emuadmin: no emulator started")
		}
		srv := v.(*emulator.Server)
		req := httptest.NewRequest(http.MethodPost, "/_emulator/"+args[0], strings.NewReader(args[1]))
		req.RemoteAddr = "127.0.0.1:5000"
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		_, _ = ts.Stdout().Write(rec.Body.Bytes())
		if (rec.Code == http.StatusOK) == neg {
			ts.Fatalf("emuadmin %s: HTTP %d %s", args[0], rec.Code, rec.Body)
		}
	}
	// requestmark — remembers how many requests the emulator has seen;
	// newrequests N — it has seen exactly N since (N 0: nothing was sent).
	scriptCmds["requestmark"] = func(ts *testscript.TestScript, neg bool, args []string) {
		v, ok := emulators.Load(ts)
		if !ok {
			ts.Fatalf("requestmark: no emulator started")
		}
		requestMarks.Store(ts, len(v.(*emulator.Server).Requests()))
	}
	scriptCmds["newrequests"] = func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 1 {
			ts.Fatalf("usage: newrequests N")
		}
		want, err := strconv.Atoi(args[0])
		ts.Check(err)
		v, ok := emulators.Load(ts)
		if !ok {
			ts.Fatalf("newrequests: no emulator started")
		}
		mark, _ := requestMarks.Load(ts)
		n, _ := mark.(int)
		if got := len(v.(*emulator.Server).Requests()) - n; got != want {
			ts.Fatalf("emulator saw %d requests since the mark, want %d", got, want)
		}
	}
	// webhook — starts a webhook receiver and sets WEBHOOK to its URL
	// (with a token in the path, like a real one); webhookmsgs N [FILE]
	// checks it received exactly N messages and writes their bodies, one a
	// line, to FILE.
	scriptCmds["webhook"] = func(ts *testscript.TestScript, neg bool, args []string) {
		hook := &webhookSink{}
		srv := httptest.NewServer(hook)
		ts.Defer(srv.Close)
		webhooks.Store(ts, hook)
		ts.Setenv("WEBHOOK", srv.URL+"/hooks/T0KEN-SECRET-PATH")
	}
	scriptCmds["webhookmsgs"] = func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) < 1 || len(args) > 2 {
			ts.Fatalf("usage: webhookmsgs N [FILE]")
		}
		want, err := strconv.Atoi(args[0])
		ts.Check(err)
		v, ok := webhooks.Load(ts)
		if !ok {
			ts.Fatalf("webhookmsgs: no webhook started")
		}
		msgs := v.(*webhookSink).messages()
		if len(msgs) != want {
			ts.Fatalf("webhook received %d messages, want %d:\n%s", len(msgs), want, strings.Join(msgs, "\n"))
		}
		if len(args) == 2 {
			ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(strings.Join(msgs, "\n")+"\n"), 0o600))
		}
	}
}

var (
	webhooks     sync.Map // *testscript.TestScript -> *webhookSink
	requestMarks sync.Map // *testscript.TestScript -> int
)

// webhookSink records every body posted to it.
type webhookSink struct {
	mu   sync.Mutex
	msgs []string
}

func (h *webhookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.msgs = append(h.msgs, string(b))
	h.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (h *webhookSink) messages() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.msgs...)
}
