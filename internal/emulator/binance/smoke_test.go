package binance_test

import (
	"context"
	"testing"
)

func TestSmoke(t *testing.T) {
	h := newHarness(t, testdataFS(), testState)
	cl := h.spot(h.creds("acme-master"))
	acc, err := cl.NewGetAccountService().Do(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", acc.Balances)
	ed := h.spot(h.creds("acme-ed"))
	if _, err := ed.NewGetAccountService().Do(context.Background()); err != nil {
		t.Fatal(err)
	}
	rsa := h.spot(h.creds("acme-rsa"))
	if _, err := rsa.NewGetAccountService().Do(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, e := range h.srv.Requests() {
		t.Logf("%+v", e)
	}
}
