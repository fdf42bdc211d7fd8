package kucoin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"weak"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/internal/subacct"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// subUser is an item of GET /api/v2/sub/user.
type subUser struct {
	UserID  string `json:"userId"`
	UID     any    `json:"uid"`
	SubName string `json:"subName"`
	Status  any    `json:"status"`
	Remarks string `json:"remarks"`
}

// subKey is one sub-account key as listed by the master.
type subKey struct {
	info apiKeyInfo
	sub  subUser
}

func (x *Executor) subUsers(ctx context.Context) ([]subUser, error) {
	m := x.keyMemory()
	m.mu.Lock()
	if !m.subsAt.IsZero() && x.env.Now().Sub(m.subsAt) < subListReuse {
		users := append([]subUser(nil), m.subs...)
		m.mu.Unlock()
		return users, nil
	}
	m.mu.Unlock()
	users, err := listPaged[subUser](ctx, x, x.spot, "list sub-accounts", "/api/v2/sub/user", nil, 100)
	if err == nil {
		m.mu.Lock()
		m.subs, m.subsAt = append([]subUser(nil), users...), x.env.Now()
		m.mu.Unlock()
	}
	return users, err
}

// subListReuse is how long a listing of the sub-accounts serves the steps
// that follow it: each step of suspected-key-leak starts from it (a round
// trip and 20 of the Management pool each), and sub-accounts come and go
// far more rarely. A hold pass lists them again (its passes are further
// apart).
const subListReuse = 2 * time.Second

// subKeys lists every sub-account's keys (master keys only).
func (x *Executor) subKeys(ctx context.Context) ([]subKey, error) {
	users, err := x.subUsers(ctx)
	if err != nil {
		return nil, err
	}
	// The sub-accounts' lists are independent: read them concurrently
	// (the pacer keeps them within the management pool).
	lists := make([][]apiKeyInfo, len(users))
	errs := make([]error, len(users))
	parallel(len(users), listParallel, func(i int) {
		errs[i] = x.call(ctx, x.spot, "list api keys of sub "+users[i].SubName, false, http.MethodGet, "/api/v1/sub/api-key", q("subName", users[i].SubName), &lists[i])
	})
	var out []subKey
	for i, u := range users {
		keys := lists[i]
		if err := errs[i]; err != nil {
			return out, err
		}
		for _, k := range keys {
			if k.SubName == "" {
				k.SubName = u.SubName
			}
			out = append(out, subKey{info: k, sub: u})
		}
	}
	x.rememberKeys(out)
	m := x.keyMemory()
	m.mu.Lock()
	m.listed, m.listedAt = append([]subKey(nil), out...), x.env.Now()
	m.mu.Unlock()
	return out, nil
}

// listReuse is how old the listing of every sub-account's keys may be for
// a delete revocation to start from it instead of listing again: each
// sub-account's listing is a round trip's wave and 20 of the Management
// pool. Without created_mid_run (keys that can withdraw) a key created
// since is the next created_mid_run revocation's; with it, the confirming
// re-list after the deletes shows such a key and a further pass handles
// it, and when the earlier listing holds nothing to delete it lists
// afresh (revokeKeys).
const listReuse = 2 * time.Minute

// recentSubKeys returns the listing of every sub-account's keys made
// within maxAge.
func (x *Executor) recentSubKeys(maxAge time.Duration) ([]subKey, time.Time, bool) {
	m := x.keyMemory()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.listedAt.IsZero() || x.env.Now().Sub(m.listedAt) > maxAge {
		return nil, time.Time{}, false
	}
	return append([]subKey(nil), m.listed...), m.listedAt, true
}

// forgetListing drops the reusable listing of every sub-account's keys
// (recentSubKeys): a change to a sub key is about to be sent, and the
// listing no longer says what is there. A revocation retried after its
// confirming re-list failed would otherwise start from the listing made
// before its deletes and send them again, for keys that are gone.
func (x *Executor) forgetListing() {
	m := x.keyMemory()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.listed, m.listedAt = nil, time.Time{}
}

// keyMemory remembers the sub-account keys an executor saw listed under
// its master in this process. A key missing from a later listing is
// proven deleted only if it was seen before (or is in the accounts file's
// sub_keys): for any other id (a typo, a masked id, another key of the
// master) absence proves nothing.
type keyMemory struct {
	mu   sync.Mutex
	seen map[string]bool // full key id -> listed once
	// baseline is the first listing's keys: any other key was created
	// while the run went on (keys.revoke created_mid_run); temp are the
	// temporary keys this process minted.
	baseline map[string]bool
	temp     map[string]bool
	bySub    map[string]map[string]bool // sub -> key ids seen listed under it
	// subs is the latest listing of the sub-accounts, made at subsAt
	// (subListReuse).
	subs   []subUser
	subsAt time.Time
	// listed is the latest listing of every sub-account's keys, made at
	// listedAt (listReuse).
	listed   []subKey
	listedAt time.Time
}

