package otelbridge

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// kvMap returns the attributes as key → anyString(value).
func kvMap(kvs []*commonpb.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[kv.Key] = anyString(kv.Value)
	}
	return m
}

// spanNamed returns the received span named name, failing without one.
func spanNamed(t *testing.T, spans []*tracepb.Span, name string) *tracepb.Span {
	t.Helper()
	for _, sp := range spans {
		if sp.Name == name {
			return sp
		}
	}
	t.Fatalf("no span %q received", name)
	return nil
}

// TestBridgeEventAttributes: AddEvent's attributes are kept on a node
// span and on a run span, as engine.Node.InfoEvent keeps an event given
// as data: the span event INFO carries the event's name under "INFO LOG",
// as an event without attributes does, then its attributes (an empty key
// dropped and counted as SetAttributes drops it). RecordError's
// attributes are kept beside exception.type and exception.message, as
// OpenTelemetry's SDK keeps them. A run span's event attributes and
// RecordError's were dropped and counted in Stats.EventAttrsDropped.
// Over otlp's sink, a real receiver and the official decoder.
func TestBridgeEventAttributes(t *testing.T) {
	rc, tp, shutdown := bridgeOverOTLP(t)
	tr := tp.Tracer("t")
	ctx, root := tr.Start(context.Background(), "flow")
	root.AddEvent("on the run", trace.WithAttributes(attribute.String("a", "1"), attribute.Int("b", 2)))
	root.RecordError(errors.New("run boom"), trace.WithAttributes(attribute.String("where", "run")))
	_, n := tr.Start(ctx, "node")
	n.AddEvent("cache hit", trace.WithAttributes(attribute.String("cache.key", "k1"), attribute.Int("cache.size", 3),
		attribute.String("", "no key"), attribute.StringSlice("tags", []string{"x", "y"})))
	n.AddEvent("plain")
	n.RecordError(errors.New("boom"), trace.WithAttributes(attribute.String("retry", "yes")))
	n.End()
	root.End()
	shutdown()

	if st := tp.Stats(); st.EventAttrsDropped != 0 || st.InvalidAttrsDropped != 1 {
		t.Errorf("EventAttrsDropped %d (want 0), InvalidAttrsDropped %d (want 1, the empty key)",
			st.EventAttrsDropped, st.InvalidAttrsDropped)
	}
	spans := receivedSpans(rc)
	nd := spanNamed(t, spans, "run_node:node")
	if len(nd.Events) != 3 {
		t.Fatalf("node: %d events, want 3", len(nd.Events))
	}
	if got, want := kvMap(nd.Events[0].Attributes), map[string]string{"INFO LOG": "cache hit", "cache.key": "k1", "cache.size": "3",
		"tags": `["x","y"]`}; !maps.Equal(got, want) {
		t.Errorf("cache hit event: %v, want %v", got, want)
	}
	if nd.Events[0].Name != "INFO" || nd.Events[1].Name != "INFO" || len(nd.Events[1].Attributes) != 1 {
		t.Errorf("events %q %q, the plain one with %d attributes", nd.Events[0].Name, nd.Events[1].Name, len(nd.Events[1].Attributes))
	}
	if got, want := kvMap(nd.Events[2].Attributes), map[string]string{"exception.type": "*errors.errorString",
		"exception.message": "boom", "retry": "yes"}; nd.Events[2].Name != "exception" || !maps.Equal(got, want) {
		t.Errorf("node exception event %q: %v, want %v", nd.Events[2].Name, got, want)
	}
	if nd.DroppedAttributesCount != 1 {
		t.Errorf("node span dropped_attributes_count %d, want 1 (the empty key)", nd.DroppedAttributesCount)
	}
	run := spanNamed(t, spans, "run:flow")
	if len(run.Events) != 2 {
		t.Fatalf("run: %d events, want 2", len(run.Events))
	}
	if got, want := kvMap(run.Events[0].Attributes), map[string]string{"INFO LOG": "on the run", "a": "1", "b": "2"}; !maps.Equal(got, want) {
		t.Errorf("run event: %v, want %v", got, want)
	}
	if got := kvMap(run.Events[1].Attributes); got["where"] != "run" || got["exception.message"] != "run boom" || len(got) != 3 {
		t.Errorf("run exception event: %v, want where=run beside exception.type and exception.message", got)
	}
	if run.DroppedAttributesCount != 0 {
		t.Errorf("run span dropped_attributes_count %d, want 0", run.DroppedAttributesCount)
	}
}

