package kucoin

import (
	"net/http"
	"testing"
)

// TestWeightOfCorrections: the weights EXCHANGES.md C9 corrected (KuCoin
// universal SDK spec) are the ones the pacer counts.
func TestWeightOfCorrections(t *testing.T) {
	tests := []struct {
		venue, method, path string
		want                int
	}{
		{venueSpot, http.MethodGet, "/api/v1/fills", 10},
		{venueSpot, http.MethodGet, "/api/v1/hf/fills", 2},
		{venueSpot, http.MethodDelete, "/api/v1/stop-order/cancel", 3},
		{venueSpot, http.MethodDelete, "/api/v3/oco/orders", 3},
		{venueSpot, http.MethodGet, "/api/v3/oco/orders", 2},
		{venueSpot, http.MethodGet, "/api/v1/stop-order", 8},
		{venueSpot, http.MethodDelete, "/api/v1/hf/orders/cancelAll", 30},
		{venueSpot, http.MethodPost, "/api/v3/accounts/universal-transfer", 4},
		{venueFutures, http.MethodDelete, "/api/v3/orders", 10},
		{venueFutures, http.MethodDelete, "/api/v1/stopOrders", 15},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			if got := weightOf(tt.venue, tt.method, tt.path); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}
