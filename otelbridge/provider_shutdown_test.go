package otelbridge

import (
	"context"
	"net/http"
	"testing"

	otelpropagation "go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowtel/flowtel/engine"
)

// flusher and shutdowner are the methods code written for the SDK's
// TracerProvider asserts (a serverless handler flushes before it
// freezes; setup code shuts the provider down on exit).
type flusher interface{ ForceFlush(context.Context) error }
type shutdowner interface{ Shutdown(context.Context) error }

// TestProviderForceFlushAndShutdown: the bridge's provider had neither
// method, so code written for the SDK's provider found no flush and
// spans ended before a serverless handler froze waited for the next
// batch. ForceFlush now delivers the spans ended so far; after Shutdown
// a span records nothing and carries its parent's span context (as the
// SDK's no-op tracer after its Shutdown), counted as DropShutdown; a
// second Shutdown and a ForceFlush after it return nil, as the SDK's.
func TestProviderForceFlushAndShutdown(t *testing.T) {
	e, sink := newTestEngine(t)
	var tp trace.TracerProvider = NewTracerProvider(e)
	f, ok := tp.(flusher)
	sd, ok2 := tp.(shutdowner)
	if !ok || !ok2 {
		t.Fatal("the provider has no ForceFlush or Shutdown")
	}
	tr := tp.Tracer("t")
	_, s := tr.Start(context.Background(), "before")
	s.End()
	if err := f.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(sink.Runs()); n != 1 {
		t.Fatalf("ForceFlush delivered %d runs, want 1", n)
	}
	if err := sd.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := sd.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	if err := f.ForceFlush(context.Background()); err != nil {
		t.Errorf("ForceFlush after Shutdown: %v", err)
	}

	in := http.Header{"Traceparent": {tpValid}}
	ctx := otelProp.Extract(context.Background(), otelpropagation.HeaderCarrier(in))
	before := e.Stats().Drops(engine.DropShutdown)
	for _, tr := range []trace.Tracer{tr, tp.Tracer("later")} {
		_, after := tr.Start(ctx, "after")
		if after.IsRecording() {
			t.Error("a span started after Shutdown records")
		}
		if !after.SpanContext().Equal(trace.SpanContextFromContext(ctx)) {
			t.Errorf("span after Shutdown: %v, want its parent's %v", after.SpanContext(), trace.SpanContextFromContext(ctx))
		}
		after.SetAttributes()
		after.End()
	}
	if d := e.Stats().Drops(engine.DropShutdown) - before; d != 2 {
		t.Errorf("%d spans counted as DropShutdown, want 2", d)
	}
	if n := len(sink.Runs()); n != 1 {
		t.Errorf("%d runs delivered, want 1", n)
	}

	var none *TracerProvider
	if none.ForceFlush(context.Background()) != nil || none.Shutdown(context.Background()) != nil ||
		NewTracerProvider(nil).Shutdown(context.Background()) != nil {
		t.Error("a provider with no engine has nothing to flush or shut down: nil")
	}
}
