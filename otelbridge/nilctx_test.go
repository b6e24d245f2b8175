package otelbridge

import (
	"context"
	"testing"

	"github.com/flowtel/flowtel/engine"
)

// TestNilContext starts spans and puts handles in a nil context, as
// OpenTelemetry's SDK tracer accepts one (it takes context.Background()):
// the bridge panicked (trace.ContextWithSpan on a nil parent).
func TestNilContext(t *testing.T) {
	e, sink := newTestEngine(t)
	var nilCtx context.Context
	ctx, s := NewTracerProvider(e).Tracer("t").Start(nilCtx, "flow")
	if !s.IsRecording() || ctx == nil {
		t.Fatalf("Start(nil): recording %v", s.IsRecording())
	}
	s.End()
	_, s = NewTracerProvider(nil).Tracer("t").Start(nilCtx, "flow")
	s.End()
	run := e.StartRun(engine.RunInfo{})
	if r, ok := RunFromContext(ContextWithRun(nilCtx, run)); !ok || r != run {
		t.Fatal("ContextWithRun(nil) lost the run")
	}
	n := run.StartNode("a:1", "a", "a")
	if got, ok := NodeFromContext(ContextWithNode(nilCtx, n)); !ok || got != n {
		t.Fatal("ContextWithNode(nil) lost the node")
	}
	n.End()
	run.End(0, "")
	flush(t, e)
	if len(sink.Runs()) != 2 {
		t.Fatalf("%d runs", len(sink.Runs()))
	}
}
