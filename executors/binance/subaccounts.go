package binance

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	gobinance "github.com/adshao/go-binance/v2"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/internal/budget"
	"github.com/panicbutton/panicbutton/executors/internal/subacct"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// Sub-account orders (issue 10 item 1). A master key cannot list or cancel
// a sub-account's orders: only a key of the sub-account can. For each
// sub-account, orders.cancel_all with scope sub_accounts/all uses the sub
// key configured in the accounts file (sub_keys with secret), or else mints
// a temporary key on the sub-account through the master (POST
// /sapi/v2/sub-account/subAccountApi): Ed25519, whose private half is
// generated here and never leaves the process, trading permissions only
// (never withdrawals, never transfers), restricted to temp_key_ips when
// given (Binance has no API telling our egress IP). The key is audited
// before it is used (create-temp-key: the intent names its label, the
// outcome its masked id), runs the ordinary cancel-all of that
// sub-account, and is deleted at the end of the step (delete-temp-key) —
// also when the step fails or the run is interrupted — then probed until
// Binance rejects it.

// codeSubKeyGone: "Invalid Api-Key ID." — the sub key is not (or no
// longer) there.
const codeSubKeyGone = -2008

// tempKeyWithin bounds the creation and the deletion of a temporary key,
// which run to their end even when the step's context ends (Ctrl-C): a
// key whose id is unknown, or that is left alive, is worse than a late
// exit. It covers a wait for the master's key-endpoint budget (60 calls
// per minute per endpoint, so up to a minute's window) and then the
// request's own retries.
const tempKeyWithin = 100 * time.Second

// pathSubKeysV2 creates sub-account keys with the public key in the body.
const pathSubKeysV2 = "/sapi/v2/sub-account/subAccountApi"

// subParallel is how many sub-accounts of a master are worked on at once.
// A temporary key's lists and its confirming re-lists usually fall in
// different minute windows of /fapi (a scarce IP budget at scale): with 8
// at a time, 16 sub-accounts with futures took two rounds of two or three
// windows each; 32 start them all in the first window and let the budget,
// not the slots, set the pace. Idle sub-accounts take no key (status).
const subParallel = 32

// subOutcome is what happened on one sub-account (Sub is its e-mail).
type subOutcome = subacct.Outcome

// cancelAllScoped dispatches orders.cancel_all by scope.
func (e *Executor) cancelAllScoped(ctx context.Context, req executors.Request, plan bool) (executors.Result, error) {
	switch req.Params.String("scope") {
	case executors.ScopeSubAccounts:
		return e.cancelSubAccounts(ctx, req, plan)
	case executors.ScopeAll:
		return subacct.Both(func() (executors.Result, error) { return e.cancelAll(ctx, req, plan) },
			func() (executors.Result, error) { return e.cancelSubAccounts(ctx, req, plan) }, scopedRank)
	}
	return e.cancelAll(ctx, req, plan)
}

// scopedRank orders the statuses when the account's own result and its
// sub-accounts' merge (scope all): the merged status is the higher.
var scopedRank = map[executors.Status]int{executors.StatusOK: 0, executors.StatusChanged: 1, executors.StatusWouldChange: 2, executors.StatusPending: 3, executors.StatusFailed: 4}

// subView is what the master sees of one sub-account's balances.
type subView struct {
	locked []string // "0.5 BTC", sorted
	err    error
}

func (v subView) fingerprint() string { return strings.Join(v.locked, ",") }

// subAssets reads a sub-account's spot balances through the master.
func (e *Executor) subAssets(ctx context.Context, email string) subView {
	var res *gobinance.SubAccountAssetServiceResponse
	err := e.call(ctx, "read sub-account assets "+email, false, func(ctx context.Context) error {
		var err error
		res, err = e.spot.NewSubAccountAssetService().Email(email).Do(ctx)
		return err
	})
	if err != nil {
		return subView{err: err}
	}
	var v subView
	for _, b := range res.Balances {
		if !isZeroAmount(b.Locked) {
			v.locked = append(v.locked, trimDec(b.Locked)+" "+b.Asset)
		}
	}
	sort.Strings(v.locked)
	return v
}

