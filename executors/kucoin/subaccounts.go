package kucoin

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/internal/budget"
	"github.com/panicbutton/panicbutton/executors/internal/subacct"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// Sub-account orders (issue 10 item 1). A master key cannot list or cancel
// a sub-account's orders; a key of the sub-account can. For each
// sub-account, orders.cancel_all with scope sub_accounts/all uses the sub
// key configured in the accounts file (sub_keys with secret and
// passphrase), or else mints a temporary key on the sub-account through
// the master (POST /api/v1/sub/api-key): permissions General, Spot,
// Margin and Futures (never withdrawals or transfers), its IP whitelist
// our egress IP (GET /api/v1/my-ip) or temp_key_ips, a random passphrase
// and the shortest expiry (30 days). KuCoin generates the secret and
// sends it back once: it stays in memory only. The key is audited before
// use (create-temp-key; the intent names its label, the outcome its
// masked id), runs the ordinary cancel-all of that sub-account, and is
// deleted at the end of the step (delete-temp-key) — also on failure or
// Ctrl-C — then probed until KuCoin rejects it.

const pathSubAPIKey = "/api/v1/sub/api-key"

// subOutcome is what happened on one sub-account (Sub is its subName).
type subOutcome = subacct.Outcome

// cancelAllScoped dispatches orders.cancel_all by scope.
func (x *Executor) cancelAllScoped(ctx context.Context, req executors.Request, plan bool) (executors.Result, error) {
	switch req.Params.String("scope") {
	case executors.ScopeSubAccounts:
		return x.cancelSubAccounts(ctx, req, plan)
	case executors.ScopeAll:
		return subacct.Both(func() (executors.Result, error) { return x.cancelAll(ctx, req, plan) },
			func() (executors.Result, error) { return x.cancelSubAccounts(ctx, req, plan) }, scopedRank)
	}
	return x.cancelAll(ctx, req, plan)
}

// scopedRank orders the statuses when the account's own result and its
// sub-accounts' merge (scope all): the merged status is the higher.
var scopedRank = map[executors.Status]int{executors.StatusSkipped: -1, executors.StatusOK: 0, executors.StatusChanged: 1, executors.StatusWouldChange: 2, executors.StatusPending: 3, executors.StatusFailed: 4}

// subView is what the master sees of one sub-account's balances.
type subView struct {
	held []string // "0.5 BTC (trade)", sorted
	err  error
}

func (v subView) fingerprint() string { return strings.Join(v.held, ",") }

func viewOf(s subAccountBalances) subView {
	var v subView
	for _, w := range s.wallets() {
		for _, c := range w.items {
			if !isZero(c.Holds.String()) {
				v.held = append(v.held, fmt.Sprintf("%s %s (%s)", c.Holds.String(), c.Currency, w.name))
			}
		}
	}
	sort.Strings(v.held)
	return v
}

// subViews reads every sub-account's balances (one paged list).
func (x *Executor) subViews(ctx context.Context) (map[string]subView, []string, error) {
	subs, err := x.subAccountBalances(ctx)
	if err != nil {
		return nil, nil, err
	}
	views := map[string]subView{}
	var names []string
	for _, s := range subs {
		views[s.SubName] = viewOf(s)
		names = append(names, s.SubName)
	}
	sort.Strings(names)
	return views, names, nil
}

// subMemories: see the Binance executor's; a sub-account emptied earlier
// in this process, with nothing new on hold and no new key listed under
// it, is not given a new key by a later pass (the hold).
var subMemories sync.Map // *Executor -> *subacct.Memory[liveTemp]

func (x *Executor) subMemory() *subacct.Memory[liveTemp] {
	m, _ := subMemories.LoadOrStore(x, &subacct.Memory[liveTemp]{})
	return m.(*subacct.Memory[liveTemp])
}

