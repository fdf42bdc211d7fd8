package fake

import (
	"math/big"
	"strings"
)

// Amounts are decimal strings, as venues report them; these helpers do
// exact arithmetic on them and keep the larger scale of their operands.

func scale(s string) int {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return len(s) - i - 1
	}
	return 0
}

func rat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return new(big.Rat)
	}
	return r
}

func decOp(a, b string, op func(z, x, y *big.Rat) *big.Rat) string {
	return op(new(big.Rat), rat(a), rat(b)).FloatString(max(scale(a), scale(b)))
}

func decAdd(a, b string) string { return decOp(a, b, (*big.Rat).Add) }

func decSub(a, b string) string { return decOp(a, b, (*big.Rat).Sub) }

// decSign returns -1, 0 or +1.
func decSign(s string) int { return rat(s).Sign() }

// decAbs drops a leading minus sign.
func decAbs(s string) string { return strings.TrimPrefix(s, "-") }
