package otelbridge

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	otelpropagation "go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
)

func nodeByID(t *testing.T, r encode.Run, id string) *encode.Node {
	t.Helper()
	for _, n := range r.Nodes {
		if n.NodeID == id {
			return n
		}
	}
	t.Fatalf("run has no node %q", id)
	return nil
}

func attrOf(as []encode.Attr, key string) (encode.Value, bool) {
	for _, a := range as {
		if a.Key == key {
			return a.Value, true
		}
	}
	return encode.Value{}, false
}

type testErr struct{ msg string }

func (e *testErr) Error() string { return e.msg }

// TestBridgeRunAndNodes drives the bridge as otelhttp would: a server span
// from an extracted remote parent becomes a run, spans under it nodes.
func TestBridgeRunAndNodes(t *testing.T) {
	e, sink := newTestEngine(t)
	tp := NewTracerProvider(e)
	tr := tp.Tracer("otelhttp")

	in := http.Header{"Traceparent": {tpValid}, "Tracestate": {tsValid}, "Baggage": {"k=v"}}
	ctx := otelProp.Extract(context.Background(), otelpropagation.HeaderCarrier(in))
	ctx, server := tr.Start(ctx, "POST /chat", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("app_id", "app1"), attribute.String("uid", "u1"), attribute.String("http.method", "POST")))
	if !server.IsRecording() || server.SpanContext().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || server.SpanContext().TraceState().String() != tsValid {
		t.Fatalf("server span %v", server.SpanContext())
	}
	run, ok := RunFromContext(ctx)
	if !ok || run.SpanContext().SpanID != encode.SpanID(server.SpanContext().SpanID()) {
		t.Fatal("RunFromContext does not give the run")
	}

	cctx, call := tr.Start(ctx, "llm:1", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String(AttrNodeType, "llm"), attribute.String("model", "m1"), attribute.Int64("max_tokens", 100)),
		trace.WithLinks(testLink()))
	call.SetAttributes(attribute.Int("status", 200), attribute.StringSlice("tags", []string{"a", "b"}))
	call.AddEvent("first token", trace.WithAttributes(attribute.Int("n", 1)))
	call.RecordError(&testErr{"boom"})
	call.SetStatus(codes.Error, "model failed")
	call.AddLink(testLink())

	// What a client instrumented with OpenTelemetry would inject.
	out := http.Header{}
	otelProp.Inject(cctx, otelpropagation.HeaderCarrier(out))
	injected := mustExtractHTTP(t, out)
	if injected.SpanID != encode.SpanID(call.SpanContext().SpanID()) || injected.TraceState != tsValid || out.Get("baggage") != "k=v" {
		t.Fatalf("injected %+v, baggage %q", injected, out.Get("baggage"))
	}

	// A span under a node is a node of the run, child of that node.
	_, nested := tr.Start(cctx, "db.query")
	nested.End()
	call.End()
	call.End() // a second End is absorbed by the bridge
	server.SetAttributes(attribute.Int64("code", 7), attribute.String("route", "/chat"))
	server.End()
	if server.IsRecording() {
		t.Fatal("ended span still recording")
	}
	flush(t, e)

	runs := sink.Runs()
	if len(runs) != 1 {
		t.Fatalf("%d runs", len(runs))
	}
	r := runs[0]
	parent := mustExtractHTTP(t, in)
	if r.TraceID != parent.TraceID || r.ParentSpanID != parent.SpanID || r.TraceState != tsValid ||
		r.FlowID != "POST /chat" || r.AppID != "app1" || r.UID != "u1" || r.Code != 7 || r.Status != encode.StatusError {
		t.Fatalf("run %+v", r)
	}
	if v, ok := attrOf(r.Attrs, "http.method"); !ok || v.Str() != "POST" {
		t.Fatalf("run attrs %v", r.Attrs)
	}
	n := nodeByID(t, r, "llm:1")
	if n.NodeType != "llm" || n.SpanID != injected.SpanID || n.Status != encode.StatusError || n.StatusMessage != "model failed" {
		t.Fatalf("node %+v", n)
	}
	if v, _ := attrOf(n.Input, "model"); v.Str() != "m1" {
		t.Fatalf("input %v", n.Input)
	}
	if v, _ := attrOf(n.Input, "max_tokens"); v.Int64() != 100 {
		t.Fatalf("input %v", n.Input)
	}
	if v, _ := attrOf(n.Output, "status"); v.Int64() != 200 {
		t.Fatalf("output %v", n.Output)
	}
	if v, _ := attrOf(n.Output, "tags"); v.Str() != `["a","b"]` {
		t.Fatalf("output %v", n.Output)
	}
	if n.Kind != encode.SpanKindClient || n.ParentSpanID != (encode.SpanID{}) {
		t.Fatalf("node kind %v parent %v", n.Kind, n.ParentSpanID)
	}
	if ev := n.Events; len(ev) != 2 || len(ev[0].Attrs) != 2 || ev[0].Attrs[0].Value.Str() != "first token" || ev[0].Attrs[1].Value.Int64() != 1 {
		t.Fatalf("events %+v: want the event's name and attribute kept", n.Events)
	}
	if n.Events[0].Kind != encode.EventInfo ||
		n.Events[1].Kind != encode.EventException || n.Events[1].Message != "boom" || n.Events[1].Type != "*otelbridge.testErr" {
		t.Fatalf("events %+v", n.Events)
	}
	if nd := nodeByID(t, r, "db.query"); nd.NodeType != "span" || nd.Status == encode.StatusError || nd.ParentSpanID != n.SpanID {
		t.Fatalf("nested node %+v", nd)
	}
	if s := tp.Stats(); s != (Stats{RunsStarted: 1, NodesStarted: 2, Nested: 1, LinksDropped: 2}) {
		t.Fatalf("bridge stats %+v", s)
	}
	if s := e.Stats(); s.StaleCalls != 0 || s.NodesIncomplete != 0 {
		t.Fatalf("engine stats %+v", s)
	}
}

