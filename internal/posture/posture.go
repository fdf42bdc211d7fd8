// Package posture turns what a read-only check saw (the key inventory and
// the recent withdrawals) into findings a person can act on: each names
// the account, the key (masked id and label), what is risky, how severe it
// is and the exact fix. It also records a baseline of an account's key
// settings (baseline.go) and reports every change since as drift, the
// signal of a fake "support" call that talked someone into enabling
// withdrawals, lifting an IP restriction or creating a key.
//
// It works only on the exchange-neutral payloads of the executors
// (executors.Key, executors.Withdrawal): it makes no exchange call.
package posture

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/panicbutton/panicbutton/executors"
)

// Severities, most severe first.
const (
	High   = "high"
	Medium = "medium"
	Low    = "low"
	Info   = "info"
)

// Severities lists the severities, most severe first.
var Severities = []string{High, Medium, Low, Info}

// Rank orders severities: high 4 … info 1; anything else 0.
func Rank(sev string) int {
	switch sev {
	case High:
		return 4
	case Medium:
		return 3
	case Low:
		return 2
	case Info:
		return 1
	}
	return 0
}

// ParseFailOn validates a --fail-on value: a severity, or "none" (returned
// as "").
func ParseFailOn(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "none" {
		return "", nil
	}
	if Rank(s) == 0 {
		return "", fmt.Errorf("--fail-on %q: want one of high, medium, low, info or none", s)
	}
	return s, nil
}

// Risk codes: the stable `risk` of a finding.
const (
	// Settings as they are now.
	RiskWithdrawalsEnabled  = "withdrawals-enabled"
	RiskWithdrawalsUnknown  = "withdrawals-unknown"
	RiskNoIPRestriction     = "no-ip-restriction"
	RiskReadOnlyCanTrade    = "read-only-key-can-trade"
	RiskOldKey              = "old-key"
	RiskPassphraseUnknown   = "passphrase-unknown"
	RiskWithdrawalToNewAddr = "pending-withdrawal-new-address"
	RiskWithdrawalPending   = "pending-withdrawal"
	// Drift since the baseline.
	RiskNewKey              = "new-key"
	RiskPermissionWidened   = "permission-widened"
	RiskWithdrawalsSwitched = "withdrawals-switched-on"
	RiskIPRestrictionLifted = "ip-restriction-lifted"
	RiskIPListWidened       = "ip-list-widened"
	RiskNewSubAccount       = "new-sub-account"
)

// Finding is one thing a person should act on. Its JSON form is the
// stable `findings` list of `panicbutton run --json`.
type Finding struct {
	Account  string `json:"account"`
	Exchange string `json:"exchange"`
	Severity string `json:"severity"` // high, medium, low, info
	Risk     string `json:"risk"`     // a Risk* code
	// Drift marks a change since the baseline (posture-check --baseline).
	Drift bool   `json:"drift"`
	Key   string `json:"key,omitempty"` // masked key id
	Label string `json:"label,omitempty"`
	// Owner is "master", or the sub-account the key (or sub-account
	// finding) belongs to.
	Owner      string `json:"owner,omitempty"`
	Withdrawal string `json:"withdrawal,omitempty"` // withdrawal id
	Message    string `json:"message"`
	Fix        string `json:"fix"`
	// FirstSeen is when a check first saw this drift (see Seen).
	FirstSeen time.Time `json:"first_seen,omitzero"`
}

// Subject names what the finding is about, for one-line displays.
func (f Finding) Subject() string {
	switch {
	case f.Key != "":
		s := "key " + f.Key
		if f.Label != "" {
			s += fmt.Sprintf(" %q", f.Label)
		}
		if f.Owner != "" {
			if f.Owner == "master" {
				s += " (master)"
			} else {
				s += " (sub-account " + f.Owner + ")"
			}
		}
		return s
	case f.Withdrawal != "":
		return "withdrawal " + f.Withdrawal
	case f.Owner != "":
		return "sub-account " + f.Owner
	}
	return "account " + f.Account
}

// ID identifies a finding across checks (drift first-seen times use it).
func (f Finding) ID() string {
	return strings.Join([]string{f.Account, f.Risk, f.Owner, f.Key, f.Withdrawal, f.Message}, "|")
}

// Executor converts f to the finding a step result carries (the audit
// trail, the report and webhook messages show these).
func (f Finding) Executor() executors.Finding {
	return executors.Finding{Severity: f.Severity, Subject: f.Subject(), Message: f.Message, Fix: f.Fix,
		Drift: f.Drift, FirstSeen: f.FirstSeen}
}

// Sort orders findings most severe first, drift before the rest, then by
// account and subject.
func Sort(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if Rank(a.Severity) != Rank(b.Severity) {
			return Rank(a.Severity) > Rank(b.Severity)
		}
		if a.Drift != b.Drift {
			return a.Drift
		}
		if a.Account != b.Account {
			return a.Account < b.Account
		}
		return a.Subject() < b.Subject()
	})
}