// subMemories remembers, per executor, which sub-accounts were left with no
// open order and what the master saw of them then, so that a later pass
// does not mint a key on a sub-account where nothing changed (nothing new
// locked and no new key listed under it), and the temporary keys not
// proven deleted (see subacct.Memory).
var subMemories sync.Map // *Executor -> *subacct.Memory[liveTemp] (executors live for the process)

func (e *Executor) subMemory() *subacct.Memory[liveTemp] {
	m, _ := subMemories.LoadOrStore(e, &subacct.Memory[liveTemp]{})
	return m.(*subacct.Memory[liveTemp])
}

// cancelSubAccounts implements orders.cancel_all for scope sub_accounts.
func (e *Executor) cancelSubAccounts(ctx context.Context, req executors.Request, plan bool) (executors.Result, error) {
	ctx = executors.WithLaterConfirmations(ctx)
	// The status of every sub-account (which of them can hold orders at
	// all, substatus.go) does not need their list: both go out at once.
	statusc := make(chan subStatuses, 1)
	go func() { statusc <- e.readSubStatuses(ctx) }()
	subs, master, err := e.subAccounts(ctx)
	if err != nil {
		return executors.Result{}, err
	}
	if !master {
		return executors.Result{Status: executors.StatusOK, Summary: "no sub-accounts (not a master account)", Counts: map[string]int{"sub_accounts": 0}}, nil
	}
	if len(subs) == 0 {
		return executors.Result{Status: executors.StatusOK, Summary: "no sub-accounts", Counts: map[string]int{"sub_accounts": 0}}, nil
	}
	// One status read for every sub-account, each call (each hold pass).
	status := <-statusc
	outs := make([]subOutcome, len(subs))
	parallel(ctx, len(subs), subParallel, func(ctx context.Context, i int) {
		outs[i] = e.cancelOneSub(ctx, req, subs[i].Email, status, plan)
	}, nil)
	if err := ctx.Err(); err != nil {
		// parallel skips what it did not start: say so for each.
		for i := range outs {
			if outs[i].Sub == "" {
				outs[i] = subOutcome{Sub: subs[i].Email, Line: subs[i].Email + ": not inspected (interrupted)",
					Err: classify("cancel orders of sub-account "+subs[i].Email, true, 0, 0, err)}
			}
		}
	}
	return e.finishSubs(outs, plan)
}

// finishSubs builds the step's result from every sub-account's outcome.
func (e *Executor) finishSubs(outs []subOutcome, plan bool) (executors.Result, error) {
	res, errs := subacct.Finish(outs, plan)
	res.Counts["cancelled"] += 0 // always counted, 0 included
	if len(errs) > 0 {
		return res, firstError(errs)
	}
	if res.Status == executors.StatusFailed {
		return res, &executors.Error{Class: executors.ErrRejected, Op: "cancel sub-account orders",
			Msg: fmt.Sprintf("%s left in sub-accounts", plural(len(res.Remaining), "item"))}
	}
	return res, nil
}

// subKeyFor returns the accounts file's key for a sub-account that the
// executor can sign with (it has a secret).
func (e *Executor) subKeyFor(email string) (executors.SubKey, bool) {
	for _, sk := range e.acct.SubKeys {
		if strings.EqualFold(sk.Sub, email) && !sk.Secret.IsZero() && sk.APIKey != "" {
			return sk, true
		}
	}
	return executors.SubKey{}, false
}

// subExecutor builds an executor signing with a sub-account's key.
func (e *Executor) subExecutor(email, apiKey, keyType string, sec secret.Value) (*Executor, error) {
	return New(executors.Account{Name: e.acct.Name, Exchange: "binance", KeyType: keyType,
		APIKey: secret.New(apiKey), Secret: sec, BaseURL: e.acct.BaseURL}, e.env)
}

