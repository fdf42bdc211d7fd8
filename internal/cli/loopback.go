package cli

import (
	"fmt"
	"net"
	"net/http"
)

// loopbackOnly refuses every request to a host that is not on loopback. It
// is installed when PANICBUTTON_LOOPBACK_ONLY is set (the test harness sets
// it), so that no test can ever reach a real exchange.
type loopbackOnly struct{ base http.RoundTripper }

func (l loopbackOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	host := r.URL.Hostname()
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("refusing to contact %s: PANICBUTTON_LOOPBACK_ONLY is set", host)
	}
	return l.base.RoundTrip(r)
}