// AtOrAbove counts the findings at or above severity sev ("" counts none).
func AtOrAbove(fs []Finding, sev string) int {
	if sev == "" {
		return 0
	}
	n := 0
	for _, f := range fs {
		if Rank(f.Severity) >= Rank(sev) {
			n++
		}
	}
	return n
}

// Account is what the findings need to know about one configured account
// (from the accounts file; no secret).
type Account struct {
	Name     string
	Exchange string
	Tags     []string
	// OwnKey is the masked id of the key panicbutton uses for the account.
	OwnKey string
	// KnownSubKeys are the masked ids of the sub-account keys whose
	// passphrase the accounts file holds (KuCoin needs it to delete one).
	KnownSubKeys []string
}

// ReadOnlyTags mark an account whose key is meant to be read-only.
var ReadOnlyTags = []string{"read-only", "readonly", "read_only"}

// readOnlyLabel reports whether a key label says the key is read-only.
func readOnlyLabel(label string) bool {
	l := strings.ToLower(label)
	for _, w := range []string{"read-only", "readonly", "read_only", "read only", "view-only", "viewonly", "monitor", "watch"} {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// DefaultMaxKeyAge is the age from which a key is flagged as old.
const DefaultMaxKeyAge = 180 * 24 * time.Hour

// Options tune the checks.
type Options struct {
	Now       time.Time
	MaxKeyAge time.Duration // 0: DefaultMaxKeyAge
}

// KeyFindings flags the risky settings of the keys one keys.inventory
// read: withdrawals enabled (or unknown), no IP restriction, trading or
// transfer rights on a key labelled read-only or on an account tagged
// read-only, keys older than MaxKeyAge (where the venue reports creation),
// and KuCoin sub-account keys the operator cannot delete because the
// accounts file lacks their passphrase. Neither venue reports a key's last
// use through the API, so "no recent use" cannot be checked.
func KeyFindings(a Account, keys []executors.Key, o Options) []Finding {
	maxAge := o.MaxKeyAge
	if maxAge <= 0 {
		maxAge = DefaultMaxKeyAge
	}
	var out []Finding
	for _, k := range keys {
		f := func(sev, risk, msg, fix string) {
			out = append(out, Finding{Account: a.Name, Exchange: a.Exchange, Severity: sev, Risk: risk,
				Key: k.APIKey, Label: k.Label, Owner: owner(k), Message: msg, Fix: fix})
		}
		ui := uiPaths(a.Exchange, k)
		rights := k.CanTrade || k.CanTransfer || k.CanWithdraw
		switch {
		case k.CanWithdraw:
			msg := "withdrawals are enabled: whoever holds this key can move funds off the exchange"
			if !k.IPRestricted {
				msg += ", from any IP address"
			}
			f(High, RiskWithdrawalsEnabled, msg, ui.noWithdraw+"; if nobody on your team enabled it, run `panicbutton run suspicious-call` (revokes every key that can withdraw and freezes trading)")
		case k.WithdrawUnknown:
			sev := Medium
			if k.IPRestricted {
				sev = Low
			}
			f(sev, RiskWithdrawalsUnknown, "the venue does not show the master whether this sub-account key can withdraw: treat it as if it could",
				ui.noWithdraw+"; `panicbutton run suspicious-call` revokes such keys")
		}
		if !k.IPRestricted {
			sev, msg := Low, "no IP restriction: the key works from any IP address"
			if rights {
				sev, msg = Medium, "no IP restriction: the key can trade or move funds from any IP address"
			}
			if k.CanWithdraw {
				sev = High
			}
			f(sev, RiskNoIPRestriction, msg, ui.restrictIP)
		}
		accountRO := !k.Sub && k.APIKey == a.OwnKey && hasAny(a.Tags, ReadOnlyTags)
		if (readOnlyLabel(k.Label) || accountRO) && rights {
			why := fmt.Sprintf("labelled %q", k.Label)
			if accountRO {
				why = "the accounts file tags this account read-only"
			}
			sev := Medium
			if k.CanWithdraw {
				sev = High
			}
			f(sev, RiskReadOnlyCanTrade, fmt.Sprintf("meant to be read-only (%s) but can %s", why, strings.Join(rightsOf(k), ", ")), ui.readOnly)
		}
		if !k.Created.IsZero() && o.Now.Sub(k.Created) > maxAge {
			f(Low, RiskOldKey, fmt.Sprintf("created %s, %d days ago (older than %d days): an old key has had more chances to leak",
				k.Created.UTC().Format("2006-01-02"), int(o.Now.Sub(k.Created).Hours()/24), int(maxAge.Hours()/24)), ui.rotate)
		}
		if a.Exchange == "kucoin" && k.Sub && !slices.Contains(a.KnownSubKeys, k.APIKey) {
			sev := Low
			if rights {
				sev = Medium
			}
			f(sev, RiskPassphraseUnknown, "the accounts file has no passphrase for this sub-account key: no API call from panicbutton can delete or restrict it",
				fmt.Sprintf("add it under sub_keys in accounts.yaml ({sub: %s, api_key: <its full id>, passphrase: {env: …}}) so keys.revoke can delete it; or delete it in KuCoin: Sub-Account → API Management (%s)", k.Owner, k.Owner))
		}
	}
	return out
}

// WithdrawalFindings flags pending withdrawals: high when the address was
// not seen before (in the baseline's addresses, or in a finished
// withdrawal of the list), info otherwise.
func WithdrawalFindings(a Account, ws []executors.Withdrawal, known []string) []Finding {
	seen := map[string]bool{}
	for _, addr := range known {
		seen[addr] = true
	}
	for _, w := range ws {
		if !w.Pending && w.Address != "" {
			seen[w.Address] = true
		}
	}
	var out []Finding
	for _, w := range ws {
		if !w.Pending {
			continue
		}
		fix := "KuCoin: run `panicbutton run suspected-key-leak` (cancels pending withdrawals) or cancel it in Assets → Withdrawal History"
		if !w.Cancellable {
			fix = "no API can cancel it: in the venue's app, Wallet → Transaction History → cancel it if still offered, and contact support through the official app at once"
		}
		if a.Exchange == "binance" {
			fix = "Binance has no API to cancel a withdrawal: Wallet → Transaction History → cancel it if still offered, and contact Binance support through the official app at once"
		}
		what := fmt.Sprintf("pending withdrawal of %s %s to %s", w.Amount, w.Asset, w.Address)
		if w.Network != "" {
			what += " (" + w.Network + ")"
		}
		if seen[w.Address] {
			out = append(out, Finding{Account: a.Name, Exchange: a.Exchange, Severity: Info, Risk: RiskWithdrawalPending,
				Withdrawal: w.ID, Message: what + ", an address seen before", Fix: "check that it is expected; " + fix})
			continue
		}
		out = append(out, Finding{Account: a.Name, Exchange: a.Exchange, Severity: High, Risk: RiskWithdrawalToNewAddr,
			Withdrawal: w.ID, Message: what + ": an address not seen before", Fix: "if nobody on your team asked for it: " + fix})
	}
	return out
}

func owner(k executors.Key) string {
	if !k.Sub && k.Owner != "" {
		return "master"
	}
	return k.Owner
}

func hasAny(have, want []string) bool {
	for _, w := range want {
		if slices.Contains(have, w) {
			return true
		}
	}
	return false
}

func rightsOf(k executors.Key) []string {
	var r []string
	if k.CanTrade {
		r = append(r, "trade")
	}
	if k.CanTransfer {
		r = append(r, "transfer")
	}
	if k.CanWithdraw {
		r = append(r, "withdraw")
	}
	return r
}

// fixes are the venue's UI paths for one key.
type fixes struct {
	noWithdraw, restrictIP, readOnly, rotate, restore string
}

// uiPaths returns where, in the venue's web UI, each setting of k is fixed.
func uiPaths(exchange string, k executors.Key) fixes {
	id := k.APIKey
	switch exchange {
	case "binance":
		page := "Binance: Profile → API Management → key " + id
		if k.Sub {
			page = "Binance: Sub Account → API Management → sub-account " + k.Owner + " → key " + id
		}
		return fixes{
			noWithdraw: page + " → Edit restrictions: untick \"Enable Withdrawals\" (or delete the key)",
			restrictIP: page + " → Edit restrictions: \"Restrict access to trusted IPs only\" with your servers' IPs",
			readOnly:   page + " → Edit restrictions: leave only \"Enable Reading\" ticked",
			rotate:     "create a replacement key, move your systems to it, then delete the old one (" + page + " → Delete)",
			restore:    page + " → Edit restrictions",
		}
	case "kucoin":
		page := "KuCoin: Account → API Management → key " + id
		if k.Sub {
			page = "KuCoin: Sub-Account → API Management → sub-account " + k.Owner + " → key " + id
		}
		return fixes{
			noWithdraw: page + " → Edit: untick \"Transfer\" (the withdrawal permission), or delete the key",
			restrictIP: page + " → Edit: restrict access to your servers' IP addresses",
			readOnly:   page + " → Edit: leave only \"General\" ticked",
			rotate:     "create a replacement key, move your systems to it, then delete the old one (" + page + " → Delete)",
			restore:    page + " → Edit",
		}
	}
	page := "the exchange's API Management page, key " + id
	return fixes{noWithdraw: page + ": disable withdrawals", restrictIP: page + ": restrict it to your IPs",
		readOnly: page + ": leave it read-only", rotate: "replace key " + id + " and delete it", restore: page}
}
