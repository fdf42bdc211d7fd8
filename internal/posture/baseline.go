package posture

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/panicbutton/panicbutton/executors"
)

// BaselineFormat is the "format" of a baseline file.
const BaselineFormat = "panicbutton-posture-baseline"

// BaselineVersion is the version of the baseline format this package
// writes and reads.
const BaselineVersion = 1

// maxBaselineSize bounds a baseline file (a fund with thousands of keys is
// well under it).
const maxBaselineSize = 16 << 20

// Baseline is what `panicbutton posture baseline` records: per account,
// every API key with its permissions, IP list and creation time, the
// sub-accounts and the withdrawal addresses seen. Key ids are masked as
// everywhere else; there is no secret in it.
type Baseline struct {
	Format   string            `json:"format"`
	Version  int               `json:"version"`
	Recorded time.Time         `json:"recorded"`
	Tool     string            `json:"tool_version,omitempty"`
	Accounts []AccountBaseline `json:"accounts"`
}

// AccountBaseline is one account's recorded posture.
type AccountBaseline struct {
	Account  string `json:"account"`
	Exchange string `json:"exchange"`
	// OwnKey is the masked id of the key panicbutton used for the account:
	// a baseline of another account (or of a replaced key) is refused.
	OwnKey string        `json:"own_key"`
	Keys   []KeyBaseline `json:"keys"`
	// SubAccounts are the sub-accounts the key inventory saw (those with
	// at least one API key).
	SubAccounts []string `json:"sub_accounts"`
	// SubAccountCount is the number of sub-accounts as the venue counts
	// them, keys or not, where the inventory reports it (Binance); -1
	// where it does not.
	SubAccountCount int `json:"sub_account_count"`
	// WithdrawalAddresses are the addresses of the withdrawals listed when
	// the baseline was recorded (a pending withdrawal elsewhere is flagged).
	WithdrawalAddresses []string `json:"withdrawal_addresses"`
}

// KeyBaseline is one key's recorded settings.
type KeyBaseline struct {
	Key             string    `json:"key"`   // masked id
	Owner           string    `json:"owner"` // "master" or the sub-account
	Sub             bool      `json:"sub"`
	Label           string    `json:"label,omitempty"`
	Permissions     []string  `json:"permissions"`
	CanTrade        bool      `json:"can_trade"`
	CanWithdraw     bool      `json:"can_withdraw"`
	WithdrawUnknown bool      `json:"withdraw_unknown,omitempty"`
	CanTransfer     bool      `json:"can_transfer"`
	IPRestricted    bool      `json:"ip_restricted"`
	IPs             []string  `json:"ips"`
	Created         time.Time `json:"created,omitzero"`
}

// Observed is what one check saw of one account.
type Observed struct {
	Keys []executors.Key
	// SubAccountCount is the inventory's sub_accounts count; -1 unknown.
	SubAccountCount int
	Withdrawals     []executors.Withdrawal
}

// Record builds an account's baseline from what a check saw.
func Record(a Account, o Observed) AccountBaseline {
	ab := AccountBaseline{Account: a.Name, Exchange: a.Exchange, OwnKey: a.OwnKey, Keys: []KeyBaseline{},
		SubAccounts: []string{}, SubAccountCount: o.SubAccountCount, WithdrawalAddresses: []string{}}
	for _, k := range o.Keys {
		kb := KeyBaseline{Key: k.APIKey, Owner: owner(k), Sub: k.Sub, Label: k.Label,
			Permissions: sorted(k.Permissions), CanTrade: k.CanTrade, CanWithdraw: k.CanWithdraw,
			WithdrawUnknown: k.WithdrawUnknown, CanTransfer: k.CanTransfer, IPRestricted: k.IPRestricted,
			IPs: sorted(k.IPs), Created: k.Created.UTC()}
		ab.Keys = append(ab.Keys, kb)
		if k.Sub && !slices.Contains(ab.SubAccounts, k.Owner) {
			ab.SubAccounts = append(ab.SubAccounts, k.Owner)
		}
	}
	for _, w := range o.Withdrawals {
		if w.Address != "" && !slices.Contains(ab.WithdrawalAddresses, w.Address) {
			ab.WithdrawalAddresses = append(ab.WithdrawalAddresses, w.Address)
		}
	}
	sort.Strings(ab.SubAccounts)
	sort.Strings(ab.WithdrawalAddresses)
	sort.Slice(ab.Keys, func(i, j int) bool {
		if ab.Keys[i].Owner != ab.Keys[j].Owner {
			return ab.Keys[i].Owner < ab.Keys[j].Owner
		}
		return ab.Keys[i].Key < ab.Keys[j].Key
	})
	return ab
}