// cancelOneSub handles one sub-account; status is the margin/futures
// status of every sub-account, read once for this call.
func (e *Executor) cancelOneSub(ctx context.Context, req executors.Request, email string, status subStatuses, plan bool) subOutcome {
	out := subOutcome{Sub: email}
	if !plan {
		// Temporary keys an earlier attempt could not prove deleted come
		// first: each is deleted now or reported again.
		for label, lt := range e.subMemory().TakeLive(email) {
			e.ensureLabelGone(ctx, req, &out, email, label, lt.apiKey)
		}
		if out.Err != nil {
			return out
		}
	}
	view := e.subAssets(ctx, email)
	if status.noOrderPossible(email, view) {
		// No key needed, configured or temporary: nothing to cancel.
		markIdle(&out, plan)
		return out
	}
	why := "its spot wallet shows nothing locked, but Binance does not show the master its futures and margin orders"
	if more := status.why(email); more != "" {
		why = "its spot wallet shows nothing locked, but " + more + " and Binance does not show the master its futures and margin orders"
	}
	switch {
	case view.err != nil:
		why = "its balances could not be read (" + view.err.Error() + ")"
	case len(view.locked) > 0:
		why = "locked balances seen: " + strings.Join(view.locked, ", ")
	}
	if view.err == nil && len(view.locked) == 0 && req.Params.Bool("skip_idle") {
		out.Skipped = true
		out.Line = email + ": skipped (skip_idle: nothing locked in its spot wallet; its futures and margin orders are not visible to the master)"
		return out
	}
	if view.err == nil && !plan {
		if st, ok := e.subMemory().Get(email); ok && st.Fingerprint == view.fingerprint() && e.subKeysSeen(email) <= st.Keys {
			out.Skipped, out.Clean = true, true
			out.Line = fmt.Sprintf("%s: skipped (emptied at %s; nothing new locked and no new key listed under it since)", email, st.At.UTC().Format("15:04:05"))
			return out
		}
	}
	sk, configured := e.subKeyFor(email)
	if plan {
		return e.planSub(ctx, req, email, why, sk, configured)
	}
	if configured {
		sub, err := e.subExecutor(email, sk.APIKey, sk.KeyType, sk.Secret)
		if err == nil {
			sub.off = status.offProducts(email)
			r, err := sub.run(ctx, subacct.Request(req, email), false)
			if err == nil || !errors.Is(err, executors.ErrAuth) {
				e.subResult(ctx, &out, r, err, "with the configured key "+mask(sk.APIKey), view)()
				return out
			}
			// Deleted (perhaps by this run: it may be the leaked key) or
			// unusable: fall back to a temporary key.
			why = "the configured key " + mask(sk.APIKey) + " was refused (" + err.Error() + "); " + why
		} else {
			why = "the configured key " + mask(sk.APIKey) + " cannot sign (" + err.Error() + "); " + why
		}
	}
	if !req.Params.Bool("temporary_keys") {
		e.notInspected(&out, view, "no usable configured key and temporary_keys is false", nil)
		return out
	}
	var (
		tk      tempKey
		err     error
		attempt int
	)
	for ; ; attempt++ {
		tk, err = e.mintTempKey(ctx, req, email, req.Params.Strings("temp_key_ips"))
		if err == nil || errors.Is(err, executors.ErrRejected) || errors.Is(err, executors.ErrAuth) || tk.label == "" {
			break
		}
		// The outcome is unknown (a 5xx, a timeout): the key may exist.
		// Once no key with that label is left, mint again (a new label).
		if !e.ensureLabelGone(ctx, req, &out, email, tk.label, "") || attempt == 2 || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		e.notInspected(&out, view, "a temporary key could not be created: "+err.Error(), err)
		return out
	}
	tk.swept = attempt > 0
	// From here on the key exists: it is deleted whatever happens, also
	// when ctx ends (Ctrl-C), with a context of its own.
	tk.exec.off = status.offProducts(email)
	r, cerr := subacct.RunFresh(ctx, e.env.Sleep, func() (executors.Result, error) {
		return tk.exec.run(ctx, subacct.Request(req, email), false)
	})
	// The read of what the master sees once the sub-account is empty goes
	// while the key is deleted: it is a round trip on every sub-account's
	// path that the deletion does not need.
	record := e.subResult(ctx, &out, r, cerr, "with temporary key "+mask(tk.apiKey)+" ("+why+")", view)
	e.dropTempKey(ctx, req, tk, &out)
	record()
	if out.Err != nil || len(out.Remain) > 0 {
		e.subMemory().Set(email, subacct.CleanState{}, false) // not clean until the key is gone
	}
	return out
}

