package otelbridge

import (
	"context"
	"errors"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowtel/flowtel/engine"
)

// TestBridgeDroppedAttrsOnSpan: the attributes the bridge drops (of
// events and RecordError under a key the event writes itself, empty keys,
// a RunInfo key set after start) were
// counted in the provider's Stats only, nowhere a trace backend shows.
// They now count in the span's dropped_attributes_count too, as OTLP
// does, on the spans the tracer starts and on those of ContextWithRun
// and ContextWithNode. Read by a real receiver with the official decoder.
func TestBridgeDroppedAttrsOnSpan(t *testing.T) {
	rc, tp, shutdown := bridgeOverOTLP(t)
	drop := func(s trace.Span) { // 3 attributes dropped (the events keep a and b)
		s.AddEvent("x", trace.WithAttributes(attribute.Int("a", 1), attribute.String("INFO LOG", "not the name")))
		s.RecordError(errors.New("boom"), trace.WithAttributes(attribute.Int("b", 2), attribute.String("exception.message", "not the message")))
		s.SetAttributes(attribute.String("", "empty key"))
	}
	ctx, root := tp.Tracer("t").Start(context.Background(), "flow", trace.WithAttributes(attribute.String("", "at start")))
	root.SetAttributes(attribute.String("app_id", "late")) // the run span's own key
	_, n := tp.Tracer("t").Start(ctx, "node")
	drop(n)
	n.End()
	root.End()

	run := tp.e.StartRun(engine.RunInfo{FlowID: "ctx"})
	node := run.StartNode("cnode", "span", "cnode")
	drop(trace.SpanFromContext(ContextWithRun(context.Background(), run)))
	drop(trace.SpanFromContext(ContextWithNode(context.Background(), node)))
	node.End()
	run.End(0, "")
	st := tp.Stats()
	shutdown()

	want := map[string]uint32{"run:flow": 2, "run_node:node": 3, "run:ctx": 3, "run_node:cnode": 3}
	got := map[string]uint32{}
	for _, sp := range receivedSpans(rc) {
		got[sp.Name] = sp.DroppedAttributesCount
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: dropped_attributes_count %d, want %d (all %v)", name, got[name], w, got)
		}
	}
	if st.EventAttrsDropped != 6 || st.InvalidAttrsDropped != 4 || st.RunAttrsDropped != 1 {
		t.Errorf("Stats %+v, want 6 event, 4 invalid, 1 run attributes dropped", st)
	}
}