// subKeysSeen counts the keys (other than ours) seen listed under a
// sub-account in this process.
func (x *Executor) subKeysSeen(sub string) int {
	m := x.keyMemory()
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id := range m.bySub[sub] {
		if !m.temp[id] {
			n++
		}
	}
	return n
}

func (x *Executor) rememberTemp(apiKey string) {
	m := x.keyMemory()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.temp == nil {
		m.temp = map[string]bool{}
	}
	m.temp[apiKey] = true
}

// cancelSubAccounts implements orders.cancel_all for scope sub_accounts.
func (x *Executor) cancelSubAccounts(ctx context.Context, req executors.Request, plan bool) (executors.Result, error) {
	ctx = executors.WithLaterConfirmations(ctx)
	self, err := x.whoami(ctx)
	if err != nil {
		return executors.Result{Status: executors.StatusFailed, Summary: "could not read the calling key"}, err
	}
	if !self.IsMaster {
		return executors.Result{Status: executors.StatusOK, Summary: "no sub-accounts (not a master key)", Counts: map[string]int{"sub_accounts": 0}}, nil
	}
	// The egress IP (for the temporary keys' whitelist) and the
	// sub-accounts' balances do not need each other: both go out at once.
	ips := req.Params.Strings("temp_key_ips")
	ipc := make(chan string, 1)
	if len(ips) == 0 && !plan {
		go func() {
			var ip string
			if err := x.call(ctx, x.spot, "read egress ip", false, http.MethodGet, "/api/v1/my-ip", nil, &ip); err != nil {
				ip = ""
			}
			ipc <- strings.TrimSpace(ip)
		}()
	} else {
		close(ipc)
	}
	views, names, err := x.subViews(ctx)
	if err != nil {
		return executors.Result{Status: executors.StatusFailed, Summary: "could not list the sub-accounts"}, err
	}
	if len(names) == 0 {
		return executors.Result{Status: executors.StatusOK, Summary: "no sub-accounts", Counts: map[string]int{"sub_accounts": 0}}, nil
	}
	ipNote := ""
	if len(ips) == 0 && !plan {
		if ip := <-ipc; ip != "" {
			ips = []string{ip}
		} else {
			ipNote = "; the egress IP could not be learned, temporary keys are not IP-restricted"
		}
	}
	outs := make([]subOutcome, len(names))
	parallel(len(names), 8, func(i int) {
		outs[i] = x.cancelOneSub(ctx, req, names[i], views[names[i]], ips, plan)
	})
	res, err := x.finishSubs(outs, plan)
	res.Summary += ipNote
	return res, err
}

func (x *Executor) finishSubs(outs []subOutcome, plan bool) (executors.Result, error) {
	res, errs := subacct.Finish(outs, plan)
	if len(errs) > 0 {
		return res, errs[0]
	}
	if res.Status == executors.StatusFailed {
		return res, &executors.Error{Class: executors.ErrRejected, Op: "cancel sub-account orders",
			Msg: fmt.Sprintf("%d items left in sub-accounts", len(res.Remaining))}
	}
	return res, nil
}

// subKeyFor returns the accounts file's key for a sub-account that can
// sign (secret and passphrase).
func (x *Executor) subKeyFor(sub string) (executors.SubKey, bool) {
	for _, sk := range x.acct.SubKeys {
		if sk.Sub == sub && sk.APIKey != "" && !sk.Secret.IsZero() && !sk.Passphrase.IsZero() {
			return sk, true
		}
	}
	return executors.SubKey{}, false
}

// subExecutor builds the executor of a sub-account's key, on the master's
// hosts and with the offsets of the master's clocks (serverClock.adopt).
func (x *Executor) subExecutor(apiKey string, sec, pass secret.Value, version int) (*Executor, error) {
	sub, err := New(executors.Account{Name: x.acct.Name, Exchange: Exchange, APIKey: secret.New(apiKey), Secret: sec, Passphrase: pass,
		KeyVersion: version, BaseURL: x.acct.BaseURL, FuturesBaseURL: x.acct.FuturesBaseURL}, x.env)
	if err != nil {
		return nil, err
	}
	for i, c := range sub.clocks {
		c.adopt(x.clocks[i])
	}
	return sub, nil
}

