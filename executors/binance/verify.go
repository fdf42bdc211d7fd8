package binance

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/panicbutton/panicbutton/executors"
)

// verifyRejected implements keys.verify_rejected. Two proofs exist:
//
//   - probe: the key is the account's own (we hold its secret): call
//     GET /sapi/v1/account/apiRestrictions signed with it until Binance
//     answers -2015 (deleted, IP-locked and unpermitted keys all look alike)
//     or -2008 "Invalid Api-Key ID.", which /sapi answers a deleted or
//     unknown calling key (EXCHANGES.md C1).
//   - absence: a sub-account key whose secret we do not hold: list every
//     sub-account's keys from the master until the key is no longer there.
//     Absence proves deletion only for a key known to be a sub-account key
//     (seen listed earlier in this process, or in the accounts file's
//     sub_keys); for any other id the result is pending: this account
//     cannot verify it.
//
// It repeats every interval until the deadline; the result names the proof.
func (e *Executor) verifyRejected(ctx context.Context, req executors.Request) (executors.Result, error) {
	target := req.Params.String("api_key")
	own := target == "" || target == e.acct.APIKey.Reveal()
	interval := req.Params.Duration("interval")
	if interval <= 0 {
		interval = 5 * time.Second
	}
	deadline := req.Params.Duration("deadline")
	if deadline <= 0 {
		deadline = 30 * time.Second
	}
	id := mask(e.acct.APIKey.Reveal())
	if !own {
		id = mask(target)
	}
	end := e.env.Now().Add(deadline)
	probes := 0
	var lastErr error
	for {
		probes++
		rejected, proof, err := e.probeOnce(ctx, own, target)
		if errors.Is(err, errUnknownKey) {
			return executors.Result{Status: executors.StatusPending,
				Summary: fmt.Sprintf("cannot verify key %s from this account: it is not the account's own key and not a known sub-account key", id),
				Manual: []executors.ManualStep{{Title: "Check that key " + id + " is deleted",
					Instructions: fmt.Sprintf("Key %s is not listed under any sub-account of %s and was never seen there, so its absence proves nothing "+
						"(a typo, a masked id, or a key of the master itself). Check it in Binance's API Management; to let the tool verify it, "+
						"configure an account with that key (the probe then runs with it) or list it under sub_keys if it is a sub-account key.", id, e.acct.Name)}},
				Counts: map[string]int{"probes": probes}}, nil
		}
		if err != nil {
			// Inconclusive (network, rate limit, non-master): keep trying
			// until the deadline, then report the last error.
			lastErr = err
			if errors.Is(err, executors.ErrUnsupported) {
				return executors.Result{Status: executors.StatusFailed, Summary: err.Error()}, err
			}
		}
		if rejected {
			return executors.Result{Status: executors.StatusOK,
				Summary:  fmt.Sprintf("key %s is dead: %s (after %s)", id, proof, plural(probes, "probe")),
				Findings: []executors.Finding{{Severity: "info", Subject: "key " + id, Message: "proof: " + proof}},
				Counts:   map[string]int{"probes": probes}}, nil
		}
		if !e.env.Now().Add(interval).Before(end) {
			break
		}
		if err := e.env.Sleep(ctx, interval); err != nil {
			cerr := classify("verify key "+id+" rejected", false, 0, 0, err)
			return executors.Result{Status: executors.StatusFailed, Summary: cerr.Error()}, cerr
		}
	}
	msg := fmt.Sprintf("key %s still accepted after %s (%s)", id, deadline, plural(probes, "probe"))
	if lastErr != nil {
		msg = fmt.Sprintf("key %s not proven dead after %s: %v", id, deadline, lastErr)
	}
	err := &executors.Error{Class: executors.ErrRejected, Op: "verify key " + id + " rejected", Msg: msg}
	if lastErr != nil && executors.Retryable(lastErr) {
		err.Class = executors.ErrTransient
	}
	return executors.Result{Status: executors.StatusFailed, Summary: msg, Counts: map[string]int{"probes": probes}}, err
}

// probeOnce runs one probe. rejected reports a proof of death.
func (e *Executor) probeOnce(ctx context.Context, own bool, target string) (rejected bool, proof string, err error) {
	if own {
		_, err := e.apiRestrictions(ctx, "probe key "+mask(e.acct.APIKey.Reveal()))
		var ee *executors.Error
		if errors.As(err, &ee) && (ee.Code == fmt.Sprint(codeRejectedKey) || ee.Code == fmt.Sprint(codeInvalidKeyID)) {
			return true, fmt.Sprintf("probe: GET %s signed with the key answered %s (HTTP %d)", pathAPIRestrict, ee.Code, ee.HTTPStatus), nil
		}
		if err == nil {
			return false, "", nil
		}
		return false, "", err
	}
	subs, master, err := e.subAccounts(ctx)
	if err != nil {
		return false, "", err
	}
	if !master {
		return false, "", unsupported("verify key "+mask(target), "the key is not this account's and the account is not a master: without its secret it cannot be probed")
	}
	keys, err := e.subKeys(ctx, subs, false)
	if err != nil {
		return false, "", err
	}
	for _, k := range keys {
		if k.row.APIKey == target {
			return false, "", nil
		}
	}
	if !e.knownSubKey(target) {
		return false, "", errUnknownKey
	}
	return true, fmt.Sprintf("absence: a known sub-account key no longer listed under any of the %s (GET %s)", plural(len(subs), "sub-account"), pathSubKeys), nil
}

// errUnknownKey: the key to verify is neither the account's own nor a
// known sub-account key, so its absence from the listings proves nothing.
var errUnknownKey = errors.New("not the account's own key and not a known sub-account key")
