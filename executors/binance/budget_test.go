package binance

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// fakeWall is a wall clock whose sleeps advance it; it stands in for
// wallNow and Env.Now/Sleep.
type fakeWall struct {
	mu    sync.Mutex
	t     time.Time
	slept time.Duration
}

func (f *fakeWall) now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.t }
func (f *fakeWall) sleep(_ context.Context, d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t, f.slept = f.t.Add(d), f.slept+d
	return nil
}

func stubExecutor(t *testing.T, s *stub, clk *fakeWall, name string) *Executor {
	t.Helper()
	e, err := New(executors.Account{Name: name, Exchange: "binance", APIKey: secret.New(s.key), Secret: secret.New(s.secret), BaseURL: s.srv.URL},
		executors.Env{Now: clk.now, Sleep: clk.sleep})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// spendAPIBudget reserves the whole /api IP budget of the stub's host in
// the current minute, as other accounts' requests would.
func spendAPIBudget(t *testing.T, e *Executor, s *stub) {
	t.Helper()
	u, _ := url.Parse(s.srv.URL)
	c := costOf("GET", "/api/v3/account", nil)
	c.host, c.weight = u.Host, int(limitAPI*pacerMargin)
	r, err := e.pacer.wait(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	e.pacer.observe(r, []cost{c}, http.Header{}, http.StatusOK, 0) // answered
}

// TestSignedAfterBudgetWait (issue 12 item 2): a request that waits for
// budget is stamped and signed when it leaves, after the wait, not when
// the SDK built it: its timestamp is the clock after the wait, and the
// venue (the stub checks it like Binance) accepts the signature.
func TestSignedAfterBudgetWait(t *testing.T) {
	s := newStub(t)
	s.json("GET /api/v3/account", 200, `{"balances":[]}`)
	clk := &fakeWall{t: time.Now()}
	old := wallNow
	wallNow = clk.now
	t.Cleanup(func() { wallNow = old })
	e := stubExecutor(t, s, clk, "waiter")
	spendAPIBudget(t, e, s)
	before := clk.now()
	err := e.call(context.Background(), "read spot account", false, func(ctx context.Context) error {
		_, err := e.spot.NewGetAccountService().Do(ctx)
		return err
	})
	if err != nil {
		t.Fatalf("call: %v (the stub rejects a bad signature with -1022)", err)
	}
	if clk.slept <= 0 {
		t.Fatal("the request did not wait for budget")
	}
	reqs := s.requests("GET", "/api/v3/account")
	if len(reqs) != 1 {
		t.Fatalf("account requests: got %d, want 1", len(reqs))
	}
	ts, _ := strconv.ParseInt(reqs[0].Params.Get("timestamp"), 10, 64)
	if want := before.Add(clk.slept).UnixMilli(); ts < want {
		t.Errorf("timestamp %d is from before the wait, want at least %d (after waiting %s)", ts, want, clk.slept)
	}
}

// TestTwoAccountsBehindOneIPShareBudget (issue 12 item 1): two executors
// (two accounts) whose requests leave through one IP to one host draw
// from one /api budget: once one account spent it, the other waits.
func TestTwoAccountsBehindOneIPShareBudget(t *testing.T) {
	s := newStub(t)
	s.json("GET /api/v3/account", 200, `{"balances":[]}`)
	clkA, clkB := &fakeWall{t: time.Now()}, &fakeWall{t: time.Now()}
	a, b := stubExecutor(t, s, clkA, "fund-a"), stubExecutor(t, s, clkB, "fund-b")
	spendAPIBudget(t, a, s)
	if err := b.call(context.Background(), "read spot account", false, func(ctx context.Context) error {
		_, err := b.spot.NewGetAccountService().Do(ctx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if clkB.slept <= 0 {
		t.Error("account B's request went out at once although account A spent the IP's /api budget")
	}
}
