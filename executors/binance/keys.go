package binance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"weak"

	gobinance "github.com/adshao/go-binance/v2"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/internal/budget"
	"github.com/panicbutton/panicbutton/executors/internal/subacct"
)

// Sub-account API-key endpoints, none of which the SDK has in a working
// form (EXCHANGES.md §1.2): each costs 3000 UID weight.
const (
	pathSubKeys       = "/sapi/v1/sub-account/subAccountApi"
	pathSubKeyIP      = "/sapi/v1/sub-account/subAccountApi/ipRestriction"
	pathSubKeyIPv2    = "/sapi/v2/sub-account/subAccountApi/ipRestriction"
	pathSubKeyPerms   = "/sapi/v1/sub-account/subAccountApiPermission"
	pathAPIRestrict   = "/sapi/v1/account/apiRestrictions"
	masterManualTitle = "Delete the master API key in Binance's web UI"
)

// subKeyRow is one row of GET /sapi/v1/sub-account/subAccountApi.
type subKeyRow struct {
	Email                string `json:"email"`
	APIName              string `json:"apiName"`
	APIKey               string `json:"apikey"`
	CanTrade             bool   `json:"canTrade"`
	CanMarginLoanRepay   bool   `json:"canMarginLoanRepay"`
	CanFuturesTrade      bool   `json:"canFuturesTrade"`
	CanUniversalTransfer bool   `json:"canUniversalTransfer"`
	CanVanillaOptions    bool   `json:"canVanillaOptions"`
	Timestamp            int64  `json:"timestamp"`
	// Not in the documented row; read when present (emulator, future
	// versions) so a withdrawal-enabled sub key is flagged.
	CanWithdraw       *bool `json:"canWithdraw,omitempty"`
	EnableWithdrawals *bool `json:"enableWithdrawals,omitempty"`
}

func (r subKeyRow) canWithdraw() bool {
	return (r.CanWithdraw != nil && *r.CanWithdraw) || (r.EnableWithdrawals != nil && *r.EnableWithdrawals)
}

// flexBool decodes a JSON bool or a string "true"/"false" (ipRestrict is a
// string in the IP-restriction responses).
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	s := strings.Trim(string(data), `"`)
	if s == "" || s == "null" {
		*b = false
		return nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("ipRestrict: %w", err)
	}
	*b = flexBool(v)
	return nil
}

type ipRestriction struct {
	IPRestrict flexBool `json:"ipRestrict"`
	IPList     []string `json:"ipList"`
}

// subKey is one sub-account key with what the inventory knows of it.
type subKey struct {
	row     subKeyRow
	ips     []string
	ipKnown bool
	ipLock  bool
}

func (k subKey) mutationSuffix() string { return k.row.Email + ":" + mask(k.row.APIKey) }

func (k subKey) describe() string {
	s := fmt.Sprintf("sub %s key %s", k.row.Email, mask(k.row.APIKey))
	if k.row.APIName != "" {
		s += fmt.Sprintf(" (%s)", k.row.APIName)
	}
	return s
}

// listSubKeys lists the API keys of one sub-account, every page.
func (e *Executor) listSubKeys(ctx context.Context, email string) ([]subKeyRow, error) {
	var out []subKeyRow
	for page := 1; ; page++ {
		var body struct {
			Total int         `json:"total"`
			Rows  []subKeyRow `json:"rows"`
			List  []subKeyRow `json:"list"` // the field's name before Aug 2026
		}
		err := e.call(ctx, "list api keys of sub-account "+email, false, func(ctx context.Context) error {
			data, err := e.signed(ctx, http.MethodGet, pathSubKeys, url.Values{"email": {email}, "page": {strconv.Itoa(page)}, "size": {"100"}}, nil)
			if err != nil {
				return err
			}
			return json.Unmarshal(data, &body)
		})
		if err != nil {
			return nil, err
		}
		rows := append(body.Rows, body.List...)
		for i := range rows {
			if rows[i].Email == "" {
				rows[i].Email = email
			}
		}
		out = append(out, rows...)
		if len(rows) < 100 || (body.Total > 0 && len(out) >= body.Total) {
			e.rememberListing(email, out)
			return out, nil
		}
	}
}

// listReuse is how old a sub-account's key listing may be for keys.revoke
// (method delete) to start from it instead of listing again: every
// listing of this endpoint costs UID weight 3000 of the master's 60 per
// minute, so the inventory's listing serves the revocations that follow
// it. It is safe because a revocation's confirming re-list is always
// fresh and every key it shows that the step selects (a key created
// meanwhile) is deleted in a further round.
const listReuse = 2 * time.Minute

// rememberListing keeps a sub-account's latest key listing (see
// listReuse).
func (e *Executor) rememberListing(email string, rows []subKeyRow) {
	m := e.keyMemory()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.listed == nil {
		m.listed = map[string]keyListing{}
	}
	m.listed[email] = keyListing{rows: append([]subKeyRow(nil), rows...), at: e.env.Now()}
}

// listedSince is when the oldest of the sub-accounts' remembered key
// listings was made.
func (e *Executor) listedSince(subs []subAccount) time.Time {
	m := e.keyMemory()
	m.mu.Lock()
	defer m.mu.Unlock()
	var oldest time.Time
	for _, s := range subs {
		if l, ok := m.listed[s.Email]; ok && (oldest.IsZero() || l.at.Before(oldest)) {
			oldest = l.at
		}
	}
	return oldest
}

// recentListing returns a sub-account's key listing made within maxAge.
func (e *Executor) recentListing(email string, maxAge time.Duration) ([]subKeyRow, bool) {
	m := e.keyMemory()
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.listed[email]
	if !ok || maxAge <= 0 || e.env.Now().Sub(l.at) > maxAge {
		return nil, false
	}
	return append([]subKeyRow(nil), l.rows...), true
}

func (e *Executor) subKeyIP(ctx context.Context, email, apiKey string) (ipRestriction, error) {
	var ipr ipRestriction
	err := e.call(ctx, "read ip restriction of sub-account key "+mask(apiKey), false, func(ctx context.Context) error {
		data, err := e.signed(ctx, http.MethodGet, pathSubKeyIP, url.Values{"email": {email}, "subAccountApiKey": {apiKey}}, nil)
		if err != nil {
			return err
		}
		return json.Unmarshal(data, &ipr)
	})
	return ipr, err
}

