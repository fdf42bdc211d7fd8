package cli

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestPostWebhook(t *testing.T) {
	const token = "T000/B000/SECRETTOKEN"
	var gotHeader http.Header
	var gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotHeader, gotBody = r.Header.Clone(), string(b)
		switch {
		case strings.HasPrefix(r.URL.Path, "/fail/"):
			w.WriteHeader(http.StatusInternalServerError)
		case strings.HasPrefix(r.URL.Path, "/hang/"):
			<-r.Context().Done()
		}
	}))
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()

	tests := []struct {
		name    string
		url     string
		timeout time.Duration
		wantErr string // "" for success
	}{
		{"ok", srv.URL + "/ok/" + token, time.Second, ""},
		{"http 500", srv.URL + "/fail/" + token, time.Second, "webhook " + srv.URL + " answered HTTP 500"},
		{"hanging", srv.URL + "/hang/" + token, 200 * time.Millisecond, "post to webhook " + srv.URL + ": context deadline exceeded"},
		{"refused", refused + "/" + token, time.Second, "post to webhook " + refused + ": "},
		{"invalid", "http://[::1/" + token, time.Second, "webhook (URL hidden): invalid URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
			defer cancel()
			start := time.Now()
			err := postWebhook(ctx, tt.url, map[string]string{"Authorization": "Bearer x"}, []byte(`{"text":"hi"}`))
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s, want it bounded by the context", d)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got error %v, want nil", err)
				}
				if gotBody != `{"text":"hi"}` || gotHeader.Get("Content-Type") != "application/json" || gotHeader.Get("Authorization") != "Bearer x" {
					t.Errorf("got body %q, headers %v; want the JSON body, Content-Type application/json and the step's headers", gotBody, gotHeader)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one starting %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "SECRETTOKEN") {
				t.Errorf("error %q contains the URL's token", err)
			}
		})
	}
}
