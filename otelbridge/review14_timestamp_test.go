package otelbridge

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// TestBridgeTimestampOutOfRange: a trace.WithTimestamp time that Unix
// nanoseconds in an int64 cannot hold (before 1678 or after 2262, where
// time.Time.UnixNano's result is undefined and wraps) reads the engine's
// clock, as a time before 1970 does: year 1500 wrapped to a time in 2084
// and was exported as the span's start. An end given before the start
// ends the span at its start.
func TestBridgeTimestampOutOfRange(t *testing.T) {
	rc, tp, shutdown := bridgeOverOTLP(t)
	tr := tp.Tracer("t")
	before := time.Now()
	for _, c := range []struct {
		name string
		at   time.Time
	}{
		{"y1500", time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"y1600", time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"y2400", time.Date(2400, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"y1969", time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)},
	} {
		ctx, r := tr.Start(context.Background(), c.name, trace.WithTimestamp(c.at))
		_, n := tr.Start(ctx, c.name, trace.WithTimestamp(c.at))
		n.End(trace.WithTimestamp(c.at))
		r.End(trace.WithTimestamp(c.at))
	}
	start := time.Now().Add(-time.Minute).Truncate(time.Microsecond)
	_, back := tr.Start(context.Background(), "back", trace.WithTimestamp(start))
	back.End(trace.WithTimestamp(start.Add(-time.Hour)))
	after := time.Now()
	shutdown()

	seen := 0
	for _, sp := range receivedSpans(rc) {
		seen++
		s, e := time.Unix(0, int64(sp.StartTimeUnixNano)), time.Unix(0, int64(sp.EndTimeUnixNano))
		if sp.Name == "run:back" {
			if !s.Equal(start) || !e.Equal(start) {
				t.Errorf("run:back: start %v end %v, want both %v (an end before the start is the start)", s, e, start)
			}
			continue
		}
		if s.Before(before) || s.After(after) || e.Before(before) || e.After(after) {
			t.Errorf("%s: start %v end %v, not between %v and %v (the engine's clock)", sp.Name, s, e, before, after)
		}
	}
	if seen != 9 {
		t.Errorf("%d spans seen, want 9", seen)
	}
}
