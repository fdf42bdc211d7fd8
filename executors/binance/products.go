package binance

import (
	"context"
	"slices"
	"sync"

	gobinance "github.com/adshao/go-binance/v2"

	"github.com/panicbutton/panicbutton/executors"
)

// resolveAndList resolves the products parameter and lists the open orders
// of those products. When the products come from the key's permissions,
// the permissions call and the listing of every product go out together
// (one round trip instead of two): the listings of products the key turns
// out not to have are dropped, errors included, and those products are
// named in the product set's findings ("skipped: no permission"), exactly
// as when the listing waited for the permissions.
func (e *Executor) resolveAndList(ctx context.Context, p executors.Params, symbols []string) (productSet, listing, error) {
	if len(p.Strings("products")) > 0 {
		ps, err := e.resolveProducts(ctx, p)
		if err != nil {
			return productSet{}, listing{}, err
		}
		ps = e.withoutOff(ps)
		return ps, e.listEach(ctx, ps, symbols), nil
	}
	var (
		perm    *gobinance.APIKeyPermission
		permErr error
		all     listing
		wg      sync.WaitGroup
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		perm, permErr = e.apiRestrictions(ctx, "read key permissions")
	}()
	go func() {
		defer wg.Done()
		all = e.listEach(ctx, e.withoutOff(productSet{list: productOrder, derived: true}), symbols)
	}()
	wg.Wait()
	if permErr != nil {
		return productSet{}, listing{}, permErr
	}
	ps := e.withoutOff(e.productsFromPermission(perm))
	return ps, all.only(ps.list), nil
}

// withoutOff drops from ps the products the executor knows cannot hold an
// order (Executor.off: a sub-account's margin or futures disabled). The
// result's summary names the products it did list.
func (e *Executor) withoutOff(ps productSet) productSet {
	if len(e.off) == 0 {
		return ps
	}
	var kept []string
	for _, x := range ps.list {
		if _, ok := e.off[x]; !ok {
			kept = append(kept, x)
		}
	}
	ps.list = kept
	return ps
}

// only returns the part of l about products.
func (l listing) only(products []string) listing {
	out := listing{errs: map[string]error{}}
	for _, o := range l.orders {
		if slices.Contains(products, o.Product) {
			out.orders = append(out.orders, o)
		}
	}
	for _, f := range l.findings {
		if slices.Contains(products, f.Subject) || !slices.Contains(productOrder, f.Subject) {
			out.findings = append(out.findings, f)
		}
	}
	for _, p := range l.listed {
		if slices.Contains(products, p) {
			out.listed = append(out.listed, p)
		}
	}
	for _, p := range l.failed {
		if slices.Contains(products, p) {
			out.failed = append(out.failed, p)
			out.errs[p] = l.errs[p]
		}
	}
	return out
}

// both runs a and b concurrently and returns the first one's error, else
// the second's.
func both(a, b func() error) error {
	var errB error
	done := make(chan struct{})
	go func() {
		defer close(done)
		errB = b()
	}()
	errA := a()
	<-done
	if errA != nil {
		return errA
	}
	return errB
}
