package otelbridge

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/flowtel/flowtel/engine"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// TestContextRunCodeCounted: an integer "code" set through the span of
// ContextWithRun (a library calling SetAttributes on the span it found in
// its context) was kept as the return code for an End that, on such a
// span, does nothing: the value was lost unseen. It is now written to the
// run as given, where the encoder keeps the run's own code (the owner's
// Run.End) and counts the one it leaves out in the span's
// dropped_attributes_count. Read by a real receiver with the official
// decoder.
func TestContextRunCodeCounted(t *testing.T) {
	rc, tp, shutdown := bridgeOverOTLP(t)
	run := tp.e.StartRun(engine.RunInfo{FlowID: "ctx"})
	ctx := ContextWithRun(context.Background(), run)
	trace.SpanFromContext(ctx).SetAttributes(attribute.Int("code", 7))
	run.End(3, "")
	shutdown()
	for _, sp := range receivedSpans(rc) {
		if sp.Name != "run:ctx" {
			continue
		}
		for _, kv := range sp.Attributes {
			if kv.Key == "code" && anyString(kv.Value) != "3" {
				t.Errorf("code = %s, want the owner's 3", anyString(kv.Value))
			}
		}
		if sp.DroppedAttributesCount != 1 {
			t.Errorf("dropped_attributes_count %d, want 1 (the library's code)", sp.DroppedAttributesCount)
		}
		return
	}
	t.Fatal("no run span received")
}

// TestContextSpanStatusWritten: a library that sets the status of the span
// it finds in its context (otelhttp's handler on a 5xx, a client on a
// failed call) on the span of ContextWithRun or ContextWithNode had it
// held for an End that, on such a span, does nothing: the status was lost
// unseen and the run and node exported UNSET. It is written at once, by
// OpenTelemetry's rules (Ok final, the description for Error only), and
// kept by the owner's End. Read by a real receiver with the official
// decoder.
func TestContextSpanStatusWritten(t *testing.T) {
	rc, tp, shutdown := bridgeOverOTLP(t)
	run := tp.e.StartRun(engine.RunInfo{FlowID: "ctx"})
	failed, ok := run.StartNode("failed", "tool", "failed"), run.StartNode("ok", "tool", "ok")
	trace.SpanFromContext(ContextWithNode(context.Background(), failed)).SetStatus(codes.Error, "upstream 503")
	okSpan := trace.SpanFromContext(ContextWithNode(context.Background(), ok))
	okSpan.SetStatus(codes.Ok, "ignored")
	okSpan.SetStatus(codes.Error, "after Ok")
	failed.End()
	ok.End()
	trace.SpanFromContext(ContextWithRun(context.Background(), run)).SetStatus(codes.Error, "handler failed")
	run.End(0, "")
	shutdown()
	want := map[string]*tracepb.Status{
		"run:ctx":         {Code: tracepb.Status_STATUS_CODE_ERROR, Message: "handler failed"},
		"run_node:failed": {Code: tracepb.Status_STATUS_CODE_ERROR, Message: "upstream 503"},
		"run_node:ok":     {Code: tracepb.Status_STATUS_CODE_OK},
	}
	for _, sp := range receivedSpans(rc) {
		w, ok := want[sp.Name]
		if !ok {
			continue
		}
		delete(want, sp.Name)
		if sp.Status.GetCode() != w.Code || sp.Status.GetMessage() != w.Message {
			t.Errorf("%s: status %v, want %v", sp.Name, sp.Status, w)
		}
	}
	if len(want) != 0 {
		t.Errorf("spans not received: %v", want)
	}
}

// TestContextSpanDropsCounted: the spans of ContextWithRun and
// ContextWithNode had no provider, so what the bridge drops on them
// (event and RecordError attributes, links, empty keys) was counted
// nowhere, and their TracerProvider was a new provider at each call,
// whose Stats nobody could read. They now count in the engine's one
// provider, the one NewTracerProvider returns. (Events keep their
// attributes but one under a key the event writes itself: "INFO LOG",
// exception.*.)
func TestContextSpanDropsCounted(t *testing.T) {
	e, _ := newTestEngine(t)
	run := e.StartRun(engine.RunInfo{FlowID: "ctx"})
	node := run.StartNode("n", "span", "n")
	for _, ctx := range []context.Context{
		ContextWithRun(context.Background(), run),
		ContextWithNode(context.Background(), node),
	} {
		s := trace.SpanFromContext(ctx)
		s.AddEvent("x", trace.WithAttributes(attribute.Int("a", 1), attribute.String("INFO LOG", "not the name")))
		s.AddLink(testLink())
		s.RecordError(errors.New("boom"), trace.WithAttributes(attribute.Int("b", 2), attribute.String("exception.type", "not the type")))
		s.SetAttributes(attribute.String("", "empty key"))
		if got, want := s.TracerProvider(), trace.TracerProvider(NewTracerProvider(e)); got != want {
			t.Errorf("TracerProvider() = %p, want the engine's %p", got, want)
		}
	}
	node.End()
	run.End(0, "")
	got := NewTracerProvider(e).Stats()
	want := Stats{LinksDropped: 2, EventAttrsDropped: 4, InvalidAttrsDropped: 2}
	if got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
}

// TestContextSpanOtelhttpClient: otelhttp's client Transport with no
// provider configured starts its span with the TracerProvider of the
// span in the request's context. Under ContextWithRun that is the
// engine's provider: the call becomes a node of the run, counted in the
// Stats NewTracerProvider returns, as every later call.
func TestContextSpanOtelhttpClient(t *testing.T) {
	e, sink := newTestEngine(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	client := &http.Client{Transport: otelhttp.NewTransport(http.DefaultTransport)}
	defer client.CloseIdleConnections()
	run := e.StartRun(engine.RunInfo{FlowID: "client"})
	ctx := ContextWithRun(context.Background(), run)
	for range 2 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	run.End(0, "")
	flush(t, e)
	if st := NewTracerProvider(e).Stats(); st.NodesStarted != 2 {
		t.Errorf("NodesStarted = %d, want the 2 client calls", st.NodesStarted)
	}
	runs := sink.Runs()
	if len(runs) != 1 || len(runs[0].Nodes) != 2 {
		t.Fatalf("runs %d, want 1 run of 2 nodes", len(runs))
	}
}
