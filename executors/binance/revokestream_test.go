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
	"github.com/panicbutton/panicbutton/executors/executortest"
	"github.com/panicbutton/panicbutton/internal/emulator"
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

// TestEmptiedSubAccountIsReadWhileItsKeyIsDeleted: once a temporary
// key has emptied its sub-account, the read of what the master then sees
// of it (recorded for the hold's later passes) goes while the key is
// deleted, not before: a round trip less on every sub-account's path.
func TestEmptiedSubAccountIsReadWhileItsKeyIsDeleted(t *testing.T) {
	r, e := subFund(t, false)
	const latency = 30 * time.Millisecond
	r.srv.SetFaults(emulator.Faults{Latency: emulator.Duration(latency)})
	from := len(r.srv.Requests())
	res, err := e.Do(context.Background(), cancelReq(&executortest.RecordingHooks{}, executors.Params{"scope": executors.ScopeSubAccounts}))
	if err != nil {
		t.Fatalf("cancel: %v (%s)", err, res.Summary)
	}
	// The deletes go as a form: the log does not say whose key they
	// delete, so each is matched with the nearest read of sub-account
	// assets (the sub-accounts are emptied together).
	var reads, deletes []time.Time
	for _, en := range r.srv.Requests()[from:] {
		switch {
		case en.Method == http.MethodGet && en.Path == "/sapi/v4/sub-account/assets":
			reads = append(reads, en.Time)
		case en.Method == http.MethodDelete && en.Path == pathSubKeys:
			deletes = append(deletes, en.Time)
		}
	}
	if len(deletes) == 0 {
		t.Fatalf("no temporary key deleted (%s): the test tests nothing", res.Summary)
	}
	for _, del := range deletes {
		nearest := time.Duration(1 << 62)
		for _, rd := range reads {
			nearest = min(nearest, del.Sub(rd).Abs())
		}
		if nearest >= latency/2 {
			t.Errorf("a temporary key's deletion went %s from the nearest read of sub-account assets, want it with the read that follows the cancels", nearest)
		}
	}
}