// subResult folds a sub-account's cancel-all result into out. Once the
// sub-account is emptied it starts reading what the master then sees of
// it (a later pass re-inspects it only if that changes); the returned
// function waits for that read and records it (call it once).
func (e *Executor) subResult(ctx context.Context, out *subOutcome, r executors.Result, err error, how string, view subView) (record func()) {
	subacct.Fold(out, r)
	if err != nil {
		out.Err = err
		out.Line = fmt.Sprintf("%s: %s %s", out.Sub, r.Summary, how)
		if len(r.Remaining) == 0 {
			// Nothing named survived, but the sub-account could not be
			// emptied for sure: its orders are unknown.
			e.notInspected(out, view, "its orders could not be cancelled: "+err.Error(), err)
			out.Line = fmt.Sprintf("%s: %s %s", out.Sub, r.Summary, how)
		}
		e.subMemory().Set(out.Sub, subacct.CleanState{}, false)
		return func() {}
	}
	out.Clean = true
	out.Line = fmt.Sprintf("%s: %s %s", out.Sub, r.Summary, how)
	if view.err != nil {
		return func() {}
	}
	sub, keys := out.Sub, e.subKeysSeen(out.Sub)
	type read struct {
		view subView
		at   time.Time
	}
	done := make(chan read, 1)
	go func() {
		v := e.subAssets(ctx, sub)
		done <- read{v, e.env.Now()}
	}()
	return func() {
		if after := <-done; after.view.err == nil {
			e.subMemory().Set(sub, subacct.CleanState{Fingerprint: after.view.fingerprint(), Keys: keys, At: after.at}, true)
		}
	}
}

// notInspected records a sub-account whose orders the run could not see:
// with locked balances its orders are inferred (a manual step); without,
// a finding says what is unknown.
func (e *Executor) notInspected(out *subOutcome, view subView, reason string, err error) {
	if err != nil && out.Err == nil {
		out.Err = err
	}
	manual := executors.ManualStep{
		Title: "Cancel the open orders of sub-account " + out.Sub,
		Instructions: fmt.Sprintf("panicbutton could not inspect sub-account %s (%s). Log in to the master account at binance.com with 2FA, "+
			"open Sub-Account → Account Management, log in to %s (or use its own API key), and cancel every open order on Spot, Margin and Futures. "+
			"To let panicbutton do it next time, list a key of that sub-account under sub_keys with its secret in the accounts file.", out.Sub, reason, out.Sub),
	}
	if view.err == nil && len(view.locked) > 0 {
		out.Remain = append(out.Remain, executors.Change{Kind: "open-orders-inferred",
			Target: fmt.Sprintf("sub %s: open orders inferred from locked balances (%s); %s", out.Sub, strings.Join(view.locked, ", "), reason)})
		out.Manual = append(out.Manual, manual)
		out.Line = fmt.Sprintf("%s: NOT inspected, open orders inferred from locked balances %s: %s", out.Sub, strings.Join(view.locked, ", "), reason)
		return
	}
	sev := "medium"
	msg := "its orders were not inspected: " + reason + "; its spot wallet shows nothing locked, but futures and margin orders are not visible to the master"
	if view.err != nil {
		sev, msg = "high", "its orders were not inspected: "+reason+"; its balances could not be read either ("+view.err.Error()+"), so it may hold open orders"
	}
	out.Find = append(out.Find, executors.Finding{Severity: sev, Subject: "sub-account " + out.Sub, Message: msg, Fix: manual.Instructions})
	out.Line = fmt.Sprintf("%s: NOT inspected: %s", out.Sub, reason)
}