// subKeys lists every sub-account's keys; with withIPs it also reads each
// key's IP restriction (3000 UID weight each, paced).
func (e *Executor) subKeys(ctx context.Context, subs []subAccount, withIPs bool) ([]subKey, error) {
	return e.subKeysReusing(ctx, subs, withIPs, 0)
}

// subKeysIPs is subKeys reading at most ipReads IP restrictions (-1: all);
// the others stay unknown (subKey.ipKnown false).
func (e *Executor) subKeysIPs(ctx context.Context, subs []subAccount, ipReads int) ([]subKey, error) {
	if ipReads < 0 {
		return e.subKeys(ctx, subs, true)
	}
	keys, err := e.subKeys(ctx, subs, false)
	if err != nil {
		return nil, err
	}
	if err := e.readIPs(ctx, keys[:min(ipReads, len(keys))]); err != nil {
		return nil, err
	}
	return keys, nil
}

// readIPs reads the IP restriction of each key (3000 UID weight each,
// paced).
func (e *Executor) readIPs(ctx context.Context, keys []subKey) error {
	errs := make([]error, len(keys))
	parallel(ctx, len(keys), e.concurrency, func(ctx context.Context, i int) {
		ipr, err := e.subKeyIP(ctx, keys[i].row.Email, keys[i].row.APIKey)
		errs[i] = err
		keys[i].ipKnown, keys[i].ipLock, keys[i].ips = err == nil, bool(ipr.IPRestrict), ipr.IPList
	}, nil)
	if err := firstError(errs); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return classify("read sub-account key IP restrictions", false, 0, 0, err)
	}
	return nil
}

// spareCalls is how many more calls of the endpoint fit the current window
// of its budget without waiting (the pacer's margin kept).
func (e *Executor) spareCalls(method, path string) int {
	c := costOf(method, path, nil)
	spec := e.pacer.spec(c)
	used, _ := budget.Used(e.pacer.set(c), c.bucket)
	return max(0, (spec.Limit-spec.Reserve-used)/c.weight)
}

