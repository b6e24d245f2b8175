package engine

import (
	"errors"
	"strings"
	"testing"
)

// TestTailSlowestFractionNeedsRunRequests: TailPolicy.SlowestFraction
// reads each flow's quantile from the runs' request histogram, which
// MetricsConfig.SkipRunRequests leaves the runs out of, and the quantile
// then answered "not slow" for every run (flowQuantiles.get): New took
// both, and every run the rule was set to keep was sampled out, the
// slowest too. New refuses the pair, naming both settings; a policy
// without SlowestFraction, and SlowestFraction without the skip, are
// still taken.
func TestTailSlowestFractionNeedsRunRequests(t *testing.T) {
	skip := WithMetrics(MetricsConfig{SkipRunRequests: true})
	for _, p := range []TailPolicy{
		{SlowestFraction: 0.01},
		{KeepErrors: true, Rules: []TailRule{{AppID: "a", Policy: TailPolicy{SlowestFraction: 0.5}}}},
	} {
		e, err := New(skip, WithTailSampling(p))
		if e != nil {
			e.Shutdown(t.Context())
		}
		if !errors.Is(err, ErrInvalidSampler) || !strings.Contains(err.Error(), "SlowestFraction") || !strings.Contains(err.Error(), "SkipRunRequests") {
			t.Errorf("New(SkipRunRequests, %+v) = %v, want ErrInvalidSampler naming SlowestFraction and SkipRunRequests", p, err)
		}
	}
	for _, opts := range [][]Option{
		{skip, WithTailSampling(TailPolicy{KeepErrors: true, SlowerThan: 1})},
		{WithTailSampling(TailPolicy{SlowestFraction: 0.01})},
	} {
		e, err := New(opts...)
		if err != nil {
			t.Fatal(err)
		}
		e.Shutdown(t.Context())
	}
}
