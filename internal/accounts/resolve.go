package accounts

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
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

// Resolve reads every credential of e and returns the account ready for an
// executor. Every credential is tried; the error joins one line per
// problem, each naming the account and the source, never a value. A
// cancelled ctx is returned as such (errors.Is(err, context.Canceled)).
func (r Resolver) Resolve(ctx context.Context, f *File, e Entry) (executors.Account, error) {
	dir := "."
	if f != nil && f.Path != "" {
		dir = filepath.Dir(f.Path)
	}
	acct := executors.Account{
		Name:           e.Name,
		Exchange:       e.Exchange,
		Tags:           slices.Clone(e.Tags),
		KeyType:        e.KeyType,
		KeyVersion:     e.KeyVersion,
		BaseURL:        e.BaseURL,
		FuturesBaseURL: e.FuturesBaseURL,
	}
	var errs []error
	get := func(field string, s *Source) secret.Value {
		if s == nil {
			return secret.Value{}
		}
		v, err := r.read(ctx, s, dir)
		if err != nil {
			errs = append(errs, fmt.Errorf("account %s: %s: %w", e.Name, field, err))
			return secret.Value{}
		}
		return secret.New(v)
	}
	acct.APIKey = get("api_key", e.APIKey)
	acct.Secret = get("secret", e.Secret)
	acct.Passphrase = get("passphrase", e.Passphrase)
	for _, sk := range e.SubKeys {
		acct.SubKeys = append(acct.SubKeys, executors.SubKey{
			Sub:        sk.Sub,
			APIKey:     sk.APIKey,
			Passphrase: get(fmt.Sprintf("sub_keys[%s].passphrase", sk.Sub), sk.Passphrase),
		})
	}
	if err := errors.Join(errs...); err != nil {
		return executors.Account{}, err
	}
	return acct, nil
}
