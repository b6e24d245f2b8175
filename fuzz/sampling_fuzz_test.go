package fuzz

import (
	"math"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/internal/sampling"
)

// FuzzThreshold checks, for any probability, that the threshold round-trips
// through its th encoding (1 to 14 lower-case hex digits), keeps nothing
// it should not (below 2^56), and keeps 4 significant hex digits of the
// fraction kept and of the fraction rejected, as OpenTelemetry's reference
// algorithm rounds (while 14 digits hold them).
func FuzzThreshold(f *testing.F) {
	for _, p := range []float64{1, 0.5, 0.1, 0.01, 0.95, 0.99, 0.9999, 0.999995, 1e-12, sampling.MinProbability, 1 - 0x1p-53} {
		f.Add(math.Float64bits(p))
	}
	f.Fuzz(func(t *testing.T, bits uint64) {
		p := math.Float64frombits(bits)
		th, err := sampling.ThresholdFromProbability(p)
		if err != nil {
			if p >= sampling.MinProbability && p <= 1 {
				t.Fatalf("p=%v refused: %v", p, err)
			}
			return
		}
		if th >= sampling.MaxThreshold {
			t.Fatalf("p=%v: threshold %x keeps nothing", p, th)
		}
		enc := sampling.AppendTh(nil, th)
		if len(enc) < 1 || len(enc) > 14 {
			t.Fatalf("p=%v: th:%s", p, enc)
		}
		if back, ok := sampling.ParseTh(string(enc)); !ok || back != th {
			t.Fatalf("p=%v: th:%s parses as %x, %v; want %x", p, enc, back, ok, th)
		}
		if q := min(p, 1-p); q >= 0x1p-40 {
			if rel := math.Abs(sampling.Probability(th)-p) / q; rel > 1.0/8192+0x1p-56/q {
				t.Fatalf("p=%v: th:%s keeps %v, relative error %v", p, enc, sampling.Probability(th), rel)
			}
		}
	})
}

// FuzzOTValue checks that SetThreshold on any ot value sets (or removes)
// th and nothing else: the result parses with the threshold given, or
// without th, keeps rv, and stays within the 256 characters of a
// tracestate value, else comes back unchanged with ok false.
func FuzzOTValue(f *testing.F) {
	f.Add("th:8;rv:0123456789abcd;x:y", uint64(1<<55), true)
	f.Add("th:8;th:9", uint64(0), false)
	f.Add("rv:zz;th:;x", uint64(5), true)
	f.Fuzz(func(t *testing.T, v string, th uint64, set bool) {
		th &= sampling.MaxThreshold - 1
		before := sampling.ParseOT(v)
		out, ok := sampling.SetThreshold(v, th, set)
		if !ok {
			if out != v {
				t.Fatalf("SetThreshold(%q) failed and changed it to %q", v, out)
			}
			return
		}
		if out != v && len(out) > 256 {
			t.Fatalf("SetThreshold(%q) = %d characters", v, len(out))
		}
		after := sampling.ParseOT(out)
		if set && (!after.HasTh || after.Th != th) {
			t.Fatalf("SetThreshold(%q, %x) = %q: th %x, %v", v, th, out, after.Th, after.HasTh)
		}
		if !set && strings.Contains(";"+out, ";th:") {
			t.Fatalf("SetThreshold(%q, unset) = %q", v, out)
		}
		if after.HasRv != before.HasRv || after.Rv != before.Rv {
			t.Fatalf("SetThreshold(%q) = %q changed rv", v, out)
		}
	})
}