// TestBridgeContextWithNode checks that flowtel's own node in a context
// parents spans of instrumented code and is what propagators inject.
func TestBridgeContextWithNode(t *testing.T) {
	e, sink := newTestEngine(t)
	tr := NewTracerProvider(e).Tracer("lib")
	run := e.StartRun(engine.RunInfo{FlowID: "native"})
	node := run.StartNode("plugin:1", "plugin", "search")
	ctx := ContextWithNode(context.Background(), node)
	if got, ok := NodeFromContext(ctx); !ok || got != node {
		t.Fatal("NodeFromContext")
	}
	if SpanContextFromContext(ctx) != node.SpanContext() {
		t.Fatal("SpanContextFromContext")
	}
	hdr := http.Header{}
	otelProp.Inject(ctx, otelpropagation.HeaderCarrier(hdr))
	if mustExtractHTTP(t, hdr).SpanID != node.SpanContext().SpanID {
		t.Fatal("propagator did not inject the node's span")
	}
	_, child := tr.Start(ctx, "HTTP GET", trace.WithSpanKind(trace.SpanKindClient))
	child.End()
	trace.SpanFromContext(ctx).End() // not the owner: does nothing
	if !node.IsRecording() {
		t.Fatal("End on the context's span ended the node")
	}
	node.End()

	rctx := ContextWithRun(context.Background(), run)
	_, child2 := tr.Start(rctx, "HTTP POST")
	child2.End()
	// A new root ignores the run in the context.
	_, root := tr.Start(rctx, "other", trace.WithNewRoot())
	root.End()
	run.End(0, "ok")
	flush(t, e)

	var native encode.Run
	roots := 0
	for _, r := range sink.Runs() {
		if r.FlowID == "native" {
			native = r
		} else if r.FlowID == "other" && r.ParentSpanID.IsZero() {
			roots++
		}
	}
	if len(native.Nodes) != 3 || roots != 1 {
		t.Fatalf("native run has %d nodes, %d new roots", len(native.Nodes), roots)
	}
	nodeByID(t, native, "HTTP GET")
	nodeByID(t, native, "HTTP POST")
}

// TestBridgeConcurrent starts and ends nodes of one run span from many
// goroutines, and uses one span from several (trace.Span must be safe for
// concurrent use). Run it with -race.
func TestBridgeConcurrent(t *testing.T) {
	e, sink := newTestEngine(t)
	tr := NewTracerProvider(e).Tracer("x")
	ctx, root := tr.Start(context.Background(), "root")
	_, shared := tr.Start(ctx, "shared")
	const workers, each = 8, 50
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range each {
				_, s := tr.Start(ctx, "child")
				s.SetAttributes(attribute.Int("i", i))
				s.End()
				shared.AddEvent("tick")
				shared.SetAttributes(attribute.Int("w", i))
			}
		})
	}
	wg.Wait()
	shared.End()
	root.End()
	flush(t, e)
	runs := sink.Runs()
	if len(runs) != 1 || len(runs[0].Nodes) != workers*each+1 {
		t.Fatalf("got %d runs", len(runs))
	}
	if s := e.Stats(); s.StaleCalls != 0 {
		t.Fatalf("stale calls %d", s.StaleCalls)
	}
}

// TestBridgeRefused checks that a span the engine refuses is not recording
// and still carries its parent's context onward.
func TestBridgeRefused(t *testing.T) {
	e, _ := newTestEngine(t, engine.WithLimits(engine.Limits{NodesPerRun: 1}))
	tr := NewTracerProvider(e).Tracer("x")
	ctx, root := tr.Start(context.Background(), "root")
	_, a := tr.Start(ctx, "a")
	_, b := tr.Start(ctx, "b") // past NodesPerRun
	if b.IsRecording() || !b.SpanContext().Equal(root.SpanContext()) {
		t.Fatalf("refused span: recording %v, context %v", b.IsRecording(), b.SpanContext())
	}
	b.RecordError(errors.New("x"))
	b.End()
	a.End()
	root.End()
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := e.Stats(); s.Drops(engine.DropNodeLimit) != 1 || s.StaleCalls != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func BenchmarkBridgeSpan(b *testing.B) {
	e, _ := newTestEngine(b)
	tr := NewTracerProvider(e).Tracer("x")
	b.Run("node", func(b *testing.B) {
		// Runs of 16 nodes, so node records are reused as in steady state.
		ctx, root := tr.Start(context.Background(), "root")
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			_, s := tr.Start(ctx, "child", trace.WithAttributes(attribute.String("k", "v")))
			s.End()
			if i++; i%16 == 0 {
				root.End()
				ctx, root = tr.Start(context.Background(), "root")
			}
		}
		root.End()
	})
}
