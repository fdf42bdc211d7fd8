package binance_test

import (
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkEmulatorBinance measures signed requests per second on
// loopback with no injected latency (GET /api/v3/openOrders for one
// symbol: HMAC check, weight accounting, request log, JSON answer).
func BenchmarkEmulatorBinance(b *testing.B) {
	h := newHarness(b, withLimits(b, "{api_weight_1m: 2000000000}"), testState)
	m := h.creds("acme-master")
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var failed atomic.Int64
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			qs := url.Values{"symbol": {"ETHUSDT"}, "timestamp": {strconv.FormatInt(time.Now().UnixMilli(), 10)}}.Encode()
			qs += "&signature=" + hmacHex(m.Secret, qs)
			req, _ := http.NewRequest(http.MethodGet, h.base+"/api/v3/openOrders?"+qs, nil)
			req.Header.Set("X-MBX-APIKEY", m.APIKey)
			resp, err := cl.Do(req)
			if err != nil {
				failed.Add(1)
				continue
			}
			if resp.StatusCode != 200 {
				failed.Add(1)
			}
			resp.Body.Close()
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d requests failed", n, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
}
