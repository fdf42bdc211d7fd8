package accounts

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// Resolver reads the credentials of accounts.
type Resolver struct {
	// Getenv reads env sources (nil: os.Getenv).
	Getenv func(string) string
	// Home expands "~" in file sources.
	Home string
	// CommandTimeout bounds each command source (0: 10s).
	CommandTimeout time.Duration
}

// maxConcurrentReads bounds how many credential sources (secret helper
// commands, files) are read at once, across every account of a call.
const maxConcurrentReads = 16

// Resolve reads every credential of e and returns the account ready for an
// executor. Every credential is tried, concurrently: sources that hang cost
// one CommandTimeout together, not one each. The error joins one line per
// problem, in the order of the entry's fields, each naming the account and
// the source, never a value. A cancelled ctx is returned as such
// (errors.Is(err, context.Canceled)).
func (r Resolver) Resolve(ctx context.Context, f *File, e Entry) (executors.Account, error) {
	accts, errs := r.ResolveAll(ctx, f, []Entry{e})
	return accts[0], errs[0]
}

// ResolveAll resolves every entry as Resolve does, all at once: the
// credentials of several accounts are read concurrently, so a run over ten
// accounts whose secret helpers hang fails after one CommandTimeout, not
// ten. accts[i] and errs[i] belong to entries[i]; accts[i] is zero when
// errs[i] is not nil.
func (r Resolver) ResolveAll(ctx context.Context, f *File, entries []Entry) (accts []executors.Account, errs []error) {
	dir := "."
	if f != nil && f.Path != "" {
		dir = filepath.Dir(f.Path)
	}
	sem := make(chan struct{}, maxConcurrentReads)
	accts = make([]executors.Account, len(entries))
	errs = make([]error, len(entries))
	var wg sync.WaitGroup
	for i, e := range entries {
		wg.Go(func() { accts[i], errs[i] = r.resolve(ctx, dir, e, sem) })
	}
	wg.Wait()
	return accts, errs
}

// resolve reads every source of e concurrently, at most cap(sem) at once
// across all callers sharing sem.
func (r Resolver) resolve(ctx context.Context, dir string, e Entry, sem chan struct{}) (executors.Account, error) {
	acct := executors.Account{
		Name:           e.Name,
		Exchange:       e.Exchange,
		Tags:           slices.Clone(e.Tags),
		KeyType:        e.KeyType,
		KeyVersion:     e.KeyVersion,
		BaseURL:        e.BaseURL,
		FuturesBaseURL: e.FuturesBaseURL,
	}
	for _, sk := range e.SubKeys {
		acct.SubKeys = append(acct.SubKeys, executors.SubKey{Sub: sk.Sub, APIKey: sk.APIKey, KeyType: sk.KeyType})
	}
	type job struct {
		field string
		src   *Source
		dst   *secret.Value
	}
	jobs := []job{
		{"api_key", e.APIKey, &acct.APIKey},
		{"secret", e.Secret, &acct.Secret},
		{"passphrase", e.Passphrase, &acct.Passphrase},
	}
	for i, sk := range e.SubKeys {
		jobs = append(jobs, job{fmt.Sprintf("sub_keys[%s].passphrase", sk.Sub), sk.Passphrase, &acct.SubKeys[i].Passphrase},
			job{fmt.Sprintf("sub_keys[%s].secret", sk.Sub), sk.Secret, &acct.SubKeys[i].Secret})
	}
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		if j.src == nil {
			continue
		}
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				errs[i] = fmt.Errorf("account %s: %s: %w", e.Name, j.field, srcErr(ctx.Err(), "%s", j.src.Describe()))
				return
			}
			v, err := r.read(ctx, j.src, dir)
			if err != nil {
				errs[i] = fmt.Errorf("account %s: %s: %w", e.Name, j.field, err)
				return
			}
			*j.dst = secret.New(v)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return executors.Account{}, err
	}
	return acct, nil
}
