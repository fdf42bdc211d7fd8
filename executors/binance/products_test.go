package binance

import (
	"context"
	"slices"
	"testing"

	"github.com/panicbutton/panicbutton/executors"
)

// resolveProducts with an explicit list never touches the network, so a
// zero Executor is enough.
func TestResolveProducts(t *testing.T) {
	for _, tt := range []struct {
		in   []string
		want []string
	}{
		{[]string{"spot"}, []string{"spot"}},
		{[]string{"margin"}, []string{"margin", "isolated_margin"}},
		{[]string{"isolated_margin"}, []string{"isolated_margin"}},
		{[]string{"futures"}, []string{"usdm", "coinm"}},
		{[]string{"spot", "margin", "futures"}, []string{"spot", "margin", "isolated_margin", "usdm", "coinm"}},
	} {
		ps, err := (&Executor{}).resolveProducts(context.Background(), executors.Params{"products": tt.in})
		if err != nil {
			t.Fatalf("%v: %v", tt.in, err)
		}
		if !slices.Equal(ps.list, tt.want) {
			t.Errorf("products %v -> %v, want %v", tt.in, ps.list, tt.want)
		}
	}
}
