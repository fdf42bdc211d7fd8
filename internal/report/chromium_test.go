package report

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/panicbutton/panicbutton/internal/audit"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "write the Chromium screenshot to docs/report-screenshot.png (make screenshot)")

// TestHTMLInChromium loads a real run's report.html in headless Chromium
// over the DevTools protocol: no console errors or exceptions, no request
// leaves file://, the timeline SVG is visible with one lane per account,
// the page does not overflow a phone's width, and a screenshot is taken.
func TestHTMLInChromium(t *testing.T) {
	bin := chromiumPath()
	if bin == "" {
		if os.Getenv("PANICBUTTON_REQUIRE_CHROMIUM") == "1" {
			t.Fatal("chromium not found on PATH and PANICBUTTON_REQUIRE_CHROMIUM=1: install it (apt-get install -y chromium)")
		}
		t.Skip("chromium not installed (apt-get install -y chromium); set PANICBUTTON_REQUIRE_CHROMIUM=1 to make this a failure")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// make screenshot points this at the run `panicbutton demo` (make
	// demo) just made; otherwise a fixture run on the same demo fund.
	dir := os.Getenv("PANICBUTTON_REPORT_RUN")
	if dir == "" {
		dir = makeRun(t, fixture{live: true})
	}
	_, htmlPath, err := WriteFiles(dir)
	if err != nil {
		t.Fatalf("WriteFiles: %v", err)
	}
	recs, err := audit.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Build(recs, audit.Report{Records: len(recs), Head: recs[len(recs)-1].Hash, Complete: true})
	if err != nil {
		t.Fatal(err)
	}
	wantLanes := len(r.Accounts)

	b := startChromium(ctx, t, bin)
	page := b.newPage(ctx, t)
	for _, m := range []string{"Runtime.enable", "Log.enable", "Page.enable", "Network.enable"} {
		page.call(ctx, t, m, nil)
	}
	page.call(ctx, t, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 1200, "height": 900, "deviceScaleFactor": 1, "mobile": false})
	fileURL := (&url.URL{Scheme: "file", Path: htmlPath}).String()
	page.call(ctx, t, "Page.navigate", map[string]any{"url": fileURL})
	page.waitEvent(ctx, t, "Page.loadEventFired")

	var got struct {
		Lanes, Bars           int
		W, H                  float64
		InView                bool
		Title                 string
		Verdict               string
		ScrollW, InnerW, DocH float64
	}
	page.eval(ctx, t, `(() => {
		const svg = document.querySelector('svg#timeline');
		if (!svg) return {Lanes: -1};
		svg.scrollIntoView({block: 'center'});
		const r = svg.getBoundingClientRect();
		const inView = r.width > 0 && r.height > 0 && r.top < innerHeight && r.bottom > 0 && r.left < innerWidth && r.right > 0;
		const out = {Lanes: svg.querySelectorAll('g.lane').length, Bars: svg.querySelectorAll('rect.bar').length,
			W: r.width, H: r.height, InView: inView, Title: document.title,
			Verdict: document.querySelector('#verdict h1').textContent,
			ScrollW: document.documentElement.scrollWidth, InnerW: innerWidth, DocH: document.documentElement.scrollHeight};
		window.scrollTo(0, 0);
		return out;
	})()`, &got)
	if got.Lanes != wantLanes {
		t.Errorf("timeline lanes: got %d, want %d (one per account)", got.Lanes, wantLanes)
	}
	if got.W <= 0 || got.H <= 0 || !got.InView {
		t.Errorf("timeline: got box %.0fx%.0f in view %v, want a visible, non-empty box", got.W, got.H, got.InView)
	}
	if got.Bars < wantLanes {
		t.Errorf("timeline bars: got %d, want at least one per lane", got.Bars)
	}
	if got.Verdict != r.Verdict.Title {
		t.Errorf("verdict headline: got %q, want %q", got.Verdict, r.Verdict.Title)
	}
	if got.ScrollW > got.InnerW+1 {
		t.Errorf("desktop: page is %.0f px wide in a %.0f px window, want no horizontal overflow", got.ScrollW, got.InnerW)
	}

	// The screenshot shows the page down to the end of the timeline.
	var shotH float64
	page.eval(ctx, t, `document.querySelector('#timeline-section figure').getBoundingClientRect().bottom + scrollY + 24`, &shotH)
	shot := page.screenshot(ctx, t, 1200, min(max(shotH, 600), 2400))
	shotDir := os.Getenv("PANICBUTTON_SCREENSHOT_DIR") // to look at them; default a temp dir
	if shotDir == "" {
		shotDir = t.TempDir()
	}
	out := filepath.Join(shotDir, "report-screenshot.png")
	if html, err := os.ReadFile(htmlPath); err == nil {
		_ = os.WriteFile(filepath.Join(shotDir, "report.html"), html, 0o600)
	}
	if err := os.WriteFile(out, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", out)
	if *updateScreenshot {
		docs := filepath.Join("..", "..", "docs", "report-screenshot.png")
		if err := os.MkdirAll(filepath.Dir(docs), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(docs, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", docs)
	}

	// A phone: nothing wider than the screen (tables scroll inside their box).
	page.call(ctx, t, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": true})
	var phone struct{ ScrollW, InnerW, DocH, SvgW float64 }
	page.eval(ctx, t, `(() => ({ScrollW: document.documentElement.scrollWidth, InnerW: innerWidth,
		DocH: document.documentElement.scrollHeight, SvgW: document.querySelector('svg#timeline').getBoundingClientRect().width}))()`, &phone)
	if phone.ScrollW > phone.InnerW+1 || phone.SvgW <= 0 || phone.SvgW > phone.InnerW {
		t.Errorf("phone: page %.0f px and timeline %.0f px wide in a %.0f px screen, want both to fit", phone.ScrollW, phone.SvgW, phone.InnerW)
	}
	phoneShot := page.screenshot(ctx, t, 390, min(phone.DocH, 2400))
	if err := os.WriteFile(filepath.Join(filepath.Dir(out), "report-phone.png"), phoneShot, 0o644); err != nil {
		t.Fatal(err)
	}

	// Give late console messages a moment, then check everything seen.
	time.Sleep(100 * time.Millisecond)
	for _, e := range page.events() {
		switch e.Method {
		case "Runtime.consoleAPICalled":
			var p struct {
				Type string            `json:"type"`
				Args []json.RawMessage `json:"args"`
			}
			_ = json.Unmarshal(e.Params, &p)
			if p.Type == "error" || p.Type == "assert" || p.Type == "warning" {
				t.Errorf("console %s: %s", p.Type, e.Params)
			}
		case "Runtime.exceptionThrown":
			t.Errorf("exception: %s", e.Params)
		case "Log.entryAdded":
			var p struct {
				Entry struct{ Level, Text, URL string } `json:"entry"`
			}
			_ = json.Unmarshal(e.Params, &p)
			if p.Entry.Level == "error" || p.Entry.Level == "warning" {
				t.Errorf("log %s: %s (%s)", p.Entry.Level, p.Entry.Text, p.Entry.URL)
			}
		case "Network.requestWillBeSent":
			var p struct {
				Request struct{ URL string } `json:"request"`
			}
			_ = json.Unmarshal(e.Params, &p)
			if !strings.HasPrefix(p.Request.URL, "file:") && !strings.HasPrefix(p.Request.URL, "data:") && p.Request.URL != "about:blank" {
				t.Errorf("request outside the file: %s", p.Request.URL)
			}
		}
	}
}

func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser is a headless Chromium driven over the DevTools protocol.
type browser struct {
	conn   *websocket.Conn
	mu     sync.Mutex // guards the fields below and writes
	nextID int
	wait   map[int]chan cdpMessage
	evs    []cdpMessage
	evCh   chan struct{} // signalled on every event
}

type cdpMessage struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

func startChromium(ctx context.Context, t *testing.T, bin string) *browser {
	t.Helper()
	profile := t.TempDir()
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--remote-debugging-port=0", "--user-data-dir="+profile, "about:blank")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	var port, path string
	for {
		data, err := os.ReadFile(filepath.Join(profile, "DevToolsActivePort"))
		if err == nil {
			if lines := strings.Split(strings.TrimSpace(string(data)), "\n"); len(lines) == 2 {
				port, path = lines[0], lines[1]
				break
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("chromium did not write DevToolsActivePort: %v; stderr:\n%s", ctx.Err(), stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, "ws://127.0.0.1:"+port+path, nil)
	if err != nil {
		t.Fatalf("connect to chromium: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	b := &browser{conn: conn, wait: map[int]chan cdpMessage{}, evCh: make(chan struct{}, 1)}
	go b.read()
	return b
}

func (b *browser) read() {
	for {
		var m cdpMessage
		if err := b.conn.ReadJSON(&m); err != nil {
			b.mu.Lock()
			for id, ch := range b.wait {
				close(ch)
				delete(b.wait, id)
			}
			b.mu.Unlock()
			return
		}
		b.mu.Lock()
		if m.ID != 0 {
			if ch, ok := b.wait[m.ID]; ok {
				ch <- m
				delete(b.wait, m.ID)
			}
		} else {
			b.evs = append(b.evs, m)
			select {
			case b.evCh <- struct{}{}:
			default:
			}
		}
		b.mu.Unlock()
	}
}

func (b *browser) send(ctx context.Context, session, method string, params any) (json.RawMessage, error) {
	raw, err := json.Marshal(params)
	if err != nil {
		return nil, err
	}
	if params == nil {
		raw = []byte("{}")
	}
	ch := make(chan cdpMessage, 1)
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	b.wait[id] = ch
	err = b.conn.WriteJSON(cdpMessage{ID: id, Method: method, Params: raw, SessionID: session})
	b.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m, ok := <-ch:
		if !ok {
			return nil, fmt.Errorf("%s: connection closed", method)
		}
		if m.Error != nil {
			return nil, fmt.Errorf("%s: %s", method, m.Error.Message)
		}
		return m.Result, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// page is one tab, attached with a flat session.
type page struct {
	b       *browser
	session string
}

func (b *browser) newPage(ctx context.Context, t *testing.T) *page {
	t.Helper()
	res, err := b.send(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"})
	if err != nil {
		t.Fatal(err)
	}
	var tg struct{ TargetID string }
	if err := json.Unmarshal(res, &tg); err != nil {
		t.Fatal(err)
	}
	res, err = b.send(ctx, "", "Target.attachToTarget", map[string]any{"targetId": tg.TargetID, "flatten": true})
	if err != nil {
		t.Fatal(err)
	}
	var at struct{ SessionID string }
	if err := json.Unmarshal(res, &at); err != nil {
		t.Fatal(err)
	}
	return &page{b: b, session: at.SessionID}
}

func (p *page) call(ctx context.Context, t *testing.T, method string, params any) json.RawMessage {
	t.Helper()
	res, err := p.b.send(ctx, p.session, method, params)
	if err != nil {
		t.Fatalf("devtools: %v", err)
	}
	return res
}

// events returns the events of this page's session seen so far.
func (p *page) events() []cdpMessage {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	var out []cdpMessage
	for _, e := range p.b.evs {
		if e.SessionID == p.session {
			out = append(out, e)
		}
	}
	return out
}

func (p *page) waitEvent(ctx context.Context, t *testing.T, method string) {
	t.Helper()
	for {
		for _, e := range p.events() {
			if e.Method == method {
				return
			}
		}
		select {
		case <-p.b.evCh:
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", method, ctx.Err())
		}
	}
}

// eval evaluates expr in the page and decodes its (JSON-able) value into v.
func (p *page) eval(ctx context.Context, t *testing.T, expr string, v any) {
	t.Helper()
	res := p.call(ctx, t, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true})
	var out struct {
		Result           struct{ Value json.RawMessage }
		ExceptionDetails json.RawMessage
	}
	if err := json.Unmarshal(res, &out); err != nil {
		t.Fatalf("evaluate: %v", err)
	}
	if len(out.ExceptionDetails) > 0 {
		t.Fatalf("evaluate: exception %s", out.ExceptionDetails)
	}
	if err := json.Unmarshal(out.Result.Value, v); err != nil {
		t.Fatalf("evaluate: decode %s: %v", out.Result.Value, err)
	}
}

func (p *page) screenshot(ctx context.Context, t *testing.T, w, h float64) []byte {
	t.Helper()
	res := p.call(ctx, t, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true,
		"clip": map[string]any{"x": 0, "y": 0, "width": w, "height": h, "scale": 1}})
	var out struct{ Data string }
	if err := json.Unmarshal(res, &out); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	png, err := base64.StdEncoding.DecodeString(out.Data)
	if err != nil || len(png) < 8 || string(png[1:4]) != "PNG" {
		t.Fatalf("screenshot: got %d bytes (%v), want a PNG", len(png), errors.Join(err))
	}
	return png
}