func (x *Executor) cancelOneSub(ctx context.Context, req executors.Request, sub string, view subView, ips []string, plan bool) subOutcome {
	out := subOutcome{Sub: sub}
	if !plan {
		// Temporary keys an earlier attempt could not prove deleted come
		// first: each is deleted now or reported again.
		for label, lt := range x.subMemory().TakeLive(sub) {
			x.ensureLabelGone(ctx, req, &out, sub, label, lt.pass, lt.apiKey)
		}
		if out.Err != nil {
			return out
		}
	}
	why := "nothing on hold in its main, trade and margin accounts, but the master does not see its futures orders"
	if len(view.held) > 0 {
		why = "balances on hold seen: " + strings.Join(view.held, ", ")
	}
	if len(view.held) == 0 && req.Params.Bool("skip_idle") {
		out.Skipped = true
		out.Line = sub + ": skipped (skip_idle: nothing on hold; its futures orders are not visible to the master)"
		return out
	}
	if !plan {
		if st, ok := x.subMemory().Get(sub); ok && st.Fingerprint == view.fingerprint() && x.subKeysSeen(sub) <= st.Keys {
			out.Skipped, out.Clean = true, true
			out.Line = fmt.Sprintf("%s: skipped (emptied at %s; nothing new on hold and no new key listed under it since)", sub, st.At.UTC().Format("15:04:05"))
			return out
		}
	}
	sk, configured := x.subKeyFor(sub)
	if plan {
		return x.planSub(ctx, req, sub, why, sk, configured, ips)
	}
	if configured {
		se, err := x.subExecutor(sk.APIKey, sk.Secret, sk.Passphrase, 0)
		if err == nil {
			r, err := se.run(ctx, subacct.Request(req, sub), false)
			if err == nil || !errors.Is(err, executors.ErrAuth) {
				x.subResult(ctx, &out, r, err, "with the configured key "+mask(sk.APIKey), view)
				return out
			}
			why = "the configured key " + mask(sk.APIKey) + " was refused (" + err.Error() + "); " + why
		} else {
			why = "the configured key " + mask(sk.APIKey) + " cannot sign (" + err.Error() + "); " + why
		}
	}
	if !req.Params.Bool("temporary_keys") {
		x.notInspected(&out, view, "no usable configured key and temporary_keys is false", nil)
		return out
	}
	var (
		tk      tempKey
		err     error
		attempt int
	)
	for ; ; attempt++ {
		tk, err = x.mintTempKey(ctx, req, sub, ips)
		if err == nil || errors.Is(err, executors.ErrRejected) || errors.Is(err, executors.ErrAuth) || errors.Is(err, executors.ErrUnsupported) || tk.label == "" {
			break
		}
		// The outcome is unknown (a 5xx, a timeout): the key may exist.
		// Once no key with that remark is left, mint again (a new remark).
		if !x.ensureLabelGone(ctx, req, &out, sub, tk.label, tk.pass, "") || attempt == 2 || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		x.notInspected(&out, view, "a temporary key could not be created: "+err.Error(), err)
		return out
	}
	tk.swept = attempt > 0
	r, cerr := subacct.RunFresh(ctx, x.env.Sleep, func() (executors.Result, error) {
		return tk.exec.run(ctx, subacct.Request(req, sub), false)
	})
	// What the master sees of the emptied sub-account is read while the
	// key is deleted and probed (a round trip less on the step's path).
	after := make(chan afterViews, 1)
	if cerr == nil {
		go func() {
			views, _, err := x.subViews(ctx)
			after <- afterViews{views, err}
		}()
	}
	emptied := x.subFold(&out, r, cerr, "with temporary key "+mask(tk.apiKey)+" ("+why+")", view)
	x.dropTempKey(ctx, req, tk, &out)
	if emptied {
		x.rememberEmptied(&out, <-after)
	}
	if out.Err != nil || len(out.Remain) > 0 {
		x.subMemory().Set(sub, subacct.CleanState{}, false) // not clean until the key is gone
	}
	return out
}

