package executors

import (
	"fmt"
	"sort"
)

// Driver is one exchange implementation.
type Driver struct {
	Exchange string
	// Actions lists the catalog actions the driver supports (Local actions
	// need not be listed).
	Actions []string
	// KeyTypes lists accepted Account.KeyType values; empty means any.
	KeyTypes []string
	New      func(acct Account, env Env) (Executor, error)
}

// Supports reports whether the driver implements action (local actions are
// always supported).
func (d Driver) Supports(action string) bool {
	if spec, ok := Lookup(action); ok && spec.Local {
		return true
	}
	for _, a := range d.Actions {
		if a == action {
			return true
		}
	}
	return false
}

// Registry maps exchange names to drivers. It is filled explicitly (see
// internal/cli), never by init().
type Registry struct {
	drivers map[string]Driver
}

// NewRegistry returns a registry holding ds.
func NewRegistry(ds ...Driver) *Registry {
	r := &Registry{drivers: map[string]Driver{}}
	for _, d := range ds {
		r.Register(d)
	}
	return r
}

// Register adds d, replacing any driver of the same exchange.
func (r *Registry) Register(d Driver) { r.drivers[d.Exchange] = d }

// Driver returns the driver for exchange.
func (r *Registry) Driver(exchange string) (Driver, bool) {
	d, ok := r.drivers[exchange]
	return d, ok
}

// Exchanges lists registered exchange names, sorted.
func (r *Registry) Exchanges() []string {
	out := make([]string, 0, len(r.drivers))
	for n := range r.drivers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Supports reports whether exchange supports action.
func (r *Registry) Supports(exchange, action string) bool {
	d, ok := r.drivers[exchange]
	return ok && d.Supports(action)
}

// New builds the executor for acct.
func (r *Registry) New(acct Account, env Env) (Executor, error) {
	d, ok := r.drivers[acct.Exchange]
	if !ok {
		return nil, fmt.Errorf("account %s: unknown exchange %q (known: %v)", acct.Name, acct.Exchange, r.Exchanges())
	}
	return d.New(acct, env.Defaults())
}