// TestBridgeRecordErrorAttrsAsSDK: RecordError's attributes, as
// OpenTelemetry's SDK records them on its exception event beside
// exception.type and exception.message, with a key given twice once (its
// last value) and exception.* given by the caller not replacing the
// event's own (SDK: both written, the caller's first; OTLP's keys are
// unique, so the bridge keeps the event's and counts the caller's).
func TestBridgeRecordErrorAttrsAsSDK(t *testing.T) {
	err := errors.New("boom")
	opts := []trace.EventOption{trace.WithAttributes(attribute.String("retry", "no"), attribute.Int("attempt", 3),
		attribute.String("retry", "yes"))}

	rec := tracetest.NewSpanRecorder()
	sdk := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	_, ss := sdk.Tracer("t").Start(context.Background(), "s")
	ss.RecordError(err, opts...)
	ss.End()
	want := map[string]string{}
	for _, kv := range rec.Ended()[0].Events()[0].Attributes {
		want[string(kv.Key)] = kv.Value.String()
	}

	rc, tp, shutdown := bridgeOverOTLP(t)
	ctx, root := tp.Tracer("t").Start(context.Background(), "flow")
	_, n := tp.Tracer("t").Start(ctx, "node")
	n.RecordError(err, opts...)
	n.RecordError(err, trace.WithAttributes(attribute.String("exception.message", "mine"), attribute.String("k", "v")))
	n.End()
	root.End()
	shutdown()

	nd := spanNamed(t, receivedSpans(rc), "run_node:node")
	if len(nd.Events) != 2 {
		t.Fatalf("%d events, want 2", len(nd.Events))
	}
	if got := kvMap(nd.Events[0].Attributes); !maps.Equal(got, want) || len(nd.Events[0].Attributes) != len(want) {
		t.Errorf("exception event %v (%d attributes), want the SDK's %v", got, len(nd.Events[0].Attributes), want)
	}
	got := kvMap(nd.Events[1].Attributes)
	if got["exception.message"] != "boom" || got["k"] != "v" || len(nd.Events[1].Attributes) != 3 {
		t.Errorf("exception event %v: want the error's message once and k", got)
	}
	if st := tp.Stats(); st.EventAttrsDropped != 1 || nd.DroppedAttributesCount != 1 {
		t.Errorf("EventAttrsDropped %d, dropped_attributes_count %d: want 1 (the caller's exception.message)",
			st.EventAttrsDropped, nd.DroppedAttributesCount)
	}
}

// TestBridgeEventAttrsBounded: a run span's event attributes and
// RecordError's stay within Limits.EventAttrs (the event's own
// attributes, its name or exception.*, counted in it) and their values
// within Limits.ValueBytes; what is cut counts in the span's
// dropped_attributes_count and the engine's Stats.AttrsDropped.
func TestBridgeEventAttrsBounded(t *testing.T) {
	e, sink := newTestEngine(t, engine.WithLimits(engine.Limits{EventAttrs: 4, ValueBytes: 16}))
	tr := NewTracerProvider(e).Tracer("t")
	kvs := make([]attribute.KeyValue, 10)
	for i := range kvs {
		kvs[i] = attribute.String(string(rune('a'+i)), "a value longer than sixteen bytes")
	}
	ctx, root := tr.Start(context.Background(), "flow")
	root.AddEvent("ev", trace.WithAttributes(kvs...))               // 3 kept beside the name: 7 cut
	root.RecordError(errors.New("x"), trace.WithAttributes(kvs...)) // 2 kept beside type and message: 8 cut
	_, n := tr.Start(ctx, "node")
	n.RecordError(errors.New("x"), trace.WithAttributes(kvs...), trace.WithStackTrace(true)) // 1 kept: 9 cut
	n.End()
	root.End()
	flush(t, e)

	runs := sink.Runs()
	if len(runs) != 1 || len(runs[0].Nodes) != 1 {
		t.Fatalf("%d runs, want 1 of 1 node", len(runs))
	}
	r, nd := runs[0], runs[0].Nodes[0]
	if len(r.Events) != 2 || len(r.Events[0].Attrs) != 4 || len(r.Events[1].Attrs) != 2 {
		t.Fatalf("run events %+v: want 4 and 2 attributes", r.Events)
	}
	for _, a := range slices.Concat(r.Events[0].Attrs[1:], r.Events[1].Attrs) {
		if len(a.Value.Str()) > 16 {
			t.Errorf("run event attribute %s: %d bytes, past Limits.ValueBytes", a.Key, len(a.Value.Str()))
		}
	}
	if r.DroppedAttrs != 15 {
		t.Errorf("run DroppedAttrs %d, want 15", r.DroppedAttrs)
	}
	if len(nd.Events) != 1 || len(nd.Events[0].Attrs) != 1 || nd.Events[0].Stacktrace == "" || nd.DroppedAttrs != 9 {
		t.Errorf("node exception %+v, DroppedAttrs %d: want 1 attribute beside a stack trace, 9 dropped", nd.Events, nd.DroppedAttrs)
	}
	if got := e.Stats().AttrsDropped; got != 24 {
		t.Errorf("engine AttrsDropped %d, want 24", got)
	}
}

