package engine

import (
	"errors"
	"strings"
	"testing"
)

// TestTailSamplingErrorOnePrefix holds New's refusals of a tail policy to
// docs/design.md's rule for errors: the sentinel's message first, with its
// package's name, then what was refused, never a second prefix.
func TestTailSamplingErrorOnePrefix(t *testing.T) {
	for _, c := range []struct {
		name, setting string
		opts          []Option
	}{
		{"ratio out of range", "Ratio", []Option{WithTailSampling(TailPolicy{Ratio: 2})}},
		{"slowest without run requests", "SlowestFraction", []Option{WithTailSampling(TailPolicy{SlowestFraction: 0.1}),
			WithMetrics(MetricsConfig{SkipRunRequests: true})}},
		{"run logs to a sink without them", "RunLogAlways", []Option{WithSink(spansOnlySink{}),
			WithTailSampling(TailPolicy{RunLogAlways: true})}},
	} {
		e, err := New(c.opts...)
		if e != nil {
			e.Shutdown(t.Context())
		}
		if !errors.Is(err, ErrInvalidSampler) {
			t.Errorf("%s: New = %v, want ErrInvalidSampler", c.name, err)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, ErrInvalidSampler.Error()+": ") || strings.Count(msg, "engine:") != 1 || !strings.Contains(msg, c.setting) {
			t.Errorf("%s: %q, want %q once, then the refused %s", c.name, msg, ErrInvalidSampler.Error()+": ", c.setting)
		}
	}
}