// afterViews is a reading of every sub-account's balances (subViews).
type afterViews struct {
	views map[string]subView
	err   error
}

func (x *Executor) subResult(ctx context.Context, out *subOutcome, r executors.Result, err error, how string, view subView) {
	if x.subFold(out, r, err, how, view) {
		views, _, verr := x.subViews(ctx)
		x.rememberEmptied(out, afterViews{views, verr})
	}
}

// subFold folds a sub-account's cancel-all result into out and reports
// whether the sub-account was emptied (then rememberEmptied records what
// the master sees of it).
func (x *Executor) subFold(out *subOutcome, r executors.Result, err error, how string, view subView) bool {
	subacct.Fold(out, r)
	out.Line = fmt.Sprintf("%s: %s %s", out.Sub, r.Summary, how)
	if err != nil {
		out.Err = err
		if len(r.Remaining) == 0 {
			x.notInspected(out, view, "its orders could not be cancelled: "+err.Error(), err)
			out.Line = fmt.Sprintf("%s: %s %s", out.Sub, r.Summary, how)
		}
		x.subMemory().Set(out.Sub, subacct.CleanState{}, false)
		return false
	}
	out.Clean = true
	return true
}

// rememberEmptied records the balances the master saw of an emptied
// sub-account: a later pass re-inspects it only if they change.
func (x *Executor) rememberEmptied(out *subOutcome, a afterViews) {
	if a.err == nil {
		x.subMemory().Set(out.Sub, subacct.CleanState{Fingerprint: a.views[out.Sub].fingerprint(), Keys: x.subKeysSeen(out.Sub), At: x.env.Now()}, true)
	}
}

func (x *Executor) notInspected(out *subOutcome, view subView, reason string, err error) {
	if err != nil && out.Err == nil {
		out.Err = err
	}
	manual := executors.ManualStep{
		Title: "Cancel the open orders of sub-account " + out.Sub,
		Instructions: fmt.Sprintf("panicbutton could not inspect sub-account %s (%s). Log in to the master account at www.kucoin.com with 2FA, "+
			"open Sub-Account, log in to %s and cancel every open order on Spot, Margin and Futures (stop orders too). "+
			"To let panicbutton do it next time, list a key of that sub-account under sub_keys with its secret and passphrase in the accounts file.", out.Sub, reason, out.Sub),
	}
	if len(view.held) > 0 {
		out.Remain = append(out.Remain, executors.Change{Kind: "open-orders-inferred",
			Target: fmt.Sprintf("sub %s: open orders inferred from balances on hold (%s); %s", out.Sub, strings.Join(view.held, ", "), reason)})
		out.Manual = append(out.Manual, manual)
		out.Line = fmt.Sprintf("%s: NOT inspected, open orders inferred from balances on hold %s: %s", out.Sub, strings.Join(view.held, ", "), reason)
		return
	}
	out.Find = append(out.Find, executors.Finding{Severity: "medium", Subject: "sub-account " + out.Sub,
		Message: "its orders were not inspected: " + reason + "; nothing is on hold in its main, trade and margin accounts, but its futures orders are not visible to the master",
		Fix:     manual.Instructions})
	out.Line = fmt.Sprintf("%s: NOT inspected: %s", out.Sub, reason)
}

