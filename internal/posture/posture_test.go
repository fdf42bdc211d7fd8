package posture

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
)

var now = time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)

// risks returns "risk/severity" of every finding, in order.
func risks(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Risk+"/"+f.Severity)
	}
	return out
}

func TestKeyFindings(t *testing.T) {
	bn := Account{Name: "bn", Exchange: "binance", OwnKey: "AAAA…0001"}
	kc := Account{Name: "kc", Exchange: "kucoin", OwnKey: "6650…0001", KnownSubKeys: []string{"6650…0101"}}
	locked := []string{"127.0.0.1"}
	tests := []struct {
		name string
		acct Account
		key  executors.Key
		want []string
	}{
		{"locked trading key: nothing", bn,
			executors.Key{Owner: "master", APIKey: "AAAA…0001", CanTrade: true, IPRestricted: true, IPs: locked, Created: now.Add(-24 * time.Hour)}, nil},
		{"withdrawals from any IP", bn,
			executors.Key{Owner: "master", APIKey: "AAAA…0001", CanTrade: true, CanWithdraw: true},
			[]string{"withdrawals-enabled/high", "no-ip-restriction/high"}},
		{"withdrawals, IP-locked", kc,
			executors.Key{Owner: "master", APIKey: "6650…0001", CanWithdraw: true, IPRestricted: true, IPs: locked},
			[]string{"withdrawals-enabled/high"}},
		{"read-only key without IP lock", bn,
			executors.Key{Owner: "master", APIKey: "AAAA…0001"}, []string{"no-ip-restriction/low"}},
		{"binance sub key, withdraw unknown, unlocked", bn,
			executors.Key{Owner: "s@x", Sub: true, APIKey: "BBBB…0002", CanTrade: true, WithdrawUnknown: true},
			[]string{"withdrawals-unknown/medium", "no-ip-restriction/medium"}},
		{"binance sub key, withdraw unknown, locked", bn,
			executors.Key{Owner: "s@x", Sub: true, APIKey: "BBBB…0002", WithdrawUnknown: true, IPRestricted: true, IPs: locked},
			[]string{"withdrawals-unknown/low"}},
		{"labelled read-only but trades", bn,
			executors.Key{Owner: "master", APIKey: "AAAA…0001", Label: "Monitoring (read-only)", CanTrade: true, IPRestricted: true},
			[]string{"read-only-key-can-trade/medium"}},
		{"labelled read-only and reads only", bn,
			executors.Key{Owner: "master", APIKey: "AAAA…0001", Label: "readonly", IPRestricted: true}, nil},
		{"old key", bn,
			executors.Key{Owner: "master", APIKey: "AAAA…0001", IPRestricted: true, Created: now.Add(-200 * 24 * time.Hour)},
			[]string{"old-key/low"}},
		{"kucoin sub key with passphrase known", kc,
			executors.Key{Owner: "bot1", Sub: true, APIKey: "6650…0101", CanTrade: true, IPRestricted: true}, nil},
		{"kucoin sub key with unknown passphrase", kc,
			executors.Key{Owner: "bot1", Sub: true, APIKey: "6650…beef", CanTrade: true, IPRestricted: true},
			[]string{"passphrase-unknown/medium"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := KeyFindings(tt.acct, []executors.Key{tt.key}, Options{Now: now})
			if got := risks(fs); !slices.Equal(got, tt.want) {
				t.Fatalf("risks = %v, want %v", got, tt.want)
			}
			for _, f := range fs {
				if f.Account != tt.acct.Name || f.Key != tt.key.APIKey || f.Fix == "" || f.Message == "" || f.Drift {
					t.Errorf("finding %+v: want account %s, key %s, a message and a fix, no drift", f, tt.acct.Name, tt.key.APIKey)
				}
			}
		})
	}
}

