package otelbridge

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// testLink returns a link OpenTelemetry's SDK keeps: to a valid span
// context.
func testLink() trace.Link {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	return trace.Link{SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, Remote: true})}
}

// TestBridgeLinksCountedAsSDKKeeps: Stats.LinksDropped counts the links
// OpenTelemetry's SDK would have kept for the same calls, as many as its
// spans hold: not an empty trace.Link (trace.LinkFromContext of a
// context without a span, which the SDK ignores), nor one added after
// End, nor those of a span that records nothing (the engine refused its
// run). Each was counted as a link dropped.
func TestBridgeLinksCountedAsSDKKeeps(t *testing.T) {
	withAttrs := trace.Link{Attributes: []attribute.KeyValue{attribute.String("why", "batch")}}
	calls := func(tr trace.Tracer) {
		ctx, root := tr.Start(context.Background(), "flow",
			trace.WithLinks(testLink(), trace.Link{}, trace.LinkFromContext(context.Background()), withAttrs))
		root.AddLink(trace.Link{})
		root.AddLink(testLink())
		_, n := tr.Start(ctx, "node", trace.WithLinks(trace.Link{}, testLink()))
		n.AddLink(withAttrs)
		n.End()
		n.AddLink(testLink()) // after End
		root.End()
		root.AddLink(testLink())
	}

	rec := tracetest.NewSpanRecorder()
	sdk := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	calls(sdk.Tracer("t"))
	want := uint64(0)
	for _, s := range rec.Ended() {
		want += uint64(len(s.Links()))
	}
	if want != 5 {
		t.Fatalf("the SDK kept %d links, want 5", want)
	}

	e, _ := newTestEngine(t)
	tp := NewTracerProvider(e)
	calls(tp.Tracer("t"))
	if got := tp.Stats().LinksDropped; got != want {
		t.Errorf("LinksDropped %d, want %d: the links the SDK keeps", got, want)
	}

	// A span the engine refused records nothing, its links included.
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, s := tp.Tracer("t").Start(context.Background(), "refused", trace.WithLinks(testLink()))
	s.AddLink(testLink())
	s.End()
	if got := tp.Stats().LinksDropped; got != want {
		t.Errorf("LinksDropped %d after a refused span's links, want %d", got, want)
	}
}