// memories holds each live executor's keyMemory beside the Executor
// (whose struct is in executor.go); an entry is dropped when its executor
// is collected.
var memories sync.Map // weak.Pointer[Executor] -> *keyMemory

func (x *Executor) keyMemory() *keyMemory {
	wp := weak.Make(x)
	if m, ok := memories.Load(wp); ok {
		return m.(*keyMemory)
	}
	m, loaded := memories.LoadOrStore(wp, &keyMemory{seen: map[string]bool{}})
	if !loaded {
		runtime.AddCleanup(x, func(wp weak.Pointer[Executor]) { memories.Delete(wp) }, wp)
	}
	return m.(*keyMemory)
}

func (x *Executor) rememberKeys(keys []subKey) {
	m := x.keyMemory()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.baseline == nil {
		m.baseline = map[string]bool{}
		for _, k := range keys {
			m.baseline[k.info.APIKey] = true
		}
	}
	if m.bySub == nil {
		m.bySub = map[string]map[string]bool{}
	}
	for _, k := range keys {
		m.seen[k.info.APIKey] = true
		if m.bySub[k.info.SubName] == nil {
			m.bySub[k.info.SubName] = map[string]bool{}
		}
		m.bySub[k.info.SubName][k.info.APIKey] = true
	}
}

// knownSubKey reports whether apiKey was seen listed under a sub-account
// in this process or is one of the accounts file's sub_keys.
func (x *Executor) knownSubKey(apiKey string) bool {
	for _, sk := range x.acct.SubKeys {
		if sk.APIKey == apiKey {
			return true
		}
	}
	m := x.keyMemory()
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seen[apiKey]
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// publicKey converts a KuCoin key record (the id masked).
func publicKey(k apiKeyInfo, owner string, sub bool, now time.Time) executors.Key {
	perms := splitList(k.Permission)
	ips := splitList(k.IPWhitelist)
	key := executors.Key{Owner: owner, Sub: sub, APIKey: mask(k.APIKey), Label: k.Remark, Permissions: perms,
		IPRestricted: len(ips) > 0, IPs: ips, Created: msTime(k.CreatedAt)}
	if key.Permissions == nil {
		key.Permissions = []string{}
	}
	for _, p := range perms {
		switch p {
		case "Spot", "Margin", "Futures":
			key.CanTrade = true
		case "Transfer": // the withdrawal permission
			key.CanWithdraw = true
		case "InnerTransfer", "FlexTransfers":
			key.CanTransfer = true
		}
	}
	key.Risks = executors.KeyRisks(key, now)
	return key
}

func keySubject(k executors.Key) string {
	if k.Sub {
		return fmt.Sprintf("key %s (sub %s)", k.APIKey, k.Owner)
	}
	return fmt.Sprintf("key %s (%s)", k.APIKey, k.Owner)
}

// passphraseFor returns the accounts file's passphrase of a sub key.
func (x *Executor) passphraseFor(sub, apiKey string) (secret.Value, bool) {
	for _, sk := range x.acct.SubKeys {
		if sk.APIKey == apiKey && (sk.Sub == "" || sk.Sub == sub) && !sk.Passphrase.IsZero() {
			return sk.Passphrase, true
		}
	}
	return secret.Value{}, false
}

func (x *Executor) keysInventory(ctx context.Context, req executors.Request) (executors.Result, error) {
	self, err := x.whoami(ctx)
	if err != nil {
		return executors.Result{Status: executors.StatusFailed, Summary: "could not read the calling key"}, err
	}
	now := x.env.Now()
	owner := "master"
	if !self.IsMaster {
		owner = self.SubName
		if owner == "" {
			owner = "sub-account"
		}
	}
	own := publicKey(*self, owner, !self.IsMaster, now)
	keys := []executors.Key{own}
	res := executors.Result{Status: executors.StatusOK}
	res.Findings = append(res.Findings, keyFindings(own, true, true)...)
	if self.IsMaster && !slices.Contains(own.Permissions, "Spot") && len(own.Permissions) <= 1 {
		res.Findings = append(res.Findings, executors.Finding{Severity: "medium", Subject: keySubject(own),
			Message: "a read-only (General) KuCoin master key can still create, modify and delete sub-account keys",
			Fix:     "treat a leak of this key as serious: delete it in API Management"})
	}
	var readErr error
	if self.IsMaster && req.Params.Bool("include_sub_accounts") {
		sks, err := x.subKeys(ctx)
		readErr = err
		for _, sk := range sks {
			k := publicKey(sk.info, sk.info.SubName, true, now)
			keys = append(keys, k)
			_, known := x.passphraseFor(sk.info.SubName, sk.info.APIKey)
			res.Findings = append(res.Findings, keyFindings(k, false, known)...)
		}
	}
	res.Data = keys
	risky := 0
	for _, k := range keys {
		if len(k.Risks) > 0 {
			risky++
		}
	}
	res.Counts = map[string]int{"keys": len(keys), "risky": risky}
	res.Summary = fmt.Sprintf("%d keys (%d sub-account keys), %d risky", len(keys), len(keys)-1, risky)
	if readErr != nil {
		res.Status = executors.StatusFailed
		res.Summary += " (sub-account keys could not all be read)"
		return res, readErr
	}
	return res, nil
}

// keyFindings flags a risky key; known says whether a sub key's passphrase
// is in the accounts file (so the tool can revoke it).
func keyFindings(k executors.Key, own, known bool) []executors.Finding {
	var fs []executors.Finding
	revoke := "delete it with keys.revoke (method delete)"
	if own {
		revoke = "delete it in the KuCoin web UI: Account → API Management"
	} else if !known {
		revoke = "add its passphrase to sub_keys in the accounts file so keys.revoke can delete it, or delete it in the UI (Sub-Account → API Management)"
	}
	if k.CanWithdraw {
		fs = append(fs, executors.Finding{Severity: "high", Subject: keySubject(k),
			Message: "key has the Withdrawal (Transfer) permission: it can move funds off the exchange",
			Fix:     revoke + "; or remove the permission (keys.revoke method strip_permissions)"})
	}
	if k.CanTrade && !k.IPRestricted {
		fs = append(fs, executors.Finding{Severity: "medium", Subject: keySubject(k),
			Message: "key can trade from any IP address",
			Fix:     "restrict it to your IPs (keys.revoke method ip_lock) or " + revoke})
	}
	if k.Sub && !known && (k.CanTrade || k.CanWithdraw || k.CanTransfer) {
		fs = append(fs, executors.Finding{Severity: "low", Subject: keySubject(k),
			Message: "the sub key's passphrase is not in the accounts file: the API cannot delete or modify it",
			Fix:     "add it under sub_keys, or plan to sweep this sub-account (keys.revoke sweep_if_no_passphrase)"})
	}
	return fs
}

// revokeTarget is one sub key keys.revoke acts on.
type revokeTarget struct {
	sk   subKey
	key  executors.Key
	pass secret.Value
	ok   bool // passphrase known
}

func (t revokeTarget) change(method string) executors.Change {
	sub, id := t.sk.info.SubName, mask(t.sk.info.APIKey)
	c := executors.Change{Target: fmt.Sprintf("sub %s key %s", sub, id)}
	if t.key.Label != "" {
		c.Target += fmt.Sprintf(" (%s)", t.key.Label)
	}
	switch method {
	case "delete":
		c.Kind, c.ID, c.Irreversible = "delete-key", "delete-key:"+sub+":"+id, true
	case "ip_lock":
		c.Kind, c.ID = "ip-lock-key", "ip-lock-key:"+sub+":"+id
	case "strip_permissions":
		c.Kind, c.ID = "strip-key", "strip-key:"+sub+":"+id
	}
	return c
}

// masterManual is the UI step that deletes the account's own key.
func (x *Executor) masterManual() executors.ManualStep {
	id := mask(x.ownKey())
	return executors.ManualStep{
		Title: "Delete KuCoin API key " + id + " in the web UI",
		Instructions: "KuCoin has no API to delete an account's own key. Log in at www.kucoin.com (or the official app) → " +
			"profile icon → API Management → find the key " + id + " → Delete, and confirm with your security verification. " +
			"Then change the account password and check 2FA and passkeys; contact support through the official app only.",
		Verify: "key_rejected",
	}
}

func (x *Executor) keysRevoke(ctx context.Context, req executors.Request, plan bool) (executors.Result, error) {
	var listedAt time.Time
	res, err := x.revokeKeys(ctx, req, plan, &listedAt)
	if !listedAt.IsZero() {
		res.Summary += subacct.ListingNote(listedAt)
	}
	return res, err
}

// revokeKeys is keysRevoke; it sets *listedAt when it started from an
// earlier listing of the sub keys (listReuse).
func (x *Executor) revokeKeys(ctx context.Context, req executors.Request, plan bool, listedAt *time.Time) (executors.Result, error) {
	scope, method := req.Params.String("scope"), req.Params.String("method")
	res := executors.Result{Counts: map[string]int{}}
	if scope == "master" || scope == "all" {
		res.Manual = append(res.Manual, x.masterManual())
	}
	if scope == "master" {
		res.Status = executors.StatusPending
		res.Summary = "the master key " + mask(x.ownKey()) + " can only be deleted in the KuCoin UI: manual step"
		return res, nil
	}
	switch method {
	case "delete", "ip_lock", "strip_permissions":
	default:
		return res, &executors.Error{Class: executors.ErrUnsupported, Op: "keys.revoke", Msg: fmt.Sprintf("method %q", method)}
	}
	self, err := x.whoami(ctx)
	if err != nil {
		res.Status, res.Summary = executors.StatusFailed, "could not read the calling key"
		return res, err
	}
	if !self.IsMaster {
		res.Findings = append(res.Findings, executors.Finding{Severity: "info", Subject: "key " + mask(x.ownKey()),
			Message: "the calling key is a sub-account key: it cannot manage sub-account keys"})
		res.Status, res.Summary = executors.StatusSkipped, "not a master key: no sub-account keys to revoke"
		x.checkKeyIDs(&res, req.Params, nil)
		if len(res.Manual) > 0 {
			res.Status = executors.StatusPending
		}
		return res, nil
	}
	midRun := req.Params.Bool("created_mid_run")
	sks, reused := []subKey(nil), false
	if method == "delete" && !plan {
		var at time.Time
		sks, at, reused = x.recentSubKeys(listReuse)
		if !midRun {
			*listedAt = at
		}
	}
	if !reused {
		if sks, err = x.subKeys(ctx); err != nil {
			res.Status, res.Summary = executors.StatusFailed, "could not list sub-account keys"
			return res, err
		}
	}
	targets := x.revokeTargets(sks, req.Params, method, nil)
	if reused && midRun && !slices.ContainsFunc(targets, func(t revokeTarget) bool { return t.ok }) {
		// Nothing the earlier listing shows can be deleted (nothing in
		// scope, or only keys without a passphrase: manual steps), so no
		// confirming re-list would follow: list afresh, for the keys
		// created since (a hold pass looks for them).
		if sks, err = x.subKeys(ctx); err != nil {
			res.Status, res.Summary = executors.StatusFailed, "could not list sub-account keys"
			return res, err
		}
		targets = x.revokeTargets(sks, req.Params, method, nil)
	}
	x.checkKeyIDs(&res, req.Params, sks)
	if len(targets) == 0 {
		res.Status, res.Summary = executors.StatusOK, "no sub-account keys in scope: nothing to do"
		if len(res.Manual) > 0 {
			res.Status = executors.StatusPending
		}
		return res, nil
	}

	var (
		allSend, allTargets []revokeTarget
		swept               int
		errs                []error
		confirmErr          error
	)
	for pass := 0; ; pass++ {
		send, sweepSubs := sendable(&res, targets, req.Params)
		var sweeps []sweepTarget
		if len(sweepSubs) > 0 {
			sweeps, err = x.sweepTargets(ctx, sweepSubs, nil)
			if err != nil {
				res.Status, res.Summary = executors.StatusFailed, "could not read the balances of sub-accounts to sweep"
				return res, err
			}
		}

		if plan {
			for _, t := range send {
				res.Changes = append(res.Changes, t.change(method))
			}
			for _, s := range sweeps {
				res.Changes = append(res.Changes, s.change())
			}
			res.Status = executors.StatusWouldChange
			if len(res.Changes) == 0 {
				res.Status = executors.StatusPending
			}
			res.Summary = fmt.Sprintf("would %s %d sub-account keys", verb(method), len(send))
			if n := len(targets) - len(send); n > 0 {
				res.Summary += fmt.Sprintf("; %d keys lack a passphrase (manual steps", n)
				if len(sweeps) > 0 {
					res.Summary += fmt.Sprintf(", %d balances swept to the master", len(sweeps))
				}
				res.Summary += ")"
			}
			return res, nil
		}

		var done []revokeTarget
		sendErrs := x.sendRevokes(ctx, req, send, method)
		for i, t := range send {
			err := sendErrs[i]
			if errors.Is(err, executors.ErrAudit) {
				res.Status, res.Summary = executors.StatusFailed, "audit trail refused a revoke intent; stopped"
				return res, err
			}
			if err != nil {
				errs = append(errs, err)
				res.Remaining = append(res.Remaining, t.change(method))
				continue
			}
			res.Changes = append(res.Changes, t.change(method))
			done = append(done, t)
		}
		sweepErrs, err := x.sendSweeps(ctx, req, sweeps, &res)
		if err != nil {
			return res, err
		}
		errs = append(errs, sweepErrs...)
		var after []subKey
		if len(done) > 0 {
			after, confirmErr = x.confirmRevoked(ctx, &res, done, method, req.Params.Strings("ip_whitelist"))
		}
		allSend, allTargets, swept = append(allSend, send...), append(allTargets, targets...), swept+len(sweeps)
		// A look for keys created mid-run handles too what the confirming
		// re-list shows that the step selects (a key created since the
		// listing it started from, or while its deletes went out), in a
		// further pass, as long as each pass finds more. Past the last pass,
		// what the re-list showed is left, and said to be.
		if !midRun || method != "delete" || confirmErr != nil || after == nil {
			break
		}
		if targets = x.revokeTargets(after, req.Params, method, allTargets); len(targets) == 0 {
			break
		}
		if pass+1 >= maxRevokeRounds {
			for _, t := range targets {
				res.Remaining = append(res.Remaining, t.change(method))
			}
			break
		}
	}
	send, targets := allSend, allTargets
	for _, c := range res.Changes {
		if c.Kind != "transfer" {
			res.Counts["revoked"]++
		}
	}
	res.Counts["manual"] = len(res.Manual)
	res.Counts["remaining"] = len(res.Remaining)
	res.Summary = fmt.Sprintf("%s %d of %d sub-account keys", past(method), res.Counts["revoked"], len(send))
	if n := len(targets) - len(send); n > 0 {
		res.Summary += fmt.Sprintf("; %d keys without a passphrase need a human", n)
	}
	if swept > 0 {
		res.Summary += fmt.Sprintf("; swept %d balances to the master", swept)
	}
	if confirmErr != nil {
		res.Summary += "; the keys could not be re-listed, so no revocation is confirmed"
		errs = append([]error{confirmErr}, errs...) // retryable: a retry re-lists first
	}
	switch {
	case len(errs) > 0 || len(res.Remaining) > 0:
		res.Status = executors.StatusFailed
	case len(res.Manual) > 0:
		res.Status = executors.StatusPending
	default:
		res.Status = executors.StatusChanged
	}
	if len(errs) > 0 {
		return res, firstClassified(errors.Join(errs...))
	}
	if len(res.Remaining) > 0 {
		return res, &executors.Error{Class: executors.ErrTransient, Op: "confirm keys.revoke",
			Msg: fmt.Sprintf("%d keys are not in the wanted state after %s", len(res.Remaining), method)}
	}
	return res, nil
}

// sendable returns the targets whose revocation can be sent. Each one that
// cannot (no passphrase in the accounts file) becomes a finding and a
// manual step on res, and, when the step asks for it, its sub-account is
// among those to sweep (sorted).
func sendable(res *executors.Result, targets []revokeTarget, p executors.Params) (send []revokeTarget, sweepSubs []string) {
	for _, t := range targets {
		if t.ok {
			send = append(send, t)
			continue
		}
		sub := t.sk.info.SubName
		res.Findings = append(res.Findings, executors.Finding{Severity: "high", Subject: keySubject(t.key),
			Message: "no passphrase for this sub key in the accounts file: KuCoin requires it to delete or modify the key",
			Fix:     "delete it in the UI (see the manual step) and add the passphrase of future keys under sub_keys"})
		res.Manual = append(res.Manual, executors.ManualStep{
			Title: fmt.Sprintf("Delete KuCoin sub-account key %s of sub %s in the web UI", t.key.APIKey, sub),
			Instructions: fmt.Sprintf("Log in to the master account at www.kucoin.com → profile icon → Sub-Account → %s → API Management → "+
				"delete key %s. The tool cannot: its passphrase is not in the accounts file.", sub, t.key.APIKey),
		})
		if p.Bool("sweep_if_no_passphrase") && !slices.Contains(sweepSubs, sub) {
			sweepSubs = append(sweepSubs, sub)
		}
	}
	slices.Sort(sweepSubs)
	return send, sweepSubs
}

// sendRevokes sends the revocations of send, concurrently, and returns
// each one's error. Once the audit trail refuses an intent, nothing more
// is sent.
func (x *Executor) sendRevokes(ctx context.Context, req executors.Request, send []revokeTarget, method string) []error {
	sendErrs := make([]error, len(send))
	var (
		stopMu  sync.Mutex
		stopped bool
	)
	pending := make([]int, len(send))
	for i := range send {
		pending[i] = i
	}
	// Deletes go in rounds: a delete that failed for a passing reason
	// (unknown outcome under a 5xx storm, a timeout) is sent again only
	// after a re-list shows the key still there, until none is left or the
	// step's deadline leaves no room (issue 12 item 4).
	for round := 0; ; round++ {
		parallel(len(pending), listParallel, func(j int) {
			i := pending[j]
			stopMu.Lock()
			stop := stopped
			stopMu.Unlock()
			if stop {
				return
			}
			sendErrs[i] = x.revokeOne(ctx, req, send[i], method)
			if errors.Is(sendErrs[i], executors.ErrAudit) {
				stopMu.Lock()
				stopped = true
				stopMu.Unlock()
			}
		})
		if stopped || method != "delete" {
			break
		}
		pending = pending[:0]
		for i, err := range sendErrs {
			if err != nil && executors.Retryable(err) {
				pending = append(pending, i)
			}
		}
		if len(pending) == 0 || round+1 >= maxRevokeRounds || !x.retry.Room(ctx, wallNow(), round+1, x.retry.Backoff(round, 0)) {
			break
		}
		after, err := x.subKeys(ctx)
		if err != nil {
			break // nothing is sent again on a re-list that could not be read
		}
		listed := map[string]bool{}
		for _, sk := range after {
			listed[sk.info.APIKey] = true
		}
		still := pending[:0]
		for _, i := range pending {
			if listed[send[i].sk.info.APIKey] {
				still = append(still, i)
			} else {
				sendErrs[i] = nil // gone: the delete went through
			}
		}
		pending = still
		if len(pending) == 0 {
			break
		}
	}
	return sendErrs
}

// maxRevokeRounds bounds the delete rounds of keys.revoke besides the
// step's deadline.
const maxRevokeRounds = 10

// confirmRevoked re-lists the sub keys and keeps in Changes only the sent
// keys the listing shows in the wanted state: deleted (no longer listed),
// IP-locked to exactly ips, or holding no permission beyond General (a key
// no longer listed is neutralised too). The others move to Remaining. A
// failed re-list confirms nothing: every sent key moves to Remaining and
// the error, of class ErrUnknownOutcome, is returned so the runner retries
// (the retry re-lists before sending anything).
func (x *Executor) confirmRevoked(ctx context.Context, res *executors.Result, sent []revokeTarget, method string, ips []string) ([]subKey, error) {
	after, err := x.subKeys(executors.Confirming(ctx))
	why := map[string]string{} // change ID -> why it is not confirmed
	if err != nil {
		for _, t := range sent {
			why[t.change(method).ID] = "not confirmed: the sub-account keys could not be re-listed"
		}
	} else {
		listed := map[string]apiKeyInfo{}
		for _, sk := range after {
			listed[sk.info.APIKey] = sk.info
		}
		for _, t := range sent {
			info, ok := listed[t.sk.info.APIKey]
			if !ok {
				continue // gone: deleted, and neither usable any more
			}
			id := t.change(method).ID
			switch method {
			case "delete":
				why[id] = "still listed after the delete"
			case "ip_lock":
				if !sameSet(splitList(info.IPWhitelist), ips) {
					why[id] = fmt.Sprintf("IP whitelist is %q after the update, want %q", info.IPWhitelist, strings.Join(ips, ","))
				}
			case "strip_permissions":
				if p := splitList(info.Permission); len(p) > 1 || (len(p) == 1 && p[0] != "General") {
					why[id] = fmt.Sprintf("permissions are %q after the update, want General only", info.Permission)
				}
			}
		}
	}
	var kept []executors.Change
	for _, c := range res.Changes {
		if w, bad := why[c.ID]; bad {
			res.Remaining = append(res.Remaining, c)
			res.Findings = append(res.Findings, executors.Finding{Severity: "high", Subject: c.Target, Message: w,
				Fix: "run keys.revoke again, or check the key in KuCoin's UI (Sub-Account → API Management)"})
			continue
		}
		kept = append(kept, c)
	}
	res.Changes = kept
	if err != nil {
		return nil, &executors.Error{Class: executors.ErrUnknownOutcome, Op: "confirm keys.revoke",
			Msg: "the requests were sent but the sub-account keys could not be re-listed: " + err.Error(), Err: err}
	}
	return after, nil
}

// revokeTargets is what a revocation with params p selects of sks: the
// keys p selects and, with created_mid_run, every key the run's first
// listing did not show (midRunKeys: whatever the selector), less the keys
// of done (an earlier pass's targets) and the temporary keys this process
// minted.
func (x *Executor) revokeTargets(sks []subKey, p executors.Params, method string, done []revokeTarget) []revokeTarget {
	have := map[string]bool{}
	for _, t := range done {
		have[t.sk.info.APIKey] = true
	}
	// Never this process's temporary keys: freeze-sub-accounts deletes
	// them itself, and a listing reused may show one it has deleted since.
	m := x.keyMemory()
	m.mu.Lock()
	for id := range m.temp {
		have[id] = true
	}
	m.mu.Unlock()
	var out []revokeTarget
	add := func(ts []revokeTarget) {
		for _, t := range ts {
			if !have[t.sk.info.APIKey] {
				have[t.sk.info.APIKey] = true
				out = append(out, t)
			}
		}
	}
	add(x.selectKeys(sks, p, method))
	if p.Bool("created_mid_run") {
		all := executors.Params{}
		for k, v := range p {
			all[k] = v
		}
		delete(all, "key_ids")
		delete(all, "match")
		all["select"] = "all"
		add(x.selectKeys(x.midRunKeys(sks), all, method))
	}
	return out
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	sort.Strings(x)
	sort.Strings(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}

func verb(method string) string {
	switch method {
	case "ip_lock":
		return "IP-lock"
	case "strip_permissions":
		return "strip the permissions of"
	}
	return "delete"
}

func past(method string) string {
	switch method {
	case "ip_lock":
		return "IP-locked"
	case "strip_permissions":
		return "stripped the permissions of"
	}
	return "deleted"
}

// selectKeys applies select, key_ids and match, and drops keys already in
// the wanted state (so a second run converges to "nothing to do").
func (x *Executor) selectKeys(sks []subKey, p executors.Params, method string) []revokeTarget {
	now := x.env.Now()
	sel, ids, match := p.String("select"), p.Strings("key_ids"), strings.ToLower(p.String("match"))
	sinkhole := strings.Join(p.Strings("ip_whitelist"), ",")
	var out []revokeTarget
	for _, sk := range sks {
		k := publicKey(sk.info, sk.info.SubName, true, now)
		switch sel {
		case "withdraw_enabled":
			if !k.CanWithdraw {
				continue
			}
		case "risky":
			if len(k.Risks) == 0 {
				continue
			}
		}
		if len(ids) > 0 && !slices.Contains(ids, sk.info.APIKey) && !slices.Contains(ids, k.APIKey) {
			continue
		}
		if match != "" && !strings.Contains(strings.ToLower(sk.info.Remark+" "+sk.info.SubName+" "+sk.info.IPWhitelist), match) {
			continue
		}
		switch method {
		case "strip_permissions":
			if len(k.Permissions) == 0 || (len(k.Permissions) == 1 && k.Permissions[0] == "General") {
				continue
			}
		case "ip_lock":
			if sk.info.IPWhitelist == sinkhole {
				continue
			}
		}
		pass, ok := x.passphraseFor(sk.info.SubName, sk.info.APIKey)
		out = append(out, revokeTarget{sk: sk, key: k, pass: pass, ok: ok})
	}
	return out
}

// revokeOne deletes or updates one sub key. Both are hand-built: the SDK's
// DeleteSubApiKey signs the URL-encoded passphrase (400005 for one that
// needs escaping, fixed by the requester's decoded prehash anyway), and
// UpdateSubApiKey always sends ipWhitelist and expire, wiping the
// whitelist. The update sends exactly the fields intended.
func (x *Executor) revokeOne(ctx context.Context, req executors.Request, t revokeTarget, method string) error {
	x.forgetListing()
	c := t.change(method)
	sub, apiKey := t.sk.info.SubName, t.sk.info.APIKey
	summary := map[string]string{"subName": sub, "apiKey": mask(apiKey), "passphrase": secret.Redacted}
	m := executors.Mutation{ID: c.ID, Kind: c.Kind, Target: c.Target, Irreversible: c.Irreversible, Request: summary}
	switch method {
	case "delete":
		summary["method"], summary["path"] = http.MethodDelete, "/api/v1/sub/api-key"
		return req.Mutate(ctx, m, func(ctx context.Context) error {
			params := q("subName", sub, "apiKey", apiKey, "passphrase", t.pass.Reveal())
			return x.call(ctx, x.spot, "delete key "+mask(apiKey)+" of sub "+sub, true, http.MethodDelete, "/api/v1/sub/api-key", params, nil)
		})
	case "strip_permissions":
		summary["method"], summary["path"], summary["permission"] = http.MethodPost, "/api/v1/sub/api-key/update", "General"
		if t.sk.info.IPWhitelist != "" {
			summary["ipWhitelist"] = t.sk.info.IPWhitelist // preserved: the API resets what it is sent
		}
		return req.Mutate(ctx, m, func(ctx context.Context) error {
			body := map[string]string{"subName": sub, "apiKey": apiKey, "passphrase": t.pass.Reveal(), "permission": "General"}
			if t.sk.info.IPWhitelist != "" {
				body["ipWhitelist"] = t.sk.info.IPWhitelist
			}
			return x.call(ctx, x.spot, "strip permissions of key "+mask(apiKey)+" of sub "+sub, true, http.MethodPost, "/api/v1/sub/api-key/update", body, nil)
		})
	case "ip_lock":
		// The update resets whatever it is sent (an absent permission
		// becomes General), so the current permissions are sent back; only
		// those a sub key can hold (never Transfer) are kept.
		ips := strings.Join(req.Params.Strings("ip_whitelist"), ",")
		perms := subKeyPermissions(t.key.Permissions)
		summary["method"], summary["path"], summary["ipWhitelist"], summary["permission"] = http.MethodPost, "/api/v1/sub/api-key/update", ips, perms
		return req.Mutate(ctx, m, func(ctx context.Context) error {
			body := map[string]string{"subName": sub, "apiKey": apiKey, "passphrase": t.pass.Reveal(), "ipWhitelist": ips, "permission": perms}
			return x.call(ctx, x.spot, "ip-lock key "+mask(apiKey)+" of sub "+sub, true, http.MethodPost, "/api/v1/sub/api-key/update", body, nil)
		})
	}
	return &executors.Error{Class: executors.ErrUnsupported, Op: "keys.revoke", Msg: fmt.Sprintf("method %q", method)}
}

// subKeyPermissions keeps the permissions a sub key may be given
// (General, Spot, Futures, Margin, InnerTransfer), comma-joined.
func subKeyPermissions(perms []string) string {
	out := []string{"General"}
	for _, p := range perms {
		switch p {
		case "Spot", "Futures", "Margin", "InnerTransfer":
			out = append(out, p)
		}
	}
	return strings.Join(out, ",")
}

// rejection is the payload of keys.verify_rejected.
type rejection struct {
	APIKey   string `json:"api_key"` // masked
	Rejected bool   `json:"rejected"`
	Code     string `json:"code,omitempty"`   // 400003, 400006, 400007
	Reason   string `json:"reason,omitempty"` // unknown-key, ip-not-allowed, no-permission, absent-from-sub-keys
	Probes   int    `json:"probes"`
}

var rejectReasons = map[string]string{
	"400003": "unknown-key",
	"400006": "ip-not-allowed",
	"400007": "no-permission",
}

// verifyRejected probes a key until KuCoin rejects it (400003 unknown key,
// 400006 IP not whitelisted, 400007 no permission) or the deadline passes.
// The account's own key is probed directly; a sub key (whose secret the
// tool does not have) is proven gone by listing the sub-accounts' keys
// with the master key.
func (x *Executor) verifyRejected(ctx context.Context, req executors.Request) (executors.Result, error) {
	key := req.Params.String("api_key")
	own := key == "" || key == x.ownKey()
	if own {
		key = x.ownKey()
	}
	interval := req.Params.Duration("interval")
	if interval <= 0 {
		interval = time.Second
	}
	deadline := x.env.Now().Add(req.Params.Duration("deadline"))
	rj := rejection{APIKey: mask(key)}
	var lastErr error
	for {
		rj.Probes++
		done, err := x.probe(ctx, own, key, &rj)
		if errors.Is(err, errUnknownKey) {
			return executors.Result{Status: executors.StatusPending, Data: rj, Counts: map[string]int{"probes": rj.Probes},
				Summary: fmt.Sprintf("cannot verify key %s from this account: it is not the account's own key and not a known sub-account key", rj.APIKey),
				Manual: []executors.ManualStep{{Title: "Check that KuCoin key " + rj.APIKey + " is deleted",
					Instructions: fmt.Sprintf("Key %s is not listed under any sub-account of %s and was never seen there, so its absence proves nothing "+
						"(a typo, a masked id, or a key of the master itself). Check it in KuCoin's API Management; to let the tool verify it, "+
						"configure an account with that key (the probe then runs with it) or list it under sub_keys if it is a sub-account key.", rj.APIKey, x.acct.Name)}}}, nil
		}
		if err != nil {
			lastErr = err
			if !executors.Retryable(err) && !own {
				return executors.Result{Status: executors.StatusFailed, Data: rj, Summary: "could not check key " + rj.APIKey}, err
			}
		}
		if done {
			return executors.Result{Status: executors.StatusOK, Data: rj, Counts: map[string]int{"probes": rj.Probes},
				Summary: fmt.Sprintf("key %s is rejected by KuCoin (%s %s)", rj.APIKey, rj.Code, rj.Reason)}, nil
		}
		if !x.env.Now().Add(interval).Before(deadline) || ctx.Err() != nil {
			break
		}
		if err := x.env.Sleep(ctx, interval); err != nil {
			break
		}
	}
	res := executors.Result{Status: executors.StatusFailed, Data: rj, Counts: map[string]int{"probes": rj.Probes},
		Summary: fmt.Sprintf("key %s is still accepted after %d probes", rj.APIKey, rj.Probes)}
	if lastErr != nil && !errors.Is(lastErr, executors.ErrAuth) {
		res.Summary = fmt.Sprintf("key %s could not be shown rejected after %d probes: %v", rj.APIKey, rj.Probes, lastErr)
	}
	return res, nil
}

// probe makes one check; done means the key is proven rejected.
func (x *Executor) probe(ctx context.Context, own bool, key string, rj *rejection) (bool, error) {
	if own {
		// A light read of the Spot pool (2), not the Management pool the
		// key and withdrawal listings of a hold drain: a probe waiting for
		// that pool's next window kept a hold from seeing the key die.
		err := x.call(ctx, x.spot, "probe key "+mask(key), false, http.MethodGet, "/api/v1/hf/orders/active/symbols", nil, nil)
		if reason, ok := rejectReasons[codeOf(err)]; ok {
			rj.Rejected, rj.Code, rj.Reason = true, codeOf(err), reason
			return true, nil
		}
		return false, err
	}
	sks, err := x.subKeys(ctx)
	if err != nil {
		return false, err
	}
	for _, sk := range sks {
		if sk.info.APIKey == key {
			return false, nil
		}
	}
	if !x.knownSubKey(key) {
		return false, errUnknownKey
	}
	rj.Rejected, rj.Reason = true, "absent-from-sub-keys"
	return true, nil
}

// errUnknownKey: the key to verify is neither the account's own nor a
// known sub-account key, so its absence from the listings proves nothing.
var errUnknownKey = errors.New("not the account's own key and not a known sub-account key")