// TestBridgeEventTimestamp: AddEvent's and RecordError's own
// trace.WithTimestamp is the event's time, on a run span and a node span,
// as OpenTelemetry's SDK keeps it; the event had the engine's clock. An
// event given none, or a zero time, keeps the engine's clock, as does one
// given only attributes or a stack trace option. Read by a real
// receiver with the official decoder.
func TestBridgeEventTimestamp(t *testing.T) {
	rc, tp, shutdown := bridgeOverOTLP(t)
	tr := tp.Tracer("t")
	at := time.Now().Add(-time.Hour).Truncate(time.Microsecond)
	before := time.Now()
	ctx, root := tr.Start(context.Background(), "flow")
	root.AddEvent("run event", trace.WithTimestamp(at))
	root.RecordError(errors.New("run error"), trace.WithTimestamp(at.Add(time.Second)), trace.WithAttributes(attribute.Int("a", 1)))
	root.AddEvent("run now", trace.WithAttributes(attribute.Int("a", 1)), trace.WithTimestamp(time.Time{}))
	_, n := tr.Start(ctx, "node")
	n.AddEvent("node event", trace.WithTimestamp(at.Add(2*time.Second)), trace.WithAttributes(attribute.Int("a", 1)))
	n.AddEvent("node plain", trace.WithTimestamp(at.Add(3*time.Second)))
	n.RecordError(errors.New("node error"), trace.WithStackTrace(true), trace.WithTimestamp(at.Add(4*time.Second)))
	n.AddEvent("node now", trace.WithStackTrace(false))
	n.End()
	root.End()
	after := time.Now()
	shutdown()

	spans := receivedSpans(rc)
	check := func(sp *tracepb.Span, i int, want time.Time) {
		t.Helper()
		if i >= len(sp.Events) {
			t.Fatalf("%s: %d events", sp.Name, len(sp.Events))
		}
		got := time.Unix(0, int64(sp.Events[i].TimeUnixNano))
		if want.IsZero() {
			if got.Before(before) || got.After(after) {
				t.Errorf("%s event %d at %v, want the engine's clock (between %v and %v)", sp.Name, i, got, before, after)
			}
		} else if !got.Equal(want) {
			t.Errorf("%s event %d at %v, want %v", sp.Name, i, got, want)
		}
	}
	run, nd := spanNamed(t, spans, "run:flow"), spanNamed(t, spans, "run_node:node")
	check(run, 0, at)
	check(run, 1, at.Add(time.Second))
	check(run, 2, time.Time{})
	check(nd, 0, at.Add(2*time.Second))
	check(nd, 1, at.Add(3*time.Second))
	check(nd, 2, at.Add(4*time.Second))
	check(nd, 3, time.Time{})
}

// TestBridgeRunEventsConcurrent: a run span's AddEvent and RecordError
// with attributes and their own times, from many goroutines while nodes
// start and end under the run, keep every event and attribute (go test
// -race checks the record's writes).
func TestBridgeRunEventsConcurrent(t *testing.T) {
	const goroutines, each = 8, 20
	e, sink := newTestEngine(t, engine.WithLimits(engine.Limits{Events: 1024, NodesPerRun: 1024}))
	tr := NewTracerProvider(e).Tracer("t")
	ctx, root := tr.Start(context.Background(), "flow")
	at := time.Now().Add(-time.Minute)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				root.AddEvent("ev", trace.WithAttributes(attribute.Int("g", g), attribute.Int("i", i)), trace.WithTimestamp(at))
				root.RecordError(errors.New("x"), trace.WithAttributes(attribute.Int("g", g)))
				_, n := tr.Start(ctx, "n")
				n.AddEvent("node", trace.WithAttributes(attribute.Int("i", i)))
				n.End()
			}
		})
	}
	wg.Wait()
	root.End()
	flush(t, e)
	runs := sink.Runs()
	if len(runs) != 1 || len(runs[0].Nodes) != goroutines*each {
		t.Fatalf("%d runs, want 1 of %d nodes", len(runs), goroutines*each)
	}
	attrs := 0
	for _, ev := range runs[0].Events {
		attrs += len(ev.Attrs)
		if ev.Kind == encode.EventInfo && ev.TimeUnixNano != at.UnixNano() {
			t.Fatalf("event at %d, want %d", ev.TimeUnixNano, at.UnixNano())
		}
	}
	if n := len(runs[0].Events); n != 2*goroutines*each || attrs != 4*goroutines*each {
		t.Errorf("%d run events with %d attributes, want %d with %d", n, attrs, 2*goroutines*each, 4*goroutines*each)
	}
	if s := e.Stats(); s.StaleCalls != 0 || s.AttrsDropped != 0 {
		t.Errorf("stale calls %d, attributes dropped %d", s.StaleCalls, s.AttrsDropped)
	}
}