// subKeysReusing is subKeys starting from listings made within reuse (see
// listReuse); 0 lists every sub-account again.
func (e *Executor) subKeysReusing(ctx context.Context, subs []subAccount, withIPs bool, reuse time.Duration) ([]subKey, error) {
	rows := make([][]subKeyRow, len(subs))
	errs := make([]error, len(subs))
	parallel(ctx, len(subs), e.concurrency, func(ctx context.Context, i int) {
		if r, ok := e.recentListing(subs[i].Email, reuse); ok {
			rows[i] = r
			return
		}
		rows[i], errs[i] = e.listSubKeys(ctx, subs[i].Email)
	}, nil)
	keys, err := e.keysOf(ctx, rows, errs)
	if err != nil {
		return nil, err
	}
	if withIPs {
		if err := e.readIPs(ctx, keys); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// keyMemory remembers the sub-account keys an executor saw listed under
// its master in this process. A key missing from a later listing is
// proven deleted only if it was seen before (or is in the accounts file's
// sub_keys): for any other id (a typo, a masked id, the master's other
// key) absence proves nothing.
type keyMemory struct {
	mu   sync.Mutex
	seen map[string]bool // full key id -> listed once
	// bySub: sub-account email -> key ids seen listed under it; temp: the
	// temporary keys this process minted (subaccounts.go).
	bySub map[string]map[string]bool
	temp  map[string]bool
	// baseline is the first listing's keys: any other key was created
	// while the run went on (keys.revoke created_mid_run).
	baseline map[string]bool
	// listed is each sub-account's latest key listing (listReuse).
	listed map[string]keyListing
	// revokeStart is when the latest keys.revoke call (not a plan)
	// began; midRunDone when the latest one with created_mid_run ended
	// (see beginRevoke).
	revokeStart, midRunDone time.Time
}

// keyListing is one sub-account's keys as listed at a time.
type keyListing struct {
	rows []subKeyRow
	at   time.Time
}

// memories holds each live executor's keyMemory. It sits beside the
// Executor (whose struct is in client.go) and is dropped when the executor
// is collected.
var memories sync.Map // weak.Pointer[Executor] -> *keyMemory

func (e *Executor) keyMemory() *keyMemory {
	wp := weak.Make(e)
	if m, ok := memories.Load(wp); ok {
		return m.(*keyMemory)
	}
	m, loaded := memories.LoadOrStore(wp, &keyMemory{seen: map[string]bool{}})
	if !loaded {
		runtime.AddCleanup(e, func(wp weak.Pointer[Executor]) { memories.Delete(wp) }, wp)
	}
	return m.(*keyMemory)
}

// rememberKeys records keys as seen listed.
func (e *Executor) rememberKeys(keys []subKey) {
	m := e.keyMemory()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.bySub == nil {
		m.bySub = map[string]map[string]bool{}
	}
	if m.baseline == nil {
		m.baseline = map[string]bool{}
		for _, k := range keys {
			m.baseline[k.row.APIKey] = true
		}
	}
	for _, k := range keys {
		m.seen[k.row.APIKey] = true
		if m.bySub[k.row.Email] == nil {
			m.bySub[k.row.Email] = map[string]bool{}
		}
		m.bySub[k.row.Email][k.row.APIKey] = true
	}
}

// knownSubKey reports whether apiKey was seen listed under a sub-account
// in this process or is one of the accounts file's sub_keys.
// isTempKey reports whether apiKey is a temporary key this process minted.
func (e *Executor) isTempKey(apiKey string) bool {
	m := e.keyMemory()
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.temp[apiKey]
}

func (e *Executor) knownSubKey(apiKey string) bool {
	for _, sk := range e.acct.SubKeys {
		if sk.APIKey == apiKey {
			return true
		}
	}
	m := e.keyMemory()
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seen[apiKey]
}

func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// toKey converts a sub key to the neutral payload.
func (k subKey) toKey(now time.Time) executors.Key {
	key := executors.Key{Owner: k.row.Email, Sub: true, APIKey: mask(k.row.APIKey), Label: k.row.APIName,
		Permissions: []string{"read"}, CanTrade: k.row.CanTrade || k.row.CanFuturesTrade || k.row.CanVanillaOptions,
		CanWithdraw: k.row.canWithdraw(), WithdrawUnknown: k.row.CanWithdraw == nil && k.row.EnableWithdrawals == nil,
		CanTransfer:  k.row.CanUniversalTransfer,
		IPRestricted: k.ipLock, IPs: k.ips, Created: msTime(k.row.Timestamp)}
	for _, p := range []struct {
		on   bool
		name string
	}{{k.row.CanTrade, "spot_margin_trade"}, {k.row.CanMarginLoanRepay, "margin_loan"}, {k.row.CanFuturesTrade, "futures"},
		{k.row.CanUniversalTransfer, "universal_transfer"}, {k.row.CanVanillaOptions, "options"}, {k.row.canWithdraw(), "withdraw"}} {
		if p.on {
			key.Permissions = append(key.Permissions, p.name)
		}
	}
	key.Risks = executors.KeyRisks(key, now)
	if !k.ipKnown {
		// Without the IP query the flag is unknown: do not claim a risk.
		key.Risks = dropRisk(key.Risks, "no-ip-restriction")
	}
	return key
}

func dropRisk(rs []string, r string) []string {
	var out []string
	for _, x := range rs {
		if x != r {
			out = append(out, x)
		}
	}
	return out
}

// ownKey describes the calling key from GET /sapi/v1/account/apiRestrictions.
func (e *Executor) ownKey(perm *gobinance.APIKeyPermission, master bool, now time.Time) executors.Key {
	owner := e.acct.Name
	if master {
		owner = "master"
	}
	k := executors.Key{Owner: owner, APIKey: mask(e.acct.APIKey.Reveal()), Permissions: []string{},
		CanTrade:     perm.EnableSpotAndMarginTrading || perm.EnableFutures || perm.EnableVanillaOptions,
		CanWithdraw:  perm.EnableWithdrawals,
		CanTransfer:  perm.EnableInternalTransfer || perm.PermitsUniversalTransfer,
		IPRestricted: perm.IPRestrict,
		Created:      msTime(int64(perm.CreateTime)),
	}
	if perm.TradingAuthorityExpirationTime > 0 {
		k.Expires = msTime(int64(perm.TradingAuthorityExpirationTime))
	}
	for _, p := range []struct {
		on   bool
		name string
	}{{perm.EnableReading, "read"}, {perm.EnableSpotAndMarginTrading, "spot_margin_trade"}, {perm.EnableMargin, "margin_loan"},
		{perm.EnableFutures, "futures"}, {perm.EnableVanillaOptions, "options"}, {perm.EnableWithdrawals, "withdraw"},
		{perm.EnableInternalTransfer, "internal_transfer"}, {perm.PermitsUniversalTransfer, "universal_transfer"}} {
		if p.on {
			k.Permissions = append(k.Permissions, p.name)
		}
	}
	k.Risks = executors.KeyRisks(k, now)
	return k
}

// keyFinding turns a key's risks into a finding with its fix.
func keyFinding(k executors.Key) (executors.Finding, bool) {
	if len(k.Risks) == 0 {
		return executors.Finding{}, false
	}
	sev := "low"
	switch {
	case k.CanWithdraw:
		sev = "high"
	case k.WithdrawUnknown:
		sev = "medium"
	case contains(k.Risks, "no-ip-restriction") && (k.CanTrade || k.CanTransfer):
		sev = "medium"
	}
	subject := fmt.Sprintf("key %s (%s)", k.APIKey, k.Owner)
	if k.Label != "" {
		subject = fmt.Sprintf("key %s %q (sub %s)", k.APIKey, k.Label, k.Owner)
	}
	f := executors.Finding{Severity: sev, Subject: subject, Message: "risky key: " + strings.Join(k.Risks, ", ")}
	if k.WithdrawUnknown {
		f.Message += " (Binance does not show a master whether a sub-account key can withdraw: treat it as if it could)"
	}
	if k.Sub {
		f.Fix = "run keys.revoke with scope sub_accounts and key_ids for this key (method delete, or ip_lock to freeze it)"
	} else {
		f.Fix = "in Binance: Account → API Management → Edit restrictions: untick Enable Withdrawals, restrict access to trusted IPs; or delete the key there"
	}
	return f, true
}

// keysInventory implements keys.inventory.
func (e *Executor) keysInventory(ctx context.Context, req executors.Request) (executors.Result, error) {
	now := e.env.Now()
	// The calling key's permissions and the sub-account list are
	// independent: read them at once.
	var (
		perm   *gobinance.APIKeyPermission
		subs   []subAccount
		master bool
		subErr error
	)
	err := both(func() error {
		var err error
		perm, err = e.apiRestrictions(ctx, "read calling key permissions")
		return err
	}, func() error {
		if req.Params.Bool("include_sub_accounts") {
			subs, master, subErr = e.subAccounts(ctx)
		}
		return nil
	})
	if err != nil {
		return executors.Result{}, err
	}
	if subErr != nil {
		return executors.Result{}, subErr
	}
	keys := []executors.Key{e.ownKey(perm, master, now)}
	var findings []executors.Finding
	if master && len(subs) > 0 {
		ipReads := -1 // all
		if req.Params.String("ip_reads") == "spare" {
			ipReads = e.spareCalls(http.MethodGet, pathSubKeyIP)
		}
		sks, err := e.subKeysIPs(ctx, subs, ipReads)
		if err != nil {
			return executors.Result{}, err
		}
		unread := 0
		for _, sk := range sks {
			keys = append(keys, sk.toKey(now))
			if !sk.ipKnown {
				unread++
			}
		}
		if unread > 0 && ipReads >= 0 {
			findings = append(findings, executors.Finding{Severity: "info", Subject: "account " + e.acct.Name,
				Message: fmt.Sprintf("IP restriction not read for %s of %d: Binance allows a master 60 such reads a minute, and this minute's were kept for the revocations (ip_reads: spare); their no-IP-restriction risk is unknown, not absent",
					plural(unread, "sub key"), len(sks)),
				Fix: "run the keys.inventory action again later (ip_reads: all) to read them"})
		}
	}
	risky := 0
	for _, k := range keys {
		if f, ok := keyFinding(k); ok {
			findings = append(findings, f)
			risky++
		}
	}
	summary := fmt.Sprintf("%s (%s of sub-accounts), %d risky", plural(len(keys), "key"), plural(len(keys)-1, "key"), risky)
	if !master {
		summary = fmt.Sprintf("calling key only (not a master account), %d risky", risky)
	}
	return executors.Result{Status: executors.StatusOK, Summary: summary, Data: keys, Findings: findings,
		Counts: map[string]int{"keys": len(keys), "risky": risky, "sub_accounts": len(subs)}}, nil
}

// revokeTarget is one sub key to neutralise.
type revokeTarget struct {
	key subKey
	m   executors.Mutation
	// unlist (ip_lock only) are IPs already on the key's list that must be
	// removed afterwards: Binance's v2 call adds IPs, it does not replace
	// them, so a key whitelisted to an attacker's IP would stay usable.
	unlist []string
}

// selectKeys applies the select/key_ids/match selectors.
func selectKeys(keys []subKey, p executors.Params, now time.Time) []subKey {
	sel := p.String("select")
	ids := p.Strings("key_ids")
	match := strings.ToLower(p.String("match"))
	var out []subKey
	for _, k := range keys {
		nk := k.toKey(now)
		switch sel {
		case "withdraw_enabled":
			// Binance does not show the master a sub key's withdrawal
			// permission: an unknown one is treated as enabled.
			if !nk.MayWithdraw() {
				continue
			}
		case "risky":
			if len(nk.Risks) == 0 {
				continue
			}
		}
		if len(ids) > 0 && !contains(ids, k.row.APIKey) && !contains(ids, mask(k.row.APIKey)) {
			continue
		}
		if match != "" {
			hay := strings.ToLower(k.row.APIName + " " + k.row.Email + " " + strings.Join(k.ips, ","))
			if !strings.Contains(hay, match) {
				continue
			}
		}
		out = append(out, k)
	}
	return out
}

func sameIPs(a, b []string) bool {
	x := append([]string(nil), a...)
	y := append([]string(nil), b...)
	sort.Strings(x)
	sort.Strings(y)
	return strings.Join(x, ",") == strings.Join(y, ",")
}

// revokePlan builds the mutation for each selected key; keys already in the
// wanted state are skipped (so a re-run converges).
func (e *Executor) revokePlan(keys []subKey, method string, ips []string) []revokeTarget {
	var out []revokeTarget
	for _, k := range keys {
		t := revokeTarget{key: k}
		req := map[string]string{"email": k.row.Email, "subAccountApiKey": mask(k.row.APIKey)}
		switch method {
		case "delete":
			req["method"], req["path"] = http.MethodDelete, pathSubKeys
			t.m = executors.Mutation{ID: "delete-key:" + k.mutationSuffix(), Kind: "delete-key", Irreversible: true,
				Target: "delete " + k.describe()}
		case "ip_lock":
			if k.ipKnown && k.ipLock && sameIPs(k.ips, ips) {
				continue
			}
			req["method"], req["path"], req["status"], req["ipAddress"] = http.MethodPost, pathSubKeyIPv2, "2", strings.Join(ips, ",")
			for _, ip := range k.ips {
				if !slices.Contains(ips, ip) {
					t.unlist = append(t.unlist, ip)
				}
			}
			target := fmt.Sprintf("restrict %s to %s", k.describe(), strings.Join(ips, ","))
			if len(t.unlist) > 0 {
				target += fmt.Sprintf(" (then remove %s)", strings.Join(t.unlist, ","))
			}
			t.m = executors.Mutation{ID: "ip-lock-key:" + k.mutationSuffix(), Kind: "ip-lock-key", Target: target}
		case "strip_permissions":
			r := k.row
			if !r.CanTrade && !r.CanMarginLoanRepay && !r.CanFuturesTrade && !r.CanUniversalTransfer && !r.CanVanillaOptions {
				continue
			}
			req["method"], req["path"] = http.MethodPost, pathSubKeyPerms
			t.m = executors.Mutation{ID: "strip-key:" + k.mutationSuffix(), Kind: "strip-key",
				Target: "remove every permission of " + k.describe()}
		}
		t.m.Request = req
		out = append(out, t)
	}
	return out
}

// sendRevoke sends the one request of t.
func (e *Executor) sendRevoke(ctx context.Context, method string, ips []string, k subKey) error {
	form := url.Values{"email": {k.row.Email}, "subAccountApiKey": {k.row.APIKey}}
	op := method + " " + k.describe()
	return e.call(ctx, op, true, func(ctx context.Context) error {
		var err error
		switch method {
		case "delete":
			_, err = e.signed(ctx, http.MethodDelete, pathSubKeys, nil, form)
			if apiCode(err) == codeSubKeyGone {
				// Gone already (a listing reused from earlier in the run
				// may show a key deleted since); the re-list confirms it.
				// Should the code mean our own key died instead, that
				// re-list fails and says so.
				return nil
			}
		case "ip_lock":
			// The v2 path: the SDK's helper posts to the v1 path, which
			// Binance discontinued in Jan 2023.
			form.Set("status", "2")
			form.Set("ipAddress", strings.Join(ips, ","))
			_, err = e.signed(ctx, http.MethodPost, pathSubKeyIPv2, nil, form)
		case "strip_permissions":
			for _, p := range []string{"canTrade", "canMarginLoanRepay", "canFuturesTrade", "canUniversalTransfer", "canVanillaOptions"} {
				form.Set(p, "false")
			}
			_, err = e.signed(ctx, http.MethodPost, pathSubKeyPerms, nil, form)
		}
		return err
	})
}

// sendUnlist removes ips from a sub key's IP whitelist.
func (e *Executor) sendUnlist(ctx context.Context, k subKey, ips []string) error {
	form := url.Values{"email": {k.row.Email}, "subAccountApiKey": {k.row.APIKey}, "ipAddress": {strings.Join(ips, ",")}}
	return e.call(ctx, "remove IPs from "+k.describe(), true, func(ctx context.Context) error {
		_, err := e.signed(ctx, http.MethodDelete, pathSubKeyIP+"/ipList", nil, form)
		return err
	})
}

// masterManual is the manual step for the account's own key.
func (e *Executor) masterManual(master bool) executors.ManualStep {
	id := mask(e.acct.APIKey.Reveal())
	where := "the master account"
	if !master {
		where = "this account (if it is a sub-account, its master can also delete the key with keys.revoke)"
	}
	return executors.ManualStep{
		Title: masterManualTitle + " (" + id + ")",
		Instructions: fmt.Sprintf("Binance has no API to delete or disable an account's own API key. Log in to %s at binance.com "+
			"(or the app) with 2FA, open Account → API Management, find the key %s and click Delete, then confirm. "+
			"Create new keys only after the incident is contained. The tool verifies the deletion by probing the key until Binance rejects it (-2015, or -2008 on /sapi).", where, id),
		Verify: "key_rejected",
	}
}

// maxRevokeRounds bounds the delete rounds of keys.revoke (send, re-list,
// send again what is left) besides the step's deadline.
const maxRevokeRounds = 10

// keysRevoke implements keys.revoke (and its plan).
func (e *Executor) keysRevoke(ctx context.Context, req executors.Request, plan bool) (executors.Result, error) {
	scope := req.Params.String("scope")
	method := req.Params.String("method")
	ips := req.Params.Strings("ip_whitelist")
	if method == "ip_lock" && len(ips) == 0 {
		return executors.Result{}, rejected("keys.revoke", "method ip_lock needs a non-empty ip_whitelist")
	}
	now := e.env.Now()
	var (
		res    = executors.Result{Counts: map[string]int{}}
		master bool
		subs   []subAccount
		err    error
	)
	subs, master, err = e.subAccounts(ctx)
	if err != nil {
		return executors.Result{}, err
	}
	if scope == "master" || scope == "all" {
		res.Manual = append(res.Manual, e.masterManual(master))
	}
	if scope == "master" {
		res.Status = executors.StatusPending
		res.Summary = "manual step: Binance has no API to delete the account's own key " + mask(e.acct.APIKey.Reveal()) + "; delete it in API Management"
		return res, nil
	}
	if !master {
		res.Findings = append(res.Findings, executors.Finding{Severity: "info", Subject: "account " + e.acct.Name,
			Message: "not a master account: no sub-account keys to revoke"})
		e.checkKeyIDs(&res, req.Params, nil, false)
		return e.finishRevoke(res, nil, nil, nil, plan, "no sub-account keys (not a master account)"), nil
	}
	var since time.Time
	if !plan {
		since = e.beginRevoke()
		if req.Params.Bool("created_mid_run") {
			defer e.endMidRunLook()
		}
	}
	var (
		mu       sync.Mutex
		done     = map[string]bool{}
		failed   = map[string]error{}
		auditErr error
	)
	stopped := func() bool { mu.Lock(); defer mu.Unlock(); return auditErr != nil }
	send := func(pending []revokeTarget) {
		parallel(ctx, len(pending), e.concurrency, func(ctx context.Context, i int) {
			t := pending[i]
			aerr, err := mutate(ctx, req, t.m, func(ctx context.Context) error { return e.sendRevoke(ctx, method, ips, t.key) })
			if aerr == nil && err == nil && len(t.unlist) > 0 {
				// Second request, its own intent: remove the IPs that were
				// already allowed, so only the sinkhole list remains.
				um := executors.Mutation{ID: "ip-unlist-key:" + t.key.mutationSuffix(), Kind: "ip-unlist-key",
					Target:  fmt.Sprintf("remove %s from %s", strings.Join(t.unlist, ","), t.key.describe()),
					Request: map[string]string{"method": http.MethodDelete, "path": pathSubKeyIP + "/ipList", "email": t.key.row.Email, "ipAddress": strings.Join(t.unlist, ",")}}
				aerr, err = mutate(ctx, req, um, func(ctx context.Context) error { return e.sendUnlist(ctx, t.key, t.unlist) })
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case aerr != nil:
				if auditErr == nil {
					auditErr = aerr
				}
			case err != nil:
				failed[t.m.ID] = err
				delete(done, t.m.ID)
			default:
				done[t.m.ID] = true
				delete(failed, t.m.ID)
			}
		}, stopped)
	}
	needIPs := method == "ip_lock" || req.Params.String("select") == "risky" || req.Params.String("match") != ""
	reuse := time.Duration(0)
	if method == "delete" && !needIPs && !plan {
		// The confirming re-list below is fresh and catches any key
		// created since this listing.
		reuse = listReuse
	}
	choose := func(keys []subKey) []subKey {
		selected := selectKeys(keys, req.Params, now)
		if req.Params.Bool("created_mid_run") {
			selected = unionKeys(selected, e.midRunKeys(keys))
		}
		return selected
	}
	var (
		keys, selected []subKey
		first          *relisting // round 0's, when its deletes went as the keys were listed
	)
	if method == "delete" && !needIPs && !plan {
		keys, selected, first, err = e.deleteAsListed(ctx, subs, reuse, choose, func(ks []subKey) { send(e.revokePlan(ks, method, ips)) }, stopped)
	} else {
		keys, err = e.subKeysReusing(ctx, subs, needIPs, reuse)
		selected = choose(keys)
	}
	if err != nil && first == nil {
		return executors.Result{}, err
	}
	listingNote := "" // what a look for mid-run keys saw, when it reused listings
	if len(selected) == 0 && reuse > 0 && req.Params.Bool("created_mid_run") {
		// Nothing to delete in the earlier listing, so no re-list would
		// follow: list afresh, for the keys created since (a hold pass
		// looks for them), every sub-account not listed since the
		// previous revocation began (see beginRevoke). A selection
		// without created_mid_run (keys that can withdraw) takes the
		// listing as it was: a key created since is the next
		// created_mid_run step's.
		before := e.env.Now()
		if keys, err = e.subKeysReusing(ctx, subs, needIPs, midRunReuse(since, before)); err != nil {
			return executors.Result{}, err
		}
		if at := e.listedSince(subs); at.Before(before) {
			listingNote = subacct.MidRunListingNote(at) // some were not listed again
		}
		selected = choose(keys)
	}
	e.checkKeyIDs(&res, req.Params, keys, master)
	targets := e.revokePlan(selected, method, ips)
	if plan || len(targets) == 0 {
		r := e.finishRevoke(res, targets, nil, nil, true, "")
		r.Summary += listingNote
		if reuse > 0 && !req.Params.Bool("created_mid_run") {
			// No re-list follows (with targets, a fresh one adds the keys
			// created since): say what the selection saw.
			r.Summary += subacct.ListingNote(e.listedSince(subs))
		}
		return r, nil
	}
	pending := targets
	// Deletes go in rounds: send, re-list, and send again only the keys
	// still listed whose delete failed for a passing reason (unknown
	// outcome under a 5xx storm, a timeout), never before the re-list
	// showed them still there; until none is left, a refusal is final, or
	// the step's deadline leaves no room (issue 12 item 4).
	for round := 0; ; round++ {
		var (
			after   []subKey
			listErr error
		)
		switch {
		case round == 0 && first != nil:
			after, listErr = first.after, first.err
		case method == "delete":
			after, listErr = e.deleteThenRelist(ctx, subs, pending, send, stopped)
		default:
			send(pending)
		}
		if auditErr != nil {
			r := e.finishRevoke(res, targets, done, failed, false, "")
			r.Status, r.Summary = executors.StatusFailed, "audit trail refused a key revocation; stopped: "+auditErr.Error()
			return r, auditErr
		}
		// Verify: a deleted key must no longer be listed; an ip-locked or
		// stripped key is read back. A failed call whose outcome is
		// unknown is settled by the same re-read. When the re-read fails,
		// nothing sent is confirmed: every target stays remaining.
		if method == "ip_lock" || method == "strip_permissions" {
			if err := e.confirmRevoke(ctx, method, ips, targets, done, failed); err != nil {
				r := e.finishRevoke(res, targets, nil, failed, false, "")
				r.Status, r.Summary = executors.StatusFailed, fmt.Sprintf("%s requests sent but the keys could not be read back, so none is confirmed: %v", method, err)
				return r, err
			}
			break
		}
		if method != "delete" {
			break
		}
		if listErr != nil {
			r := e.finishRevoke(res, targets, nil, failed, false, "")
			r.Status, r.Summary = executors.StatusFailed, "keys deleted but the re-list failed, so none is confirmed: "+listErr.Error()
			return r, listErr
		}
		still := map[string]bool{}
		for _, k := range after {
			still[k.row.APIKey] = true
		}
		pending = nil
		for _, t := range targets {
			if still[t.key.row.APIKey] {
				if done[t.m.ID] {
					failed[t.m.ID] = &executors.Error{Class: executors.ErrRejected, Op: "delete " + t.key.describe(), Msg: "key still listed after delete"}
				}
				delete(done, t.m.ID)
				if executors.Retryable(failed[t.m.ID]) {
					pending = append(pending, t)
				}
			} else if !done[t.m.ID] {
				done[t.m.ID] = true
				delete(failed, t.m.ID)
			}
		}
		// A key the step selects that the first listing did not show
		// (created meanwhile, or missing from a reused listing) is a
		// target too, deleted in the next round.
		fresh := selectKeys(after, req.Params, now)
		if req.Params.Bool("created_mid_run") {
			fresh = unionKeys(fresh, e.midRunKeys(after))
		}
		known := map[string]bool{}
		for _, t := range targets {
			known[t.key.row.APIKey] = true
		}
		var added []subKey
		for _, k := range fresh {
			if !known[k.row.APIKey] && !e.isTempKey(k.row.APIKey) {
				added = append(added, k)
			}
		}
		for _, t := range e.revokePlan(added, method, ips) {
			targets = append(targets, t)
			pending = append(pending, t)
		}
		if len(pending) == 0 || round+1 >= maxRevokeRounds || !e.retry.Room(ctx, wallNow(), round+1, e.retry.Backoff(round, 0)) {
			break
		}
	}
	r := e.finishRevoke(res, targets, done, failed, false, "")
	if len(failed) > 0 {
		return r, firstError(mapValues(failed, targets))
	}
	return r, nil
}

// beginRevoke records that a keys.revoke call begins now and returns
// since, for midRunReuse: the latest of the previous call's start and the
// end of the latest look for keys created mid-run (zero when neither).
//
// A created_mid_run revocation that finds nothing to delete lists the
// sub-accounts again, for keys created since their last listing. A
// sub-account listed after the previous revocation began was just
// re-listed by it (the confirming re-list that follows its deletes: in
// the playbook, revoke-withdraw-keys right before revoke-sub-keys) and is
// not listed once more; one listed by an earlier look for mid-run keys
// (the step before a hold pass, or the previous pass) always is. At 16×
// the benchmark, listing the 74 sub-accounts of a master once more took
// most of a minute's budget of that endpoint (60 calls) and pushed the
// temporary keys, and every sub-account's futures cancels with them, a
// /fapi window later.
func (e *Executor) beginRevoke() time.Time {
	m := e.keyMemory()
	m.mu.Lock()
	defer m.mu.Unlock()
	since := m.revokeStart
	if m.midRunDone.After(since) {
		since = m.midRunDone
	}
	m.revokeStart = e.env.Now()
	return since
}

// endMidRunLook records that a look for keys created mid-run ends now.
func (e *Executor) endMidRunLook() {
	m := e.keyMemory()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.midRunDone = e.env.Now()
}

// midRunReuse is how old a sub-account's key listing may be at now for a
// created_mid_run revocation's fresh look to take it (see beginRevoke):
// made after since, and never older than listReuse; 0 (list every
// sub-account) when since is zero.
func midRunReuse(since, now time.Time) time.Duration {
	if since.IsZero() || !now.After(since) {
		return 0
	}
	return min(listReuse, now.Sub(since))
}

// deleteThenRelist sends the deletes of pending (with send) and re-lists
// every sub-account's keys, each sub-account's re-list as soon as its own
// deletes are answered (a sub-account with none at once), not after every
// sub-account's: the listing has its own budget (UID weight 3000 of the
// master's 60 per minute, like the delete), so at scale the re-lists of
// the sub-accounts done go out while the others' deletes wait for the
// next window. Waiting for the last delete put every re-list two minutes
// later at 16× the benchmark (74 sub-accounts a master). Nothing is
// listed once stop says the audit trail refused an intent.
func (e *Executor) deleteThenRelist(ctx context.Context, subs []subAccount, pending []revokeTarget, send func([]revokeTarget), stop func() bool) ([]subKey, error) {
	known := map[string]bool{}
	for _, s := range subs {
		known[s.Email] = true
	}
	bySub := map[string][]revokeTarget{}
	var unlisted []revokeTarget // on a sub-account not in subs (not expected)
	for _, t := range pending {
		if email := t.key.row.Email; known[email] {
			bySub[email] = append(bySub[email], t)
		} else {
			unlisted = append(unlisted, t)
		}
	}
	send(unlisted)
	rows := make([][]subKeyRow, len(subs))
	errs := make([]error, len(subs))
	parallel(ctx, len(subs), e.concurrency, func(ctx context.Context, i int) {
		if ts := bySub[subs[i].Email]; len(ts) > 0 {
			send(ts)
		}
		if !stop() {
			rows[i], errs[i] = e.listSubKeys(executors.Confirming(ctx), subs[i].Email)
		}
	}, stop)
	if stop() {
		return nil, nil // the caller reports the audit trail's refusal
	}
	return e.keysOf(ctx, rows, errs)
}

// relisting is a round's re-list of the sub-accounts' keys after its
// deletes: the keys it showed, or the first listing's error.
type relisting struct {
	after []subKey
	err   error
}

// deleteAsListed is the first round of a delete revocation: each
// sub-account's keys are listed (or its listing made within reuse taken,
// see listReuse), the keys choose selects of them deleted (del) at once,
// and the sub-account re-listed as soon as its deletes are answered
// (deleteThenRelist's rule); once anything is deleted, every other
// sub-account is re-listed too, as soon as its own listing is done.
// Listing every sub-account before the first delete held the deletes back
// for as long as the listing took: at 16× the benchmark (64 sub-accounts
// a master, 60 listings of this endpoint a minute per master), the last
// ten sub-accounts' listings went in the next minute, and with them the
// first of the master's 192 deletions, which took four minutes' budget of
// their own from there.
//
// It returns the keys as listed (remembered, see keyMemory, when every
// listing succeeded) and those chosen, the re-listing when anything was
// deleted (nil otherwise), and the first listing's error. Nothing is
// listed or deleted once stop says the audit trail refused an intent.
func (e *Executor) deleteAsListed(ctx context.Context, subs []subAccount, reuse time.Duration, choose func([]subKey) []subKey, del func([]subKey), stop func() bool) (keys, chosen []subKey, first *relisting, err error) {
	var (
		mu      sync.Mutex
		rows    = make([][]subKeyRow, len(subs))
		picked  = make([][]subKey, len(subs)) // chosen, in the sub-accounts' order
		errs    = make([]error, len(subs))
		after   = make([][]subKeyRow, len(subs))
		afterE  = make([]error, len(subs))
		listed  int
		deleted bool
		// decided is closed once it is known whether the round deletes
		// anything: at its first delete, or when every listing is done.
		decided = make(chan struct{})
		once    sync.Once
	)
	decide := func() { once.Do(func() { close(decided) }) }
	// Every sub-account at once (whatever e.concurrency): one whose keys
	// have nothing to delete waits for decided, which needs every listing
	// started. The endpoints' budgets pace what is sent.
	parallel(ctx, len(subs), max(e.concurrency, len(subs)), func(ctx context.Context, i int) {
		r, ok := e.recentListing(subs[i].Email, reuse)
		if !ok {
			r, errs[i] = e.listSubKeys(ctx, subs[i].Email)
		}
		var ks []subKey
		if errs[i] == nil {
			rows[i], ks = r, choose(asKeys(r))
		}
		mu.Lock()
		picked[i] = ks
		listed++
		if len(ks) > 0 {
			deleted = true
			decide()
		}
		if listed == len(subs) {
			decide()
		}
		mu.Unlock()
		if errs[i] != nil {
			return
		}
		if len(ks) > 0 {
			del(ks)
		} else {
			select {
			case <-decided:
			case <-ctx.Done():
				return
			}
			mu.Lock()
			d := deleted
			mu.Unlock()
			if !d {
				return
			}
		}
		if !stop() {
			after[i], afterE[i] = e.listSubKeys(executors.Confirming(ctx), subs[i].Email)
		}
	}, stop)
	decide() // parallel may have stopped early
	for _, rs := range rows {
		keys = append(keys, asKeys(rs)...)
	}
	if err = firstError(errs); err == nil {
		e.rememberKeys(keys)
		if cerr := ctx.Err(); cerr != nil {
			err = classify("list sub-account keys", false, 0, 0, cerr)
		}
	}
	if !deleted {
		return keys, nil, nil, err
	}
	for _, ks := range picked {
		chosen = append(chosen, ks...)
	}
	first = &relisting{err: err}
	if stop() {
		return keys, chosen, first, err // the caller reports the audit trail's refusal
	}
	if err == nil {
		first.after, first.err = e.keysOf(ctx, after, afterE)
	}
	return keys, chosen, first, err
}

// asKeys is rows as subKeys.
func asKeys(rows []subKeyRow) []subKey {
	out := make([]subKey, len(rows))
	for i, r := range rows {
		out[i] = subKey{row: r}
	}
	return out
}

// keysOf is the keys of per-sub-account listings (remembered, see
// keyMemory), or the first listing's error, or the context's when it
// ended before every sub-account was listed.
func (e *Executor) keysOf(ctx context.Context, rows [][]subKeyRow, errs []error) ([]subKey, error) {
	if err := firstError(errs); err != nil {
		return nil, err
	}
	keys := asKeys(slices.Concat(rows...))
	e.rememberKeys(keys)
	if err := ctx.Err(); err != nil {
		return nil, classify("list sub-account keys", false, 0, 0, err)
	}
	return keys, nil
}

// stripped reports whether a sub key row holds none of the permissions
// strip_permissions removes.
func stripped(r subKeyRow) bool {
	return !r.CanTrade && !r.CanMarginLoanRepay && !r.CanFuturesTrade && !r.CanUniversalTransfer && !r.CanVanillaOptions
}

// confirmRevoke reads back every ip_lock / strip_permissions target and
// settles done and failed from what the venue now shows: a key in the
// wanted state (restricted to exactly ips; no trading or transfer
// permission; or no longer listed) is done, any other key is failed. It
// returns the error of a read that failed (nothing is settled then).
func (e *Executor) confirmRevoke(ctx context.Context, method string, ips []string, targets []revokeTarget, done map[string]bool, failed map[string]error) error {
	ctx = executors.Confirming(ctx)
	ok := make([]bool, len(targets))
	errs := make([]error, len(targets))
	state := make([]string, len(targets)) // what the venue shows, for the failure message
	switch method {
	case "ip_lock":
		parallel(ctx, len(targets), e.concurrency, func(ctx context.Context, i int) {
			k := targets[i].key
			ipr, err := e.subKeyIP(ctx, k.row.Email, k.row.APIKey)
			errs[i] = err
			ok[i] = err == nil && bool(ipr.IPRestrict) && sameIPs(ipr.IPList, ips)
			state[i] = fmt.Sprintf("ip restriction %v, ips %s", bool(ipr.IPRestrict), strings.Join(ipr.IPList, ","))
		}, nil)
	case "strip_permissions":
		emails := map[string]int{}
		var list []string
		for _, t := range targets {
			if _, seen := emails[t.key.row.Email]; !seen {
				emails[t.key.row.Email] = len(list)
				list = append(list, t.key.row.Email)
			}
		}
		rows := make([][]subKeyRow, len(list))
		lerrs := make([]error, len(list))
		parallel(ctx, len(list), e.concurrency, func(ctx context.Context, i int) {
			rows[i], lerrs[i] = e.listSubKeys(ctx, list[i])
		}, nil)
		for i, t := range targets {
			j := emails[t.key.row.Email]
			if errs[i] = lerrs[j]; errs[i] != nil {
				continue
			}
			ok[i], state[i] = true, "no longer listed"
			for _, r := range rows[j] {
				if r.APIKey == t.key.row.APIKey {
					ok[i] = stripped(r)
					state[i] = fmt.Sprintf("canTrade %v, canMarginLoanRepay %v, canFuturesTrade %v, canUniversalTransfer %v, canVanillaOptions %v",
						r.CanTrade, r.CanMarginLoanRepay, r.CanFuturesTrade, r.CanUniversalTransfer, r.CanVanillaOptions)
				}
			}
		}
	}
	if err := firstError(errs); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return classify("read back sub-account keys", false, 0, 0, err)
	}
	for i, t := range targets {
		if ok[i] {
			done[t.m.ID] = true
			delete(failed, t.m.ID)
			continue
		}
		if done[t.m.ID] || failed[t.m.ID] == nil {
			failed[t.m.ID] = &executors.Error{Class: executors.ErrRejected, Op: method + " " + t.key.describe(),
				Msg: "the venue accepted the request but the key is not in the wanted state: " + state[i]}
		}
		delete(done, t.m.ID)
	}
	return nil
}

func mapValues(m map[string]error, targets []revokeTarget) []error {
	var out []error
	for _, t := range targets {
		if err, ok := m[t.m.ID]; ok {
			out = append(out, err)
		}
	}
	return out
}

// finishRevoke builds the result of keys.revoke: plan (would-change), done
// (changed / failed with remaining) and the master manual step (pending).
func (e *Executor) finishRevoke(res executors.Result, targets []revokeTarget, done map[string]bool, failed map[string]error, plan bool, nothing string) executors.Result {
	change := func(t revokeTarget) executors.Change {
		return executors.Change{Kind: t.m.Kind, Target: t.m.Target, Irreversible: t.m.Irreversible, ID: t.m.ID}
	}
	var names []string
	for _, t := range targets {
		if plan {
			res.Changes = append(res.Changes, change(t))
			names = append(names, t.key.describe())
			continue
		}
		if done[t.m.ID] {
			res.Changes = append(res.Changes, change(t))
			names = append(names, t.key.describe())
		} else {
			res.Remaining = append(res.Remaining, change(t))
			if err := failed[t.m.ID]; err != nil {
				res.Findings = append(res.Findings, executors.Finding{Severity: "high", Subject: t.key.describe(), Message: "not revoked: " + err.Error()})
			}
		}
	}
	verb, planVerb := "revoked", "revoke"
	if len(targets) > 0 {
		switch targets[0].m.Kind {
		case "delete-key":
			verb, planVerb = "deleted", "delete"
		case "ip-lock-key":
			verb, planVerb = "ip-locked", "ip-lock"
		case "strip-key":
			verb, planVerb = "stripped the permissions of", "strip the permissions of"
		}
	}
	res.Counts["targets"] = len(targets)
	res.Counts["done"] = len(res.Changes)
	res.Counts["remaining"] = len(res.Remaining)
	pendingNote := ""
	if len(res.Manual) > 0 {
		pendingNote = "; the master key needs a manual deletion"
	}
	switch {
	case len(targets) == 0:
		if nothing == "" {
			nothing = "no sub-account key matches the selector"
		}
		res.Status, res.Summary = executors.StatusOK, "nothing to do: "+nothing+pendingNote
	case plan:
		res.Status = executors.StatusWouldChange
		res.Summary = fmt.Sprintf("would %s %s: %s%s", planVerb, plural(len(targets), "sub-account key"), strings.Join(names, "; "), pendingNote)
	case len(res.Remaining) > 0:
		res.Status = executors.StatusFailed
		res.Summary = fmt.Sprintf("%s %d of %s; %d left%s", verb, len(res.Changes), plural(len(targets), "sub-account key"), len(res.Remaining), pendingNote)
	default:
		res.Status = executors.StatusChanged
		res.Summary = fmt.Sprintf("%s %s: %s%s", verb, plural(len(targets), "sub-account key"), strings.Join(names, "; "), pendingNote)
	}
	if len(res.Manual) > 0 && res.Status != executors.StatusFailed {
		res.Status = executors.StatusPending
	}
	return res
}
