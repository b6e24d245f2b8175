package main

import (
	"math"
	"strings"
	"testing"
)

// TestLimiterTinyRate gives the limiter rates so low that a run's start,
// in nanoseconds, no longer fits an int64 (-rate=1e-300: one run in
// 1e309 ns): claim converted the float to int64 out of its range, which
// on amd64 is math.MinInt64, a start long past, so every run started at
// once and -rate=1e-300 ran as -rate=0 (49,678 runs in 300 ms). A start
// past the int64 range is never: claim saturates. -rate=+Inf is refused
// (its interval of 0 made due NaN, unbounded by accident of the same
// conversion; -rate=0 says unbounded).
func TestLimiterTinyRate(t *testing.T) {
	for _, rate := range []float64{1e-300, 1e-11, 5e-324} {
		for _, ramp := range []float64{0, 1e9} {
			l := &limiter{interval: 1e9 / rate, ramp: ramp}
			prev := int64(0)
			for k := 0; k < 4; k++ {
				due := l.claim()
				if due < prev {
					t.Fatalf("-rate=%g ramp %v: run %d due at %d ns, before run %d at %d", rate, ramp, k, due, k-1, prev)
				}
				if k > 0 && due != math.MaxInt64 {
					t.Errorf("-rate=%g ramp %v: run %d due at %d ns, want never (math.MaxInt64)", rate, ramp, k, due)
				}
				prev = due
			}
		}
	}
	var out, errb strings.Builder
	if code := run([]string{"-rate=+Inf", "-workload=synthetic", "-duration=50ms", "-progress=false"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "-rate") {
		t.Errorf("-rate=+Inf: exit %d, %q; want 2 and an error naming -rate (0 is unbounded)", code, errb.String())
	}
}
