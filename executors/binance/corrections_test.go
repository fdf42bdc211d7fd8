package binance

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
)

// TestVerifyDeletedKeyByMinus2008 (EXCHANGES.md C1): a master key deleted
// by hand is answered 400 -2008 on /sapi; keys.verify_rejected takes that
// as the proof of death.
func TestVerifyDeletedKeyByMinus2008(t *testing.T) {
	r, e := newConfExecutor(t)
	if !r.srv.DeleteKey(confMasterKey) {
		t.Fatal("the emulator does not know the master key")
	}
	res, err := doAction(t, e, executors.KeysVerifyRejected, executors.Params{"interval": 10 * time.Millisecond, "deadline": time.Second}, nil)
	if err != nil || res.Status != executors.StatusOK {
		t.Fatalf("verify deleted key: got %v %s %q, want ok", err, res.Status, res.Summary)
	}
	if !strings.Contains(res.Summary, "-2008") || !strings.Contains(res.Summary, "HTTP 400") {
		t.Errorf("proof: got %q, want the -2008 (HTTP 400) answer named", res.Summary)
	}
}

// TestInventoryWithoutSubAccountFunction (EXCHANGES.md C2): the key of an
// account without the sub-account function (the emulator answers it -8012
// from sub-account/list) is inventoried and snapshotted with no
// sub-accounts instead of failing.
func TestInventoryWithoutSubAccountFunction(t *testing.T) {
	r := startEmulator(t, "conformance.yaml", "BOT1KEY000000000000000000000000000000000000000001", "bot1secret0000000000000000000000000000000000000000000001", "hmac")
	e, err := New(r.acct, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	for _, action := range []string{executors.KeysInventory, executors.SnapshotBalances} {
		res, err := doAction(t, e, action, nil, nil)
		if err != nil || res.Status == executors.StatusFailed {
			t.Errorf("%s: got %v %s %q, want it to proceed", action, err, res.Status, res.Summary)
		}
	}
	var saw8012 bool
	for _, x := range r.srv.Requests() {
		if x.Path == "/sapi/v1/sub-account/list" && x.Code == "-8012" {
			saw8012 = true
		}
	}
	if !saw8012 {
		t.Error("the emulator never answered -8012: the test did not exercise it")
	}
}

// TestCostCorrections: the weights EXCHANGES.md C3–C5 corrected are the
// ones the pacer counts.
func TestCostCorrections(t *testing.T) {
	tests := []struct {
		name, method, path string
		q                  url.Values
		want               int
	}{
		{"algo orders with symbol", "GET", "/fapi/v1/openAlgoOrders", url.Values{"symbol": {"BTCUSDT"}}, 1},
		{"algo orders without symbol", "GET", "/fapi/v1/openAlgoOrders", nil, 40},
		{"futures open orders without symbol", "GET", "/fapi/v1/openOrders", nil, 40},
		{"margin open orders with symbol", "GET", "/sapi/v1/margin/openOrders", url.Values{"symbol": {"BTCUSDT"}}, 10},
		{"margin open orders without symbol", "GET", "/sapi/v1/margin/openOrders", nil, 40},
		{"universal transfer IP", "POST", "/sapi/v1/sub-account/universalTransfer", nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := costOf(tt.method, tt.path, tt.q).weight; got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
	uc, ok := uidCostOf("POST", "/sapi/v1/sub-account/universalTransfer")
	if !ok || uc.weight != 360 || uc.ip {
		t.Errorf("universal transfer UID cost: got %+v %v, want UID weight 360", uc, ok)
	}
}
