package binance

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
)

// slowListing holds the first listing of one sub-account's keys for delay
// before sending it: a listing that waits (at scale, for the next minute
// of the endpoint's budget).
type slowListing struct {
	base  http.RoundTripper
	email string
	delay time.Duration
	held  atomic.Bool
}

func (s *slowListing) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, pathSubKeys) && req.URL.Query().Get("email") == s.email && s.held.CompareAndSwap(false, true) {
		select {
		case <-time.After(s.delay):
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	return s.base.RoundTrip(req)
}

func emailOf(query string) string {
	q, _ := url.ParseQuery(query)
	return q.Get("email")
}

// TestDeletesGoAsEachSubAccountIsListed: keys.revoke deletes a
// sub-account's keys as soon as that sub-account is listed, not once
// every sub-account is: while one listing waits, the keys already listed
// are deleted (at 16× the benchmark, the last listings waited a minute
// for their budget, and every deletion with them). The revocation still
// ends with every key gone and confirmed by the re-lists.
func TestDeletesGoAsEachSubAccountIsListed(t *testing.T) {
	r := startEmulator(t, "subaccounts.yaml", subMasterKey, subMasterSecret, "hmac")
	env := testEnv()
	env.Transport = &slowListing{base: env.Transport, email: "bot3@fund.example", delay: 300 * time.Millisecond}
	e, err := New(r.acct, env)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.subKeys(t)) == 0 {
		t.Fatal("the fixture has no sub keys: the test tests nothing")
	}
	from := len(r.srv.Requests())
	res, err := e.Do(context.Background(), executors.Request{Action: executors.KeysRevoke, Step: "revoke",
		Params: executors.Params{"scope": "sub_accounts", "method": "delete"}})
	if err != nil || res.Status != executors.StatusChanged {
		t.Fatalf("revoke: %v, %s: %s", err, res.Status, res.Summary)
	}
	var slow, firstDelete time.Time
	for _, en := range r.srv.Requests()[from:] {
		switch {
		case en.Method == http.MethodGet && en.Path == pathSubKeys && slow.IsZero() && emailOf(en.Query) == "bot3@fund.example":
			slow = en.Time
		case en.Method == http.MethodDelete && en.Path == pathSubKeys && firstDelete.IsZero():
			firstDelete = en.Time
		}
	}
	if slow.IsZero() || firstDelete.IsZero() {
		t.Fatalf("no listing of bot3 (%v) or no delete (%v) in the request log", slow, firstDelete)
	}
	if !firstDelete.Before(slow) {
		t.Errorf("the first delete arrived %s after the held listing: the deletes waited for every sub-account's listing", firstDelete.Sub(slow))
	}
	if left := r.subKeys(t); len(left) != 0 {
		t.Errorf("%d sub keys left, want 0", len(left))
	}
}
