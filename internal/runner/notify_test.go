package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
)

// webhookToken stands for the secret part of a webhook URL; it must never
// appear in a summary, an error or the audit trail.
const webhookToken = "T000/B000/XXXXSECRETTOKEN"

// post is a plain webhook poster, as the CLI passes in Options.Notify: it
// honours ctx and has no timeout of its own, so the bounds under test are
// the runner's.
func post(ctx context.Context, url string, headers map[string]string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered HTTP %d", resp.StatusCode)
	}
	return nil
}

// hook is a local webhook receiver that records what it is sent.
type hook struct {
	*httptest.Server
	mu      sync.Mutex
	bodies  [][]byte
	headers []http.Header
	paths   []string
}

func newHook(t *testing.T, handler func(w http.ResponseWriter, r *http.Request)) *hook {
	t.Helper()
	h := &hook{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.bodies = append(h.bodies, b)
		h.headers = append(h.headers, r.Header.Clone())
		h.paths = append(h.paths, r.URL.Path)
		h.mu.Unlock()
		handler(w, r)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hook) received() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.bodies)
}

// notifyPB builds a playbook: snapshot, freeze, notify (with the given
// timeout), then a last step that must still run after a failed notification.
func notifyPB(url, timeout string) string {
	return `name: notify-test
targets: {all: true}
steps:
  - id: snap
    action: snapshot.balances
  - id: freeze
    action: orders.cancel_all
  - id: tell
    action: notify.webhook
    timeout: ` + timeout + `
    with:
      url: ` + url + `
      text: "INC-42: {{ .Account.Name }} frozen"
      headers: {Authorization: "Bearer hook-token", X-Incident: INC-42}
  - id: after
    action: orders.list
`
}

func TestNotifyBody(t *testing.T) {
	h := newHook(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	s := newStub().on(executors.OrdersCancelAll, answer{res: executors.Result{Status: executors.StatusChanged, Summary: "cancelled 3 orders\nsecond line"}})
	o := opts(mustPlaybook(t, notifyPB(h.URL+"/services/"+webhookToken, "5s")), &memAudit{}, targets(s))
	o.Notify = post
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if h.received() != 1 {
		t.Fatalf("got %d webhook posts, want 1", h.received())
	}
	if got, want := h.paths[0], "/services/"+webhookToken; got != want {
		t.Errorf("got path %q, want %q", got, want)
	}
	hdr := h.headers[0]
	for k, want := range map[string]string{"Content-Type": "application/json", "Authorization": "Bearer hook-token", "X-Incident": "INC-42"} {
		if got := hdr.Get(k); got != want {
			t.Errorf("got header %s = %q, want %q", k, got, want)
		}
	}

	var body struct {
		Text     string            `json:"text"`
		Verdict  string            `json:"verdict"`
		RunID    string            `json:"run_id"`
		Playbook string            `json:"playbook"`
		Account  string            `json:"account"`
		Exchange string            `json:"exchange"`
		Step     string            `json:"step"`
		Statuses map[string]string `json:"statuses"`
	}
	if err := json.Unmarshal(h.bodies[0], &body); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, h.bodies[0])
	}
	lines := strings.Split(body.Text, "\n")
	wantLines := []string{
		"panicbutton notify-test on acct1 (stub): CONTAINED so far — run r1",
		"INC-42: acct1 frozen",
		"• snap: ok — snapshot.balances done",
		"• freeze: changed — cancelled 3 orders …",
	}
	if strings.Join(lines, "\n") != strings.Join(wantLines, "\n") {
		t.Errorf("got text:\n%s\nwant:\n%s", body.Text, strings.Join(wantLines, "\n"))
	}
	if body.Verdict != "CONTAINED so far" || body.RunID != "r1" || body.Playbook != "notify-test" ||
		body.Account != "acct1" || body.Exchange != "stub" || body.Step != "tell" {
		t.Errorf("got body %+v, want verdict CONTAINED so far, run r1, playbook notify-test, account acct1 (stub), step tell", body)
	}
	if len(body.Statuses) != 2 || body.Statuses["snap"] != "ok" || body.Statuses["freeze"] != "changed" {
		t.Errorf("got statuses %v, want snap ok, freeze changed", body.Statuses)
	}

	res := result(t, rep, "tell", "acct1")
	if res.Status != executors.StatusOK || res.Summary != "notified "+h.URL+"/…" {
		t.Errorf("got %s %q, want ok %q", res.Status, res.Summary, "notified "+h.URL+"/…")
	}
}

func TestNotifyVerdicts(t *testing.T) {
	tests := []struct {
		name string
		stub *stubExec
		want string
	}{
		{"all ok", newStub(), "OK so far"},
		{"changed", newStub().on(executors.OrdersCancelAll, answer{res: executors.Result{Status: executors.StatusChanged, Summary: "cancelled"}}), "CONTAINED so far"},
		{"failed", newStub().on(executors.OrdersCancelAll, answer{err: &executors.Error{Class: executors.ErrRejected, Op: "cancel", Msg: "no"}}), "SOME STEPS FAILED (1)"},
		{"pending", newStub().on(executors.OrdersCancelAll, answer{res: executors.Result{Status: executors.StatusPending, Summary: "do it by hand"}}), "MANUAL STEPS PENDING (1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []byte
			o := opts(mustPlaybook(t, notifyPB("https://hooks.example/"+webhookToken, "5s")), &memAudit{}, targets(tt.stub))
			o.Notify = func(_ context.Context, _ string, _ map[string]string, body []byte) error { got = body; return nil }
			if _, err := Run(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			var body struct{ Text, Verdict string }
			if err := json.Unmarshal(got, &body); err != nil {
				t.Fatalf("body: %v", err)
			}
			first, _, _ := strings.Cut(body.Text, "\n")
			if body.Verdict != tt.want || !strings.Contains(first, ": "+tt.want+" — ") {
				t.Errorf("got verdict %q, first line %q; want %q in both", body.Verdict, first, tt.want)
			}
		})
	}
}