// planSub describes what Do would do on one sub-account (dry-run): it
// mints nothing. With a configured key it lists the orders (a read).
func (e *Executor) planSub(ctx context.Context, req executors.Request, email, why string, sk executors.SubKey, configured bool) subOutcome {
	out := subOutcome{Sub: email}
	if configured {
		sub, err := e.subExecutor(email, sk.APIKey, sk.KeyType, sk.Secret)
		if err == nil {
			r, err := sub.run(ctx, subacct.Request(req, email), true)
			if err == nil {
				out.Changes = subacct.PrefixChanges(email, "", r.Changes)
				out.Line = fmt.Sprintf("%s: %s (with the configured key %s)", email, r.Summary, mask(sk.APIKey))
				return out
			}
			why = "the configured key " + mask(sk.APIKey) + " cannot list orders now (" + err.Error() + "); " + why
		}
	}
	if !req.Params.Bool("temporary_keys") {
		out.Line = fmt.Sprintf("%s: would NOT inspect (no usable configured key, temporary_keys false); %s", email, why)
		out.Find = append(out.Find, executors.Finding{Severity: "medium", Subject: "sub-account " + email,
			Message: "its orders would not be inspected: no usable configured key and temporary_keys is false; " + why})
		return out
	}
	ips := req.Params.Strings("temp_key_ips")
	restrict := "no IP restriction: Binance does not tell the egress IP; set temp_key_ips to restrict it"
	if len(ips) > 0 {
		restrict = "restricted to " + strings.Join(ips, ",")
	}
	out.Changes = []executors.Change{
		{Kind: "create-temp-key", Target: fmt.Sprintf("sub %s: mint a temporary Ed25519 key (trading only, never withdrawals; %s; private key generated locally, never on disk)", email, restrict)},
		{Kind: "cancel-orders", Target: fmt.Sprintf("sub %s: cancel every open order on every product, with the temporary key", email)},
		{Kind: "delete-temp-key", Target: fmt.Sprintf("sub %s: delete the temporary key and probe it until Binance rejects it", email)},
	}
	out.Line = fmt.Sprintf("%s: would mint a temporary trading-only key, cancel its open orders and delete the key, because %s", email, why)
	return out
}

// tempKey is a temporary key minted on a sub-account. Its private key
// lives only in exec (memory).
type tempKey struct {
	email, label, apiKey string
	mutation             executors.Mutation // the create-temp-key mutation
	exec                 *Executor
	// swept is set when a creation of unknown outcome came first: a
	// key with the label may have been made twice (see dropTempKey).
	swept bool
}

func (t tempKey) deleteMutation(account string) executors.Mutation {
	return executors.Mutation{ID: subacct.DeleteTempKeyMutationID(account, t.email, t.label, mask(t.apiKey)), Kind: "delete-temp-key",
		Target: fmt.Sprintf("delete temporary key %s (%s) of sub %s", mask(t.apiKey), t.label, t.email),
		Request: map[string]string{"method": http.MethodDelete, "path": pathSubKeys, "email": t.email, "sub": t.email,
			"subAccountApiKey": mask(t.apiKey), "label": t.label}}
}

