package subacct

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/panicbutton/panicbutton/executors"
)

// Fold adds a sub-account's cancel-all result to out: its changes and
// findings named after the sub-account, what remains as open-orders.
func Fold(out *Outcome, r executors.Result) {
	out.Changes = append(out.Changes, PrefixChanges(out.Sub, "", r.Changes)...)
	out.Remain = append(out.Remain, PrefixChanges(out.Sub, "open-orders", r.Remaining)...)
	for _, f := range r.Findings {
		f.Subject = "sub " + out.Sub + ": " + f.Subject
		out.Find = append(out.Find, f)
	}
}

// RunFresh runs a temporary key's first cancel-all, and once more after a
// second when the venue refused the key (a key minted a moment ago may
// need a moment to work everywhere) and ctx is not done.
func RunFresh(ctx context.Context, sleep func(context.Context, time.Duration) error, run func() (executors.Result, error)) (executors.Result, error) {
	r, err := run()
	if errors.Is(err, executors.ErrAuth) && ctx.Err() == nil {
		_ = sleep(ctx, time.Second)
		r, err = run()
	}
	return r, err
}

// ProbeDead calls once (a request signed with a temporary key) until it
// says the venue rejects the key, for at most within, 250 ms apart, and
// returns its proof. masked names the key in the error.
func ProbeDead(ctx context.Context, now func() time.Time, sleep func(context.Context, time.Duration) error, within time.Duration,
	masked string, once func(ctx context.Context) (dead bool, proof string, err error)) (string, error) {
	end := now().Add(within)
	var last error
	for {
		dead, proof, err := once(ctx)
		if dead {
			return proof, nil
		}
		if err != nil {
			last = err
		}
		if !now().Before(end) {
			break
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			break
		}
	}
	if last == nil {
		last = errors.New("still accepted")
	}
	return "", &executors.Error{Class: executors.ErrRejected, Op: "probe temporary key " + masked,
		Msg: fmt.Sprintf("not rejected within %s: %v", within, last)}
}

// Cleaner is what DeleteLeftovers needs of a venue.
type Cleaner struct {
	// List lists the keys under a sub-account.
	List func(ctx context.Context, sub string) ([]Listed, error)
	// Match says whether a listed key is the temporary key tk.
	Match func(tk executors.TempKey, k Listed) bool
	// Delete deletes one (audited as delete-temp-key).
	Delete func(ctx context.Context, tk executors.TempKey, apiKey string) error
	// Live reports a key not proven deleted into out.
	Live func(out *Outcome, tk executors.TempKey, err error)
}

// DeleteLeftovers deletes the temporary keys an interrupted run left
// (executors.TempKeyCleaner): each is found by c.Match under its
// sub-account and deleted; a key whose label is no longer listed is gone
// (the private key died with the crashed process, so it cannot be
// probed). It returns the changes, what is left (as c.Live reports it) and
// the errors; the venue words the summary.
func DeleteLeftovers(ctx context.Context, keys []executors.TempKey, c Cleaner) (executors.Result, []error) {
	res := executors.Result{Counts: map[string]int{}}
	var errs []error
	for _, tk := range keys {
		rows, err := c.List(ctx, tk.Sub)
		if err == nil {
			for _, r := range rows {
				if c.Match(tk, r) {
					if derr := c.Delete(ctx, tk, r.APIKey); derr != nil {
						err = derr
					}
				}
			}
		}
		if err == nil {
			// Proof: no key with that label is listed any more.
			if rows, err = c.List(ctx, tk.Sub); err == nil {
				for _, r := range rows {
					if r.Label == tk.Label {
						err = &executors.Error{Class: executors.ErrRejected, Op: "delete temporary key " + tk.Label, Msg: "still listed after delete"}
					}
				}
			}
		}
		if err != nil {
			errs = append(errs, err)
			var out Outcome
			c.Live(&out, tk, err)
			res.Remaining = append(res.Remaining, out.Remain...)
			res.Findings = append(res.Findings, out.Find...)
			res.Manual = append(res.Manual, out.Manual...)
			continue
		}
		res.Changes = append(res.Changes, executors.Change{Kind: "delete-temp-key",
			Target: fmt.Sprintf("sub %s: temporary key %s (%s) of the interrupted run deleted (no longer listed)", tk.Sub, tk.Masked, tk.Label)})
	}
	res.Counts["deleted"], res.Counts["remaining"] = len(res.Changes), len(res.Remaining)
	return res, errs
}