func (x *Executor) planSub(ctx context.Context, req executors.Request, sub, why string, sk executors.SubKey, configured bool, ips []string) subOutcome {
	out := subOutcome{Sub: sub}
	if configured {
		se, err := x.subExecutor(sk.APIKey, sk.Secret, sk.Passphrase, 0)
		if err == nil {
			r, err := se.run(ctx, subacct.Request(req, sub), true)
			if err == nil {
				out.Changes = subacct.PrefixChanges(sub, "", r.Changes)
				out.Line = fmt.Sprintf("%s: %s (with the configured key %s)", sub, r.Summary, mask(sk.APIKey))
				return out
			}
			why = "the configured key " + mask(sk.APIKey) + " cannot list orders now (" + err.Error() + "); " + why
		}
	}
	if !req.Params.Bool("temporary_keys") {
		out.Line = fmt.Sprintf("%s: would NOT inspect (no usable configured key, temporary_keys false); %s", sub, why)
		out.Find = append(out.Find, executors.Finding{Severity: "medium", Subject: "sub-account " + sub,
			Message: "its orders would not be inspected: no usable configured key and temporary_keys is false; " + why})
		return out
	}
	restrict := "restricted to the egress IP KuCoin reports (GET /api/v1/my-ip)"
	if len(ips) > 0 {
		restrict = "restricted to " + strings.Join(ips, ",")
	}
	out.Changes = []executors.Change{
		{Kind: "create-temp-key", Target: fmt.Sprintf("sub %s: mint a temporary key (General, Spot, Margin, Futures; never withdrawals or transfers; %s; its secret kept in memory only)", sub, restrict)},
		{Kind: "cancel-orders", Target: fmt.Sprintf("sub %s: cancel every open order on every product, with the temporary key", sub)},
		{Kind: "delete-temp-key", Target: fmt.Sprintf("sub %s: delete the temporary key and probe it until KuCoin rejects it", sub)},
	}
	out.Line = fmt.Sprintf("%s: would mint a temporary trading-only key, cancel its open orders and delete the key, because %s", sub, why)
	return out
}

// tempKey is a temporary key minted on a sub-account; its secret and
// passphrase live only in exec and pass (memory).
type tempKey struct {
	sub, label, apiKey string
	pass               secret.Value
	exec               *Executor
	// swept is set when a creation of unknown outcome came first: a
	// key with the remark may have been made twice (see dropTempKey).
	swept bool
}

// tempKeyWeight is what a temporary key costs the Management pool: its
// creation and its deletion (charged together before the creation).
var tempKeyWeight = weightOf(venueSpot, http.MethodPost, pathSubAPIKey) + weightOf(venueSpot, http.MethodDelete, pathSubAPIKey)

// tempKeyWithin bounds the creation and the deletion of a temporary key,
// which run to their end even when the step's context ends (Ctrl-C). It
// covers a wait for the Management pool (up to its 30 s window) and the
// request's own retries.
const tempKeyWithin = 100 * time.Second

func deleteTempMutation(account, sub, label, apiKey string) executors.Mutation {
	return executors.Mutation{ID: subacct.DeleteTempKeyMutationID(account, sub, label, mask(apiKey)), Kind: "delete-temp-key",
		Target: fmt.Sprintf("delete temporary key %s (%s) of sub %s", mask(apiKey), label, sub),
		Request: map[string]string{"method": http.MethodDelete, "path": pathSubAPIKey, "subName": sub, "sub": sub,
			"apiKey": mask(apiKey), "passphrase": secret.Redacted, "label": label}}
}

const passAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"