// TestNotifyFailuresNeverBlock: whatever goes wrong with the webhook, the
// step is ok, the run goes on to the next step within a bounded time, and
// the token is not in the summary or the audit trail.
func TestNotifyFailuresNeverBlock(t *testing.T) {
	status500 := newHook(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom "+webhookToken, http.StatusInternalServerError)
	})
	release := make(chan struct{})
	hang := newHook(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // runs before the servers close
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()
	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) })

	tests := []struct {
		name    string
		url     string
		notify  func(context.Context, string, map[string]string, []byte) error
		wantErr string
	}{
		{"http 500", status500.URL, post, "webhook answered HTTP 500"},
		{"hanging server", hang.URL, post, "context deadline exceeded"},
		{"connection refused", refused, post, "refused"},
		{"poster ignores its context", "https://hooks.example", func(context.Context, string, map[string]string, []byte) error {
			<-stuck
			return nil
		}, "no answer in time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &memAudit{}
			url := tt.url + "/services/" + webhookToken
			o := opts(mustPlaybook(t, notifyPB(url, "300ms")), rec, targets(newStub()))
			o.Notify = tt.notify
			start := time.Now()
			rep, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("run took %s, want the notification bounded by the step timeout (300ms)", d)
			}
			res := result(t, rep, "tell", "acct1")
			if res.Status != executors.StatusOK || !strings.Contains(res.Summary, "failed (ignored)") || !strings.Contains(res.Summary, tt.wantErr) {
				t.Errorf("got %s %q, want ok, a summary saying the notification failed (ignored) with %q", res.Status, res.Summary, tt.wantErr)
			}
			if len(res.Result.Findings) != 1 {
				t.Errorf("got findings %+v, want one about the failed notification", res.Result.Findings)
			}
			if got := result(t, rep, "after", "acct1").Status; got != executors.StatusOK {
				t.Errorf("got the next step %s, want ok (a notification never blocks containment)", got)
			}
			if rep.Count(executors.StatusFailed) != 0 {
				t.Errorf("got %d failed results, want 0", rep.Count(executors.StatusFailed))
			}
			all, _ := json.Marshal(rep)
			trail, _ := json.Marshal(rec.events)
			for what, b := range map[string][]byte{"report": all, "audit trail": trail} {
				if bytes.Contains(b, []byte("SECRETTOKEN")) {
					t.Errorf("the webhook token appears in the %s: %s", what, b)
				}
			}
		})
	}
}

func TestNotifyDryRunAndDisabled(t *testing.T) {
	h := newHook(t, func(w http.ResponseWriter, r *http.Request) {})
	tests := []struct {
		name        string
		dryRun      bool
		notify      func(context.Context, string, map[string]string, []byte) error
		wantStatus  executors.Status
		wantSummary string
	}{
		{"dry run", true, post, executors.StatusOK, "dry-run: would notify " + h.URL + "/…"},
		{"disabled", false, nil, executors.StatusSkipped, "notifications disabled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := opts(mustPlaybook(t, notifyPB(h.URL+"/"+webhookToken, "5s")), &memAudit{}, targets(newStub()))
			o.DryRun, o.Notify = tt.dryRun, tt.notify
			rep, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			res := result(t, rep, "tell", "acct1")
			if res.Status != tt.wantStatus || res.Summary != tt.wantSummary {
				t.Errorf("got %s %q, want %s %q", res.Status, res.Summary, tt.wantStatus, tt.wantSummary)
			}
			if h.received() != 0 {
				t.Errorf("got %d posts, want none", h.received())
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://hooks.slack.com/services/T000/B000/XXXX", "https://hooks.slack.com/…"},
		{"https://hooks.example", "https://hooks.example"},
		{"https://hooks.example/", "https://hooks.example"},
		{"https://hooks.example?token=abc", "https://hooks.example/…"},
		{"https://user:pass@hooks.example/x", "https://hooks.example/…"},
		{"not a url", "(webhook URL hidden)"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := redactURL(tt.in); got != tt.want {
				t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestScrubURL(t *testing.T) {
	raw := "https://hooks.example/services/" + webhookToken + "?k=v"
	msg := `Post "https://hooks.example/services/` + webhookToken + `?k=v": dial tcp: refused; path /services/` + webhookToken
	got := scrubURL(msg, raw)
	if strings.Contains(got, "SECRETTOKEN") || !strings.Contains(got, "https://hooks.example/…") {
		t.Errorf("scrubURL = %q, want the token gone and the host kept", got)
	}
}