// mintTempKey creates a temporary key on a sub-account, audited before it
// is sent (intent, with its label) and after (outcome, with its masked
// id), and returns an executor signing with it.
func (e *Executor) mintTempKey(ctx context.Context, req executors.Request, email string, ips []string) (tempKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return tempKey{}, fmt.Errorf("generate ed25519 key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return tempKey{}, fmt.Errorf("encode ed25519 key: %w", err)
	}
	privPEM := secret.New(string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return tempKey{}, fmt.Errorf("encode ed25519 public key: %w", err)
	}
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
	var rnd [5]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return tempKey{}, fmt.Errorf("random label: %w", err)
	}
	label := subacct.TempKeyPrefix + hex.EncodeToString(rnd[:])
	form := url.Values{"email": {email}, "apiName": {label}, "canTrade": {"true"}, "canFuturesTrade": {"true"},
		"canMarginLoanRepay": {"false"}, "canUniversalTransfer": {"false"}, "canVanillaOptions": {"false"},
		"status": {"1"}, "publicKey": {pubPEM}}
	restrict := "none"
	if len(ips) > 0 {
		form.Set("status", "2")
		form.Set("ipAddress", strings.Join(ips, ","))
		restrict = strings.Join(ips, ",")
	}
	m := executors.Mutation{ID: subacct.TempKeyMutationID(e.acct.Name, email, label), Kind: "create-temp-key",
		Target: fmt.Sprintf("create temporary key %s on sub %s (Ed25519, trading only, no withdrawals, IP restriction: %s)", label, email, restrict),
		Request: map[string]string{"method": http.MethodPost, "path": pathSubKeysV2, "email": email, "apiName": label, "sub": email, "label": label,
			"key_type": "ed25519", "permissions": "canTrade,canFuturesTrade", "ip_restriction": restrict}}
	h := req.HooksOrNop()
	if err := h.Intent(ctx, m); err != nil {
		return tempKey{}, auditError("create temporary key on "+email, err)
	}
	var body struct {
		APIKey string `json:"apiKey"`
	}
	if err := ctx.Err(); err != nil {
		h.Outcome(ctx, m, classify("create temporary key on "+email, true, 0, 0, err))
		return tempKey{}, classify("create temporary key on "+email, true, 0, 0, err)
	}
	// Once sent, the creation runs to its answer even if the run is
	// interrupted meanwhile: knowing the key's id is what lets it be
	// deleted.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tempKeyWithin)
	defer cancel()
	err = e.call(sctx, "create temporary key on sub-account "+email, true, func(ctx context.Context) error {
		data, err := e.signed(ctx, http.MethodPost, pathSubKeysV2, nil, form)
		if err != nil {
			return err
		}
		return json.Unmarshal(data, &body)
	})
	if err == nil && body.APIKey == "" {
		err = &executors.Error{Class: executors.ErrUnknownOutcome, Op: "create temporary key on " + email, Msg: "the answer names no apiKey"}
	}
	minted := ""
	if err == nil {
		minted = body.APIKey
	}
	done := subacct.WithMaskedKey(m, minted)
	h.Outcome(ctx, done, err)
	if err != nil {
		// The caller sweeps the label when the outcome is unknown (the key
		// may exist).
		return tempKey{email: email, label: label}, err
	}
	tk := tempKey{email: email, label: label, apiKey: body.APIKey, mutation: done}
	tk.exec, err = e.subExecutor(email, body.APIKey, "ed25519", privPEM)
	if err != nil {
		// Cannot happen with a key generated above; delete it all the same.
		tk.exec = nil
	}
	e.rememberTemp(body.APIKey)
	if tk.exec == nil {
		return tk, err
	}
	return tk, nil
}

// rememberTemp records a temporary key's id as ours: the key memory does
// not count it as a new key listed under its sub-account.
func (e *Executor) rememberTemp(apiKey string) {
	m := e.keyMemory()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.temp == nil {
		m.temp = map[string]bool{}
	}
	m.temp[apiKey] = true
}