// mintTempKey creates a temporary key on a sub-account, audited before it
// is sent (intent, with its label) and after (outcome, with its masked id).
func (x *Executor) mintTempKey(ctx context.Context, req executors.Request, sub string, ips []string) (tempKey, error) {
	var rnd [5]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return tempKey{}, fmt.Errorf("random label: %w", err)
	}
	label := subacct.TempKeyPrefix + hex.EncodeToString(rnd[:])
	pass := x.tempPassphrase(label)
	passText := pass.Reveal()
	restrict := "none"
	body := map[string]string{"subName": sub, "passphrase": passText, "remark": label,
		"permission": "General,Spot,Margin,Futures", "expire": "30"}
	if len(ips) > 0 {
		body["ipWhitelist"] = strings.Join(ips, ",")
		restrict = strings.Join(ips, ",")
	}
	m := executors.Mutation{ID: subacct.TempKeyMutationID(x.acct.Name, sub, label), Kind: "create-temp-key",
		Target: fmt.Sprintf("create temporary key %s on sub %s (General, Spot, Margin, Futures; no withdrawals; IP whitelist: %s)", label, sub, restrict),
		Request: map[string]string{"method": http.MethodPost, "path": pathSubAPIKey, "subName": sub, "remark": label, "sub": sub, "label": label,
			"permission": body["permission"], "ipWhitelist": restrict, "passphrase": secret.Redacted}}
	h := req.HooksOrNop()
	if err := h.Intent(ctx, m); err != nil {
		return tempKey{}, err
	}
	// The budget of the creation and of the key's deletion is waited for
	// in ctx, before anything is sent: a pass ended meanwhile (the master
	// key died, Ctrl-C) makes no key, instead of waiting for a drained
	// Management pool in a context nothing cancels. Both are charged now,
	// so that the creation's first attempt and the deletion's go without
	// waiting (withPrepaid): a key of ours is never minted in a window
	// with no room left to delete it.
	rsv, werr := x.pacer.wait(ctx, poolManagement, tempKeyWeight, false)
	if err := cmp.Or(werr, ctx.Err()); err != nil {
		x.pacer.release(rsv)
		cerr := &executors.Error{Class: executors.ErrTransient, Op: "create temporary key on " + sub, Msg: "not sent: interrupted", Err: err}
		h.Outcome(ctx, m, cerr)
		return tempKey{}, cerr
	}
	x.pacer.release(rsv) // charged: the venue counts it when the requests go
	// Once sent, the creation runs to its answer even if the run is
	// interrupted: knowing the key's id is what lets it be deleted.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tempKeyWithin)
	defer cancel()
	var ans struct {
		APIKey     string `json:"apiKey"`
		APISecret  string `json:"apiSecret"`
		APIVersion int    `json:"apiVersion"`
	}
	err := x.call(withPrepaid(sctx), x.spot, "create temporary key on sub "+sub, true, http.MethodPost, pathSubAPIKey, body, &ans)
	if err == nil && (ans.APIKey == "" || ans.APISecret == "") {
		err = &executors.Error{Class: executors.ErrUnknownOutcome, Op: "create temporary key on " + sub, Msg: "the answer names no apiKey or apiSecret"}
	}
	minted := ""
	if err == nil {
		minted = ans.APIKey
	}
	done := subacct.WithMaskedKey(m, minted)
	h.Outcome(ctx, done, err)
	if err != nil {
		// The caller sweeps the label when the outcome is unknown.
		return tempKey{sub: sub, label: label, pass: pass}, err
	}
	x.rememberTemp(ans.APIKey)
	tk := tempKey{sub: sub, label: label, apiKey: ans.APIKey, pass: pass}
	version := ans.APIVersion
	if version < 1 || version > 3 {
		version = 0
	}
	tk.exec, err = x.subExecutor(ans.APIKey, secret.New(ans.APISecret), pass, version)
	if err != nil {
		var out subOutcome
		x.dropTempKey(ctx, req, tk, &out)
		return tempKey{}, err
	}
	return tk, nil
}

func (x *Executor) deleteTempKey(ctx context.Context, req executors.Request, sub, label, apiKey string, pass secret.Value) error {
	m := deleteTempMutation(x.acct.Name, sub, label, apiKey)
	return req.Mutate(ctx, m, func(ctx context.Context) error {
		return x.call(ctx, x.spot, "delete temporary key "+mask(apiKey)+" of sub "+sub, true, http.MethodDelete, pathSubAPIKey,
			q("subName", sub, "apiKey", apiKey, "passphrase", pass.Reveal()), nil)
	})
}

