package kucoin

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// A venue that cannot be reached must not yield an "ok" snapshot with
// nothing in it: the baseline would silently be empty.
func TestSnapshotOfUnreachableVenueFails(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String() + "/kucoin"
	l.Close() // nothing listens there any more
	x, err := New(executors.Account{Name: "k", Exchange: Exchange, APIKey: secret.New("key"), Secret: secret.New("sec"),
		Passphrase: secret.New("pass"), KeyVersion: 3, BaseURL: dead}, executors.Env{}.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	res, err := x.Do(context.Background(), executors.Request{Action: executors.SnapshotBalances,
		Params: executors.WithDefaults(executors.SnapshotBalances, nil)})
	if res.Status != executors.StatusFailed || !errors.Is(err, executors.ErrTransient) {
		t.Errorf("snapshot of a dead venue: status %q, err %v; want failed with a transient error", res.Status, err)
	}
}
