package executors

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Executors built without a transport share one, which keeps the
// connections of a parallel burst: a burst from a second account (its own
// http.Client) reuses those the first one opened, instead of opening (in
// production: TCP- and TLS-handshaking) its own.
func TestExecutorsShareTheConnectionsOfABurst(t *testing.T) {
	var opened atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(20 * time.Millisecond) // keep the burst's requests in flight together
		_, _ = io.WriteString(w, "{}")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	env := Env{}.Defaults()
	if env.Transport != SharedTransport() {
		t.Fatalf("Defaults().Transport = %T, want the shared transport", env.Transport)
	}
	burst := func(c *http.Client, n int) {
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := c.Get(srv.URL)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}()
		}
		wg.Wait()
	}
	const n = 100
	burst(&http.Client{Transport: env.Transport}, n)
	first := opened.Load()
	burst(&http.Client{Transport: Env{}.Defaults().Transport}, n)
	if again := opened.Load() - first; again > n/10 {
		t.Errorf("the second account's burst of %d opened %d new connections (the first opened %d): the connections were not kept and shared", n, again, first)
	}
}