func sorted(s []string) []string {
	out := append([]string{}, s...)
	sort.Strings(out)
	return out
}

// Marshal is the file form of a baseline (indented JSON).
func (b *Baseline) Marshal() ([]byte, error) {
	out, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode baseline: %w", err)
	}
	return append(out, '\n'), nil
}

// Write writes the baseline to path (mode 0600) through a temporary file
// renamed into place, so a crash never leaves half a baseline.
func (b *Baseline) Write(path string) error {
	data, err := b.Marshal()
	if err != nil {
		return err
	}
	return writeAtomic(path, data)
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// LoadBaseline reads and checks a baseline file; it returns the baseline
// and the SHA-256 of the file. Every error says why the file is not a
// usable baseline.
func LoadBaseline(path string) (*Baseline, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("baseline %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxBaselineSize+1))
	if err != nil {
		return nil, "", fmt.Errorf("baseline %s: %w", path, err)
	}
	if len(data) > maxBaselineSize {
		return nil, "", fmt.Errorf("baseline %s: larger than %d MiB: not a posture baseline", path, maxBaselineSize>>20)
	}
	b, err := ParseBaseline(data)
	if err != nil {
		return nil, "", fmt.Errorf("baseline %s: %w", path, err)
	}
	sum := sha256.Sum256(data)
	return b, hex.EncodeToString(sum[:]), nil
}

// ParseBaseline decodes a baseline strictly: unknown fields, another
// format or version, and missing account names are errors.
func ParseBaseline(data []byte) (*Baseline, error) {
	notOne := "not a panicbutton posture baseline (record one with: panicbutton posture baseline FILE)"
	var probe struct {
		Format  string `json:"format"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("%s: %v", notOne, jsonProblem(err))
	}
	if probe.Format != BaselineFormat {
		return nil, fmt.Errorf("%s: its \"format\" is %q, want %q", notOne, probe.Format, BaselineFormat)
	}
	if probe.Version != BaselineVersion {
		return nil, fmt.Errorf("baseline version %d is not supported (this panicbutton reads version %d): record a new one", probe.Version, BaselineVersion)
	}
	var b Baseline
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("%s: %v", notOne, jsonProblem(err))
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: more than one JSON document", notOne)
	}
	if len(b.Accounts) == 0 {
		return nil, errors.New("the baseline records no account")
	}
	seen := map[string]bool{}
	for i, a := range b.Accounts {
		switch {
		case a.Account == "":
			return nil, fmt.Errorf("accounts[%d]: no account name", i)
		case a.Exchange == "":
			return nil, fmt.Errorf("account %s: no exchange", a.Account)
		case seen[a.Account]:
			return nil, fmt.Errorf("account %s is recorded twice", a.Account)
		}
		seen[a.Account] = true
		for j, k := range a.Keys {
			if k.Key == "" || k.Owner == "" {
				return nil, fmt.Errorf("account %s: keys[%d]: key and owner are required", a.Account, j)
			}
		}
	}
	return &b, nil
}

func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// Find returns the baseline of the named account.
func (b *Baseline) Find(name string) (AccountBaseline, bool) {
	for _, a := range b.Accounts {
		if a.Account == name {
			return a, true
		}
	}
	return AccountBaseline{}, false
}

// Check confirms that the baseline is one of these accounts: each must be
// recorded, on the same exchange, with the same key. It is called before
// anything is sent.
func (b *Baseline) Check(accts []Account) error {
	var names []string
	for _, a := range b.Accounts {
		names = append(names, a.Account)
	}
	var problems []string
	for _, a := range accts {
		ab, ok := b.Find(a.Name)
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("it has no account %s (it records %s)", a.Name, strings.Join(names, ", ")))
		case ab.Exchange != a.Exchange:
			problems = append(problems, fmt.Sprintf("it records %s on %s, the accounts file has it on %s", a.Name, ab.Exchange, a.Exchange))
		case ab.OwnKey != "" && a.OwnKey != "" && ab.OwnKey != a.OwnKey:
			problems = append(problems, fmt.Sprintf("it records %s with key %s, the accounts file uses key %s: a baseline of another account, or the key was replaced", a.Name, ab.OwnKey, a.OwnKey))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("the baseline is not one of these accounts: %s (record one with: panicbutton posture baseline FILE)", strings.Join(problems, "; "))
	}
	return nil
}

// Drift compares what a check saw with the account's baseline and returns
// one high-severity finding per change that widens access: a new key, a
// permission added, withdrawals switched on, an IP restriction lifted or
// widened, a new sub-account. Narrowing changes (a key deleted, a
// permission removed) are not risks and are not reported.
func Drift(a Account, ab AccountBaseline, o Observed) []Finding {
	base := map[string]KeyBaseline{}
	for _, k := range ab.Keys {
		base[k.Owner+"\x00"+k.Key] = k
	}
	var out []Finding
	newSubs := map[string]bool{}
	for _, k := range o.Keys {
		own := owner(k)
		ui := uiPaths(a.Exchange, k)
		f := func(risk, msg, fix string) {
			out = append(out, Finding{Account: a.Name, Exchange: a.Exchange, Severity: High, Risk: risk, Drift: true,
				Key: k.APIKey, Label: k.Label, Owner: own, Message: msg, Fix: fix})
		}
		compromised := "treat the account as compromised: run `panicbutton run suspicious-call` now, then change the password, check 2FA and passkeys, and contact support only through the official app"
		unknown := "if nobody on your team did this, " + compromised
		known := "if it was you, record a new baseline: panicbutton posture baseline --force FILE"
		if k.Sub && !slices.Contains(ab.SubAccounts, k.Owner) && !newSubs[k.Owner] {
			newSubs[k.Owner] = true
			out = append(out, Finding{Account: a.Name, Exchange: a.Exchange, Severity: High, Risk: RiskNewSubAccount, Drift: true,
				Owner: k.Owner, Message: "new sub-account since the baseline: " + k.Owner,
				Fix: "if nobody on your team created it, " + compromised + "; " + known})
		}
		bk, ok := base[own+"\x00"+k.APIKey]
		if !ok {
			msg := "new API key since the baseline"
			if !k.Created.IsZero() {
				msg += ", created " + k.Created.UTC().Format(time.RFC3339) + " (venue's time)"
			}
			msg += "; it can " + orNothing(rightsOf(k))
			if !k.IPRestricted {
				msg += ", from any IP address"
			}
			f(RiskNewKey, msg, "if nobody on your team created it, "+compromised+" (`panicbutton run suspected-key-leak` deletes every sub-account key); "+known)
			continue
		}
		if k.CanWithdraw && !bk.CanWithdraw {
			f(RiskWithdrawalsSwitched, "withdrawals switched on since the baseline", ui.noWithdraw+"; "+unknown+"; "+known)
		}
		if !k.IPRestricted && bk.IPRestricted {
			f(RiskIPRestrictionLifted, "IP restriction lifted since the baseline (it allowed "+strings.Join(bk.IPs, ", ")+"): the key now works from any IP address",
				ui.restrictIP+"; "+unknown+"; "+known)
		} else if k.IPRestricted && bk.IPRestricted {
			if added := missing(k.IPs, bk.IPs); len(added) > 0 {
				f(RiskIPListWidened, "IP list widened since the baseline: added "+strings.Join(added, ", "), ui.restore+": remove "+strings.Join(added, ", ")+"; "+unknown+"; "+known)
			}
		}
		var addedPerms []string
		for _, p := range missing(k.Permissions, bk.Permissions) {
			if k.CanWithdraw && !bk.CanWithdraw && withdrawPermission(p) {
				continue // reported as withdrawals switched on
			}
			addedPerms = append(addedPerms, p)
		}
		if len(addedPerms) > 0 {
			f(RiskPermissionWidened, "permission widened since the baseline: added "+strings.Join(addedPerms, ", "), ui.restore+": untick "+strings.Join(addedPerms, ", ")+"; "+unknown+"; "+known)
		}
	}
	if o.SubAccountCount >= 0 && ab.SubAccountCount >= 0 && o.SubAccountCount > ab.SubAccountCount+len(newSubs) {
		out = append(out, Finding{Account: a.Name, Exchange: a.Exchange, Severity: High, Risk: RiskNewSubAccount, Drift: true,
			Message: fmt.Sprintf("%d sub-accounts now, %d in the baseline: a new sub-account without an API key (the key inventory cannot name it)", o.SubAccountCount, ab.SubAccountCount),
			Fix:     "check the venue's Sub Account page for a sub-account nobody on your team created; if it was you, record a new baseline: panicbutton posture baseline --force FILE"})
	}
	return out
}

// withdrawPermission reports whether a venue permission name is the
// withdrawal permission (Binance "withdraw", KuCoin "Transfer").
func withdrawPermission(p string) bool { return p == "withdraw" || p == "Transfer" }

func missing(have, base []string) []string {
	var out []string
	for _, x := range have {
		if !slices.Contains(base, x) {
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

func orNothing(r []string) string {
	if len(r) == 0 {
		return "only read"
	}
	if len(r) == 1 {
		return r[0]
	}
	return strings.Join(r[:len(r)-1], ", ") + " and " + r[len(r)-1]
}