func TestKeyFindingsReadOnlyAccountTag(t *testing.T) {
	a := Account{Name: "watch", Exchange: "binance", OwnKey: "AAAA…0001", Tags: []string{"read-only"}}
	keys := []executors.Key{
		{Owner: "master", APIKey: "AAAA…0001", CanTrade: true, IPRestricted: true},         // the key panicbutton uses: flagged
		{Owner: "s@x", Sub: true, APIKey: "BBBB…0002", CanTrade: true, IPRestricted: true}, // another key: not
	}
	fs := KeyFindings(a, keys, Options{Now: now})
	if got, want := risks(fs), []string{"read-only-key-can-trade/medium"}; !slices.Equal(got, want) {
		t.Fatalf("risks = %v, want %v", got, want)
	}
	if !strings.Contains(fs[0].Message, "tags this account read-only") || !strings.Contains(fs[0].Message, "can trade") {
		t.Errorf("message = %q, want it to say why and what the key can do", fs[0].Message)
	}
	if !strings.Contains(fs[0].Fix, "Binance: Profile → API Management → key AAAA…0001") {
		t.Errorf("fix = %q, want the Binance UI path naming the key", fs[0].Fix)
	}
}

func TestWithdrawalFindings(t *testing.T) {
	a := Account{Name: "kc", Exchange: "kucoin"}
	ws := []executors.Withdrawal{
		{ID: "w1", Asset: "BTC", Amount: "0.1", Address: "bc1cold", Pending: false},
		{ID: "w2", Asset: "BTC", Amount: "0.2", Address: "bc1cold", Pending: true, Cancellable: true},
		{ID: "w3", Asset: "USDT", Amount: "900", Address: "Tattacker", Pending: true, Cancellable: true},
		{ID: "w4", Asset: "ETH", Amount: "1", Address: "0xbaseline", Pending: true},
	}
	fs := WithdrawalFindings(a, ws, []string{"0xbaseline"})
	got := map[string]string{}
	for _, f := range fs {
		got[f.Withdrawal] = f.Risk + "/" + f.Severity
	}
	want := map[string]string{"w2": "pending-withdrawal/info", "w3": "pending-withdrawal-new-address/high", "w4": "pending-withdrawal/info"}
	if len(got) != len(want) {
		t.Fatalf("findings = %v, want %v", got, want)
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: got %q, want %q", id, got[id], w)
		}
	}
	if fs := WithdrawalFindings(Account{Name: "bn", Exchange: "binance"}, ws[2:3], nil); len(fs) != 1 || !strings.Contains(fs[0].Fix, "Binance has no API to cancel") {
		t.Errorf("binance fix = %+v, want it to say no API can cancel", fs)
	}
}