// subKeysSeen counts the keys (other than ours) ever seen listed under a
// sub-account in this process.
func (e *Executor) subKeysSeen(email string) int {
	m := e.keyMemory()
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id := range m.bySub[email] {
		if !m.temp[id] {
			n++
		}
	}
	return n
}

// dropTempKey deletes a temporary key (audited) and probes it until
// Binance rejects it. It runs to the end even when ctx is done (Ctrl-C): a
// live temporary key is worse than a late exit.
func (e *Executor) dropTempKey(ctx context.Context, req executors.Request, tk tempKey, out *subOutcome) {
	// Before other waiters: a key of ours alive on a sub-account cannot be
	// deleted by API once the master key dies (a human deleting it while
	// a hold pass runs).
	ctx = budget.WithPriority(ctx, budget.Top)
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tempKeyWithin)
	defer cancel()
	err := e.deleteTempKey(dctx, req, tk.email, tk.label, tk.apiKey)
	if err != nil && subacct.WorthSweeping(err) {
		// The outcome may be unknown (5xx): re-list and delete until the
		// label is gone.
		var probe subOutcome
		if e.ensureLabelGone(ctx, req, &probe, tk.email, tk.label, tk.apiKey) {
			err = nil
		}
	}
	proof := ""
	if err == nil && tk.exec != nil {
		proof, err = tk.exec.probeDead(dctx, 10*time.Second)
	}
	if err != nil {
		e.liveTempKey(out, tk.email, tk.label, tk.apiKey, err)
		return
	}
	out.Changes = append(out.Changes, executors.Change{Kind: "delete-temp-key", ID: tk.deleteMutation(e.acct.Name).ID,
		Target: fmt.Sprintf("sub %s: temporary key %s deleted and rejected (%s)", tk.email, mask(tk.apiKey), proof)})
	// A creation answered 5xx and sent again may have made a second key
	// with the same label: none may stay. (A creation answered at once
	// made one key: the probe above proved it dead, and listing the
	// sub-account again would spend the master's scarce key-endpoint
	// budget for nothing.)
	if tk.swept {
		e.ensureLabelGone(ctx, req, out, tk.email, tk.label, "")
	}
}

// ensureLabelGone deletes every key labelled label still listed under the
// sub-account, until a listing shows none; a key it cannot prove gone is
// reported live (the step fails and says so). It runs to the end even
// when ctx is done.
func (e *Executor) ensureLabelGone(ctx context.Context, req executors.Request, out *subOutcome, email, label, apiKey string) bool {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tempKeyWithin)
	defer cancel()
	gone, last := subacct.SweepLabel(dctx, e.env.Sleep, label, func(ctx context.Context) ([]subacct.Listed, error) {
		return e.listedSubKeys(ctx, email)
	}, func(ctx context.Context, apiKey string) error {
		return e.deleteTempKey(ctx, req, email, label, apiKey)
	})
	if gone {
		return true
	}
	e.liveTempKey(out, email, label, apiKey, last)
	return false
}

// listedSubKeys lists the keys under a sub-account by label (apiName).
func (e *Executor) listedSubKeys(ctx context.Context, email string) ([]subacct.Listed, error) {
	rows, err := e.listSubKeys(ctx, email)
	listed := make([]subacct.Listed, 0, len(rows))
	for _, r := range rows {
		listed = append(listed, subacct.Listed{Label: r.APIName, APIKey: r.APIKey})
	}
	return listed, err
}