// dropTempKey deletes a temporary key (audited) and probes it until KuCoin
// rejects it, even when ctx is done (Ctrl-C).
//
// It goes at priority Top: a key of ours alive on a sub-account is one
// more key to lose, and once the master key dies (the human deleting it
// while a hold pass runs) it can no longer be deleted by API at all.
func (x *Executor) dropTempKey(ctx context.Context, req executors.Request, tk tempKey, out *subOutcome) {
	ctx = budget.WithPriority(ctx, budget.Top)
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tempKeyWithin)
	defer cancel()
	err := x.deleteTempKey(withPrepaid(dctx), req, tk.sub, tk.label, tk.apiKey, tk.pass)
	// Refused for authentication (400003: the master key died), nothing
	// can be listed either: the key is reported live below, with what to do.
	if err != nil && subacct.WorthSweeping(err) {
		var probe subOutcome
		if x.ensureLabelGone(ctx, req, &probe, tk.sub, tk.label, tk.pass, tk.apiKey) {
			err = nil
		}
	}
	proof := ""
	if err == nil && tk.exec != nil {
		proof, err = tk.exec.probeDead(dctx, 10*time.Second)
	}
	if err != nil {
		x.liveTempKey(out, tk.sub, tk.label, tk.apiKey, err)
		return
	}
	out.Changes = append(out.Changes, executors.Change{Kind: "delete-temp-key", ID: deleteTempMutation(x.acct.Name, tk.sub, tk.label, tk.apiKey).ID,
		Target: fmt.Sprintf("sub %s: temporary key %s deleted and rejected (%s)", tk.sub, mask(tk.apiKey), proof)})
	// A creation answered 5xx and sent again may have made a second key
	// with the same remark: none may stay. (One answered at once made one
	// key, which the probe above proved dead: listing again would spend
	// the Management pool for nothing.)
	if tk.swept {
		x.ensureLabelGone(ctx, req, out, tk.sub, tk.label, tk.pass, "")
	}
}

// ensureLabelGone deletes every key with remark label still listed under
// the sub-account, until a listing shows none; a key it cannot prove gone
// is reported live. It runs to the end even when ctx is done.
func (x *Executor) ensureLabelGone(ctx context.Context, req executors.Request, out *subOutcome, sub, label string, pass secret.Value, apiKey string) bool {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tempKeyWithin)
	defer cancel()
	gone, last := subacct.SweepLabel(dctx, x.env.Sleep, label, func(ctx context.Context) ([]subacct.Listed, error) {
		return x.listedSubKeys(ctx, sub)
	}, func(ctx context.Context, apiKey string) error {
		return x.deleteTempKey(ctx, req, sub, label, apiKey, pass)
	})
	if gone {
		return true
	}
	x.liveTempKey(out, sub, label, apiKey, last)
	return false
}

// listedSubKeys lists the keys under a sub-account by label (remark).
func (x *Executor) listedSubKeys(ctx context.Context, sub string) ([]subacct.Listed, error) {
	var list []apiKeyInfo
	err := x.call(ctx, x.spot, "list api keys of sub "+sub, false, http.MethodGet, pathSubAPIKey, q("subName", sub), &list)
	listed := make([]subacct.Listed, 0, len(list))
	for _, k := range list {
		listed = append(listed, subacct.Listed{Label: k.Remark, APIKey: k.APIKey})
	}
	return listed, err
}