func TestDrift(t *testing.T) {
	a := Account{Name: "kc", Exchange: "kucoin", OwnKey: "6650…0001"}
	master := executors.Key{Owner: "master", APIKey: "6650…0001", Label: "ops", Permissions: []string{"General", "Spot"},
		CanTrade: true, IPRestricted: true, IPs: []string{"10.0.0.1"}}
	sub := executors.Key{Owner: "bot1", Sub: true, APIKey: "6650…0101", Permissions: []string{"General", "Spot"},
		CanTrade: true, IPRestricted: true, IPs: []string{"10.0.0.2"}}
	ab := Record(a, Observed{Keys: []executors.Key{master, sub}, SubAccountCount: 1})
	with := func(k executors.Key, f func(*executors.Key)) executors.Key {
		k.Permissions = append([]string(nil), k.Permissions...)
		k.IPs = append([]string(nil), k.IPs...)
		f(&k)
		return k
	}
	tests := []struct {
		name string
		keys []executors.Key
		subs int
		want []string
	}{
		{"unchanged", []executors.Key{master, sub}, 1, nil},
		{"narrowed: a key deleted, a permission removed", []executors.Key{with(master, func(k *executors.Key) {
			k.Permissions, k.CanTrade = []string{"General"}, false
		})}, 1, nil},
		{"withdrawals switched on, IP restriction lifted", []executors.Key{with(master, func(k *executors.Key) {
			k.Permissions, k.CanWithdraw, k.IPRestricted, k.IPs = append(k.Permissions, "Transfer"), true, false, nil
		}), sub}, 1, []string{"withdrawals-switched-on", "ip-restriction-lifted"}},
		{"IP list widened, permission widened", []executors.Key{master, with(sub, func(k *executors.Key) {
			k.IPs, k.Permissions, k.CanTransfer = append(k.IPs, "203.0.113.9"), append(k.Permissions, "InnerTransfer"), true
		})}, 1, []string{"ip-list-widened", "permission-widened"}},
		{"new key in a known sub-account", []executors.Key{master, sub,
			{Owner: "bot1", Sub: true, APIKey: "6650…beef", CanTrade: true}}, 1, []string{"new-key"}},
		{"new sub-account with a key", []executors.Key{master, sub,
			{Owner: "bot9", Sub: true, APIKey: "6650…9999"}}, 2, []string{"new-sub-account", "new-key"}},
		{"new sub-account without keys (counted by the venue)", []executors.Key{master, sub}, 2, []string{"new-sub-account"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := Drift(a, ab, Observed{Keys: tt.keys, SubAccountCount: tt.subs})
			var got []string
			for _, f := range fs {
				got = append(got, f.Risk)
				if f.Severity != High || !f.Drift || f.Fix == "" || f.Account != "kc" {
					t.Errorf("finding %+v: want high, drift, a fix, account kc", f)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("drift = %v, want %v", got, tt.want)
			}
		})
	}
	fs := Drift(a, ab, Observed{Keys: []executors.Key{master, with(sub, func(k *executors.Key) { k.IPs = append(k.IPs, "203.0.113.9") })}, SubAccountCount: -1})
	if len(fs) != 1 || !strings.Contains(fs[0].Message, "added 203.0.113.9") || !strings.Contains(fs[0].Fix, "remove 203.0.113.9") {
		t.Errorf("ip-list-widened = %+v, want it to name the added IP in message and fix", fs)
	}
}

func TestBaselineRoundTripAndCheck(t *testing.T) {
	a := Account{Name: "bn", Exchange: "binance", OwnKey: "AAAA…0001"}
	b := &Baseline{Format: BaselineFormat, Version: BaselineVersion, Recorded: now,
		Accounts: []AccountBaseline{Record(a, Observed{Keys: []executors.Key{{Owner: "master", APIKey: "AAAA…0001", Permissions: []string{"read"}}},
			Withdrawals: []executors.Withdrawal{{Address: "bc1x"}, {Address: "bc1x"}}, SubAccountCount: 0})}}
	path := filepath.Join(t.TempDir(), "base.json")
	if err := b.Write(path); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("baseline file mode = %v (%v), want 0600", fi.Mode(), err)
	}
	got, sum, err := LoadBaseline(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum) != 64 || len(got.Accounts) != 1 || got.Accounts[0].OwnKey != "AAAA…0001" || !slices.Equal(got.Accounts[0].WithdrawalAddresses, []string{"bc1x"}) {
		t.Fatalf("loaded %+v (sum %q), want the account with own key and one address", got, sum)
	}
	checks := []struct {
		name  string
		accts []Account
		want  string // "" = ok
	}{
		{"same account", []Account{a}, ""},
		{"other account", []Account{{Name: "other", Exchange: "binance"}}, "has no account other (it records bn)"},
		{"other exchange", []Account{{Name: "bn", Exchange: "kucoin"}}, "records bn on binance, the accounts file has it on kucoin"},
		{"other key", []Account{{Name: "bn", Exchange: "binance", OwnKey: "ZZZZ…9999"}}, "with key AAAA…0001, the accounts file uses key ZZZZ…9999"},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			err := got.Check(c.accts)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("Check: %v, want ok", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("Check: %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestParseBaselineRefuses(t *testing.T) {
	tests := []struct{ name, data, want string }{
		{"not JSON", "accounts:\n  - name: x\n", "not a panicbutton posture baseline"},
		{"other format", `{"format": "x", "version": 1}`, `its "format" is "x"`},
		{"other version", `{"format": "panicbutton-posture-baseline", "version": 9}`, "version 9 is not supported"},
		{"unknown field", `{"format": "panicbutton-posture-baseline", "version": 1, "acounts": []}`, `unknown field "acounts"`},
		{"no account", `{"format": "panicbutton-posture-baseline", "version": 1, "accounts": []}`, "records no account"},
		{"unnamed account", `{"format": "panicbutton-posture-baseline", "version": 1, "accounts": [{"exchange": "binance"}]}`, "no account name"},
		{"twice", `{"format": "panicbutton-posture-baseline", "version": 1, "accounts": [{"account": "a", "exchange": "binance"}, {"account": "a", "exchange": "binance"}]}`, "recorded twice"},
		{"two documents", `{"format": "panicbutton-posture-baseline", "version": 1, "accounts": [{"account": "a", "exchange": "binance"}]} {}`, "not a panicbutton posture baseline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseBaseline([]byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseBaseline: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestSeenRemembersFirstSeen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "base.json.seen.json")
	drift := func(acct, key string) Finding {
		return Finding{Account: acct, Risk: RiskNewKey, Drift: true, Key: key, Message: "new"}
	}
	t1, t2, t3 := now, now.Add(10*time.Minute), now.Add(20*time.Minute)

	s := LoadSeen(path, "sum1")
	fs := []Finding{drift("a", "k1"), {Account: "a", Risk: RiskOldKey}}
	s.Stamp("a", fs, t1)
	s.Stamp("b", []Finding{drift("b", "k9")}, t1)
	if !fs[0].FirstSeen.Equal(t1) || !fs[1].FirstSeen.IsZero() {
		t.Fatalf("first stamp: %v / %v, want %v on the drift only", fs[0].FirstSeen, fs[1].FirstSeen, t1)
	}
	if err := s.Save(path); err != nil {
		t.Fatal(err)
	}

	// Ten minutes later the same drift keeps its time; a new one gets now.
	s = LoadSeen(path, "sum1")
	fs = []Finding{drift("a", "k1"), drift("a", "k2")}
	s.Stamp("a", fs, t2) // account b not checked this time
	if !fs[0].FirstSeen.Equal(t1) || !fs[1].FirstSeen.Equal(t2) {
		t.Fatalf("second stamp: %v, %v, want %v, %v", fs[0].FirstSeen, fs[1].FirstSeen, t1, t2)
	}
	if err := s.Save(path); err != nil {
		t.Fatal(err)
	}

	// k1 is gone (forgotten), b's drift was kept although b was not checked.
	s = LoadSeen(path, "sum1")
	fs = []Finding{drift("a", "k1"), drift("b", "k9")}
	s.Stamp("b", fs[1:], t3)
	if !fs[1].FirstSeen.Equal(t1) {
		t.Errorf("unchecked account's drift: first seen %v, want %v kept", fs[1].FirstSeen, t1)
	}

	// A new baseline starts over.
	s = LoadSeen(path, "sum2")
	fs = []Finding{drift("a", "k2")}
	s.Stamp("a", fs, t3)
	if !fs[0].FirstSeen.Equal(t3) {
		t.Errorf("after a new baseline: first seen %v, want %v", fs[0].FirstSeen, t3)
	}
	if err := s.Save(path); err != nil {
		t.Fatal(err)
	}
	s = LoadSeen(path, "sum2")
	s.Stamp("a", nil, t3)
	if err := s.Save(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("no drift left: the file should be gone, stat: %v", err)
	}
}

func TestAtOrAboveAndParseFailOn(t *testing.T) {
	fs := []Finding{{Severity: Medium}, {Severity: Low}, {Severity: Info}}
	for _, c := range []struct {
		in   string
		want int
	}{{"high", 0}, {"medium", 1}, {"LOW", 2}, {"info", 3}, {"none", 0}} {
		sev, err := ParseFailOn(c.in)
		if err != nil {
			t.Fatalf("ParseFailOn(%q): %v", c.in, err)
		}
		if got := AtOrAbove(fs, sev); got != c.want {
			t.Errorf("--fail-on %s: %d findings, want %d", c.in, got, c.want)
		}
	}
	if _, err := ParseFailOn("critical"); err == nil {
		t.Error("ParseFailOn(critical): want an error")
	}
}
