package sampling

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestThresholdExtremes holds the thresholds of probabilities near 1 and
// near 2^-56 to what OpenTelemetry's consistent samplers write for them
// (the specification's reference algorithm: a digit more for each leading
// hex 0 of p and each leading f of the threshold, up to 14). With 4 digits
// whatever 1-p, 0.99 was th:028f where OpenTelemetry writes th:028f6 (two
// services at the same ratio disagreed on the traces between them),
// 0.9999 kept 0.99989, and 0.999995 became th:0, keeping every trace.
func TestThresholdExtremes(t *testing.T) {
	for _, tt := range []struct {
		p    float64
		want string
	}{
		{0.9, "199a"}, {0.95, "0cccd"}, {0.99, "028f6"}, {0.999, "004189"},
		{0.9999, "00068dc"}, {0.999995, "000053e3"}, {1e-12, "fffffffffee68"},
		{1e-15, "ffffffffffffb8"}, {MinProbability, "ffffffffffffff"},
	} {
		th, err := ThresholdFromProbability(tt.p)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(AppendTh(nil, th)); got != tt.want {
			t.Errorf("p=%v: th:%s, want th:%s", tt.p, got, tt.want)
		}
	}
	// Whatever p, the fraction kept and the fraction rejected are both
	// within 4 significant hex digits of what was asked (half a unit of
	// the 4th digit: a relative error under 16^-3/2, plus the rounding of
	// p to a multiple of 2^-56), as long as 14 digits hold them (p and 1-p
	// above 2^-40).
	r := rand.New(rand.NewPCG(7, 16))
	for range 200000 {
		p := math.Ldexp(r.Float64(), -r.IntN(40))
		if r.IntN(2) == 0 {
			p = 1 - p
		}
		if p < 0x1p-40 || 1-p < 0x1p-40 {
			continue
		}
		th, err := ThresholdFromProbability(p)
		if err != nil {
			t.Fatal(err)
		}
		got := Probability(th)
		if rel := math.Abs(got-p) / min(p, 1-p); rel > 1.0/8192+0x1p-56/min(p, 1-p) {
			t.Fatalf("p=%v: th:%s keeps %v, relative error %v", p, AppendTh(nil, th), got, rel)
		}
	}
}