// liveTempKey reports a temporary key that could not be proven deleted.
func (e *Executor) liveTempKey(out *subOutcome, email, label, apiKey string, err error) {
	if out.Err == nil {
		out.Err = err
	}
	e.subMemory().AddLive(email, label, liveTemp{apiKey: apiKey})
	target := fmt.Sprintf("sub %s: temporary key %s (%s) may still be alive", email, mask(apiKey), label)
	out.Remain = append(out.Remain, executors.Change{Kind: "live-key", Target: target})
	out.Find = append(out.Find, executors.Finding{Severity: "high", Subject: "temporary key " + mask(apiKey) + " of sub " + email,
		Message: "not proven deleted: " + err.Error(),
		Fix:     "run panicbutton run <playbook> --resume <run> (it deletes every temporary key the trail shows), or delete the key named " + label + " in the sub-account's API Management"})
	out.Manual = append(out.Manual, executors.ManualStep{Title: "Delete temporary key " + mask(apiKey) + " of sub-account " + email,
		Instructions: fmt.Sprintf("panicbutton created the trading-only key %s (label %s) on sub-account %s to cancel its orders and could not prove it deleted (%v). "+
			"Log in to the master account at binance.com, open Sub-Account → API Management for %s and delete the key labelled %s.", mask(apiKey), label, email, err, email, label),
		Verify: "key_rejected"})
	out.Line += "; TEMPORARY KEY " + mask(apiKey) + " NOT PROVEN DELETED"
}

// deleteTempKey deletes one temporary key, audited as delete-temp-key.
func (e *Executor) deleteTempKey(ctx context.Context, req executors.Request, email, label, apiKey string) error {
	tk := tempKey{email: email, label: label, apiKey: apiKey}
	m := tk.deleteMutation(e.acct.Name)
	return req.Mutate(ctx, m, func(ctx context.Context) error {
		return e.call(ctx, "delete temporary key "+mask(apiKey)+" of "+email, true, func(ctx context.Context) error {
			_, err := e.signed(ctx, http.MethodDelete, pathSubKeys, nil, url.Values{"email": {email}, "subAccountApiKey": {apiKey}})
			if apiCode(err) == codeSubKeyGone {
				return nil // already gone
			}
			return err
		})
	})
}

// probeDead signs with the executor's own key until Binance rejects it
// (-2015) or the time is up.
func (e *Executor) probeDead(ctx context.Context, within time.Duration) (string, error) {
	return subacct.ProbeDead(ctx, e.env.Now, e.env.Sleep, within, mask(e.acct.APIKey.Reveal()), func(ctx context.Context) (bool, string, error) {
		return e.probeOnce(ctx, true, "")
	})
}

var _ executors.TempKeyCleaner = (*Executor)(nil)

// DeleteTempKeys implements executors.TempKeyCleaner: each key is found by
// its label under its sub-account and deleted; a key no longer listed is
// gone. Deletion is proven by the key's absence from the master's listing
// (the private key died with the crashed process, so it cannot be probed).
func (e *Executor) DeleteTempKeys(ctx context.Context, req executors.Request, keys []executors.TempKey) (executors.Result, error) {
	res, errs := subacct.DeleteLeftovers(ctx, keys, subacct.Cleaner{
		List: func(ctx context.Context, sub string) ([]subacct.Listed, error) { return e.listedSubKeys(ctx, sub) },
		Match: func(tk executors.TempKey, k subacct.Listed) bool {
			return k.Label == tk.Label || (tk.Masked != "" && mask(k.APIKey) == tk.Masked && strings.HasPrefix(k.Label, subacct.TempKeyPrefix))
		},
		Delete: func(ctx context.Context, tk executors.TempKey, apiKey string) error {
			return e.deleteTempKey(ctx, req, tk.Sub, tk.Label, apiKey)
		},
		Live: func(out *subOutcome, tk executors.TempKey, err error) {
			e.liveTempKey(out, tk.Sub, tk.Label, tk.Masked, err)
		},
	})
	res.Status, res.Summary = executors.StatusChanged, fmt.Sprintf("deleted %s left by the interrupted run", plural(len(res.Changes), "temporary key"))
	if len(res.Remaining) > 0 {
		res.Status = executors.StatusFailed
		res.Summary += fmt.Sprintf("; %d NOT proven deleted", len(res.Remaining))
		return res, firstError(errs)
	}
	return res, nil
}

// liveTemp is a temporary key not proven deleted.
type liveTemp struct {
	apiKey string
}
