package encode

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// TestUsageAddSaturates checks Add and AddSaturating against the exact
// sum (math/big): each
// field is the sum when it fits in int64, else the bound on its side.
func TestUsageAddSaturates(t *testing.T) {
	hi, lo := big.NewInt(math.MaxInt64), big.NewInt(math.MinInt64)
	want := func(a, b int64) int64 {
		s := new(big.Int).Add(big.NewInt(a), big.NewInt(b))
		if s.Cmp(hi) > 0 {
			return math.MaxInt64
		}
		if s.Cmp(lo) < 0 {
			return math.MinInt64
		}
		return s.Int64()
	}
	edges := []int64{0, 1, -1, 10, math.MaxInt64, math.MaxInt64 - 10, math.MinInt64, math.MinInt64 + 10}
	r := rand.New(rand.NewPCG(1, 2))
	vals := append([]int64(nil), edges...)
	for range 64 {
		vals = append(vals, int64(r.Uint64()))
	}
	for _, a := range vals {
		for _, b := range vals {
			got, held := Usage{a, a, a, a}.AddSaturating(Usage{b, b, b, b})
			w := want(a, b)
			wantHeld := 0
			if w != a+b {
				wantHeld = 4
			}
			if got != (Usage{w, w, w, w}) || held != wantHeld || got != (Usage{a, a, a, a}).Add(Usage{b, b, b, b}) {
				t.Fatalf("Usage{%d}.AddSaturating(%d) = %+v, %d, want each %d, %d", a, b, got, held, w, wantHeld)
			}
		}
	}
	if got := (Usage{PromptTokens: math.MaxInt64 - 10}).Add(Usage{PromptTokens: math.MaxInt64 - 10}); got.PromptTokens != math.MaxInt64 {
		t.Fatalf("two prompts of MaxInt64-10 add to %d, want MaxInt64", got.PromptTokens)
	}
}