// TestBridgeEventAttrsUnique: a node span's event keeps its name under
// "INFO LOG" whatever its attributes: one under that key replaced the
// name (the engine keeps the last value of a key given twice, as
// OpenTelemetry's SDK does), and the receiver saw "forged" where
// AddEvent said "the name". It is dropped and counted in
// Stats.EventAttrsDropped; a key given twice keeps its last value.
func TestBridgeEventAttrsUnique(t *testing.T) {
	rc, tp, shutdown := bridgeOverOTLP(t)
	tr := tp.Tracer("t")
	ctx, root := tr.Start(context.Background(), "flow")
	_, n := tr.Start(ctx, "node")
	n.AddEvent("the name", trace.WithAttributes(attribute.String("k", "1"), attribute.String("INFO LOG", "forged"), attribute.String("k", "2")))
	n.End()
	root.End()
	shutdown()

	if st := tp.Stats(); st.EventAttrsDropped != 1 {
		t.Errorf("EventAttrsDropped %d, want 1 (the attribute under INFO LOG)", st.EventAttrsDropped)
	}
	found := false
	for _, sp := range receivedSpans(rc) {
		if sp.Name != "run_node:node" {
			continue
		}
		found = true
		if len(sp.Events) != 1 {
			t.Fatalf("node: %d events, want 1", len(sp.Events))
		}
		got := map[string][]string{}
		for _, kv := range sp.Events[0].Attributes {
			got[kv.Key] = append(got[kv.Key], anyString(kv.Value))
		}
		if len(got["k"]) != 1 || got["k"][0] != "2" || len(got["INFO LOG"]) != 1 || got["INFO LOG"][0] != "the name" {
			t.Errorf("event attributes %v, want k once (2, the last) and INFO LOG once (the name)", got)
		}
	}
	if !found {
		t.Error("no node span received")
	}
}

// TestBridgeEventAttrsRunLog: the attributes and timestamps of a run
// span's AddEvent and of RecordError (run or node) leave the run trace
// log as it was without them: its status and every node's logs, the
// exception's entry its message (at the event's time). Only a node's
// AddEvent with attributes changes its entry (the dict's text), as
// engine.Node.InfoEvent's does.
func TestBridgeEventAttrsRunLog(t *testing.T) {
	type runLog struct {
		Status json.RawMessage
		Trace  []struct {
			Logs []string
		}
	}
	logOf := func(with bool) runLog {
		e, sink := newTestEngine(t)
		tr := NewTracerProvider(e).Tracer("t")
		opts := []trace.EventOption{trace.WithTimestamp(time.Unix(1700000000, 0))}
		if with {
			opts = append(opts, trace.WithAttributes(attribute.String("a", "1"), attribute.StringSlice("s", []string{"x"})))
		}
		ctx, root := tr.Start(context.Background(), "flow")
		root.AddEvent("on the run", opts...)
		root.RecordError(errors.New("run boom"), opts...)
		_, n := tr.Start(ctx, "node")
		n.RecordError(errors.New("node boom"), opts...)
		n.End()
		root.End()
		flush(t, e)
		runs := sink.Runs()
		if len(runs) != 1 {
			t.Fatalf("%d runs", len(runs))
		}
		var l runLog
		if err := json.Unmarshal(encode.AppendRunLogOptions(nil, &runs[0], &encode.RunLogOptions{Location: time.UTC}), &l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	without, with := logOf(false), logOf(true)
	if string(with.Status) != string(without.Status) || len(with.Trace) != 1 || len(without.Trace) != 1 ||
		!slices.Equal(with.Trace[0].Logs, without.Trace[0].Logs) {
		t.Fatalf("run log with the events' attributes %+v, without %+v", with, without)
	}
	if want := `{"level": "ERROR", "message": "node boom", "time": "2023-11-14 22:13:20"}`; !slices.Equal(with.Trace[0].Logs, []string{want}) {
		t.Errorf("node logs %q, want [%q]", with.Trace[0].Logs, want)
	}
}
