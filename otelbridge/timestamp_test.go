package otelbridge

import (
	"context"
	"testing"
	"time"

	"github.com/flowtel/flowtel/genai"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// TestBridgeTimestamps: trace.WithTimestamp given to Start and End is the
// span's start and end time, as OpenTelemetry's SDK records it (an
// instrumentation that learns of an operation after the fact, a log
// replay, a queue's enqueue time). The bridge read the engine's clock
// instead. A run span, a node under it, a node under that one and a GenAI
// span with no flowtel parent (a run and a node) carry the given times in
// the spans a real receiver decodes with the official types (a node
// starting before its run is cut to the run's start); events added
// meanwhile keep the engine's clock (now), since WithTimestamp shifts the
// span, not what happens in it. A span given no timestamp keeps the
// engine's clock.
func TestBridgeTimestamps(t *testing.T) {
	rc, tp, shutdown := bridgeOverOTLP(t)
	tr := tp.Tracer("t")
	t0 := time.Now().Add(-time.Hour).Truncate(time.Microsecond)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	before := time.Now()
	ctx, root := tr.Start(context.Background(), "flow", trace.WithTimestamp(at(0)))
	root.AddEvent("in the run")
	cctx, n := tr.Start(ctx, "node", trace.WithTimestamp(at(time.Second)))
	n.AddEvent("in the node")
	_, c := tr.Start(cctx, "child", trace.WithTimestamp(at(2*time.Second)))
	c.End(trace.WithTimestamp(at(3 * time.Second)))
	n.End(trace.WithTimestamp(at(4 * time.Second)))
	_, early := tr.Start(ctx, "early", trace.WithTimestamp(at(-time.Second)))
	early.End(trace.WithTimestamp(at(time.Second / 2)))
	root.End(trace.WithTimestamp(at(5 * time.Second)))

	_, g := tr.Start(context.Background(), "chat m", trace.WithTimestamp(at(10*time.Second)),
		trace.WithAttributes(attribute.String(genai.KeyOperationName, genai.OpChat), attribute.String(genai.KeyRequestModel, "m")))
	g.End(trace.WithTimestamp(at(12 * time.Second)))

	_, plain := tr.Start(context.Background(), "plain")
	plain.End()
	after := time.Now()
	shutdown()

	type span struct{ start, end time.Duration }
	want := map[string]span{
		"run:flow":        {0, 5 * time.Second},
		"run_node:node":   {time.Second, 4 * time.Second},
		"run_node:child":  {2 * time.Second, 3 * time.Second},
		"run_node:early":  {0, time.Second / 2}, // cut to its run's start
		"run:chat m":      {10 * time.Second, 12 * time.Second},
		"run_node:chat m": {10 * time.Second, 12 * time.Second},
	}
	seen := 0
	for _, sp := range receivedSpans(rc) {
		if sp.Name == "run:plain" {
			seen++
			if s := time.Unix(0, int64(sp.StartTimeUnixNano)); s.Before(before) || s.After(after) {
				t.Errorf("run:plain starts at %v, not between %v and %v (the engine's clock)", s, before, after)
			}
			continue
		}
		w, ok := want[sp.Name]
		if !ok {
			t.Errorf("unexpected span %q", sp.Name)
			continue
		}
		seen++
		if s, e := int64(sp.StartTimeUnixNano), int64(sp.EndTimeUnixNano); s != at(w.start).UnixNano() || e != at(w.end).UnixNano() {
			t.Errorf("%s: start %v end %v, want %v and %v", sp.Name, time.Unix(0, s).Sub(t0), time.Unix(0, e).Sub(t0), w.start, w.end)
		}
		for _, ev := range sp.Events {
			if et := time.Unix(0, int64(ev.TimeUnixNano)); et.Before(before) || et.After(after) {
				t.Errorf("%s: event %q at %v, not between %v and %v (the engine's clock)", sp.Name, ev.Name, et, before, after)
			}
		}
	}
	if seen != len(want)+1 {
		t.Errorf("%d spans seen, want %d", seen, len(want)+1)
	}
}

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