func (x *Executor) liveTempKey(out *subOutcome, sub, label, apiKey string, err error) {
	if out.Err == nil {
		out.Err = err
	}
	x.subMemory().AddLive(sub, label, liveTemp{apiKey: apiKey, pass: x.tempPassphrase(label)})
	out.Remain = append(out.Remain, executors.Change{Kind: "live-key", Target: fmt.Sprintf("sub %s: temporary key %s (%s) may still be alive", sub, mask(apiKey), label)})
	out.Find = append(out.Find, executors.Finding{Severity: "high", Subject: "temporary key " + mask(apiKey) + " of sub " + sub,
		Message: "not proven deleted: " + err.Error(),
		Fix:     "run the playbook again with --resume (it deletes every temporary key the trail shows), or delete the key with remark " + label + " in the sub-account's API Management"})
	out.Manual = append(out.Manual, executors.ManualStep{Title: "Delete temporary key " + mask(apiKey) + " of sub-account " + sub,
		Instructions: fmt.Sprintf("panicbutton created the trading-only key %s (remark %s) on sub-account %s to cancel its orders and could not prove it deleted (%v). "+
			"Log in to the master account at www.kucoin.com, open Sub-Account → %s → API Management and delete the key with remark %s.", mask(apiKey), label, sub, err, sub, label),
		Verify: "key_rejected"})
	out.Line += "; TEMPORARY KEY " + mask(apiKey) + " NOT PROVEN DELETED"
}

// probeDead signs with the executor's own key until KuCoin rejects it.
func (x *Executor) probeDead(ctx context.Context, within time.Duration) (string, error) {
	return subacct.ProbeDead(ctx, x.env.Now, x.env.Sleep, within, mask(x.ownKey()), func(ctx context.Context) (bool, string, error) {
		var rj rejection
		dead, err := x.probe(ctx, true, x.ownKey(), &rj)
		if dead {
			return true, fmt.Sprintf("probe: GET /api/v1/accounts signed with the key answered %s (%s)", rj.Code, rj.Reason), nil
		}
		return false, "", err
	})
}

var _ executors.TempKeyCleaner = (*Executor)(nil)

// tempPassphrase derives a temporary key's passphrase from the master's
// secret and the key's label: KuCoin deletes a sub key only with its
// passphrase, and a resumed run (a new process) must be able to delete
// the keys a crashed run minted, without the passphrase ever touching
// disk.
func (x *Executor) tempPassphrase(label string) secret.Value {
	mac := hmac.New(sha256.New, []byte(x.acct.Secret.Reveal()))
	mac.Write([]byte("panicbutton temporary key passphrase v1\n" + label))
	sum := mac.Sum(nil)
	b := make([]byte, 24)
	for i := range b {
		b[i] = passAlphabet[int(sum[i])%len(passAlphabet)]
	}
	return secret.New(string(b))
}

// DeleteTempKeys implements executors.TempKeyCleaner (see the Binance
// executor's): each key is found by its remark, deleted with its derived
// passphrase, and proven gone by its absence from the listing.
func (x *Executor) DeleteTempKeys(ctx context.Context, req executors.Request, keys []executors.TempKey) (executors.Result, error) {
	res, errs := subacct.DeleteLeftovers(ctx, keys, subacct.Cleaner{
		List:  x.listedSubKeys,
		Match: func(tk executors.TempKey, k subacct.Listed) bool { return k.Label == tk.Label },
		Delete: func(ctx context.Context, tk executors.TempKey, apiKey string) error {
			return x.deleteTempKey(ctx, req, tk.Sub, tk.Label, apiKey, x.tempPassphrase(tk.Label))
		},
		Live: func(out *subOutcome, tk executors.TempKey, err error) {
			x.liveTempKey(out, tk.Sub, tk.Label, tk.Masked, err)
		},
	})
	res.Status, res.Summary = executors.StatusChanged, fmt.Sprintf("deleted %d temporary keys left by the interrupted run", len(res.Changes))
	if len(res.Remaining) > 0 {
		res.Status = executors.StatusFailed
		res.Summary += fmt.Sprintf("; %d NOT proven deleted", len(res.Remaining))
		return res, errs[0]
	}
	return res, nil
}

// liveTemp is a temporary key not proven deleted.
type liveTemp struct {
	apiKey string
	pass   secret.Value
}
