package otelbridge

import (
	"context"
	"errors"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// TestBridgeCallsOnClosedNodeCounted: a span whose node the engine closed
// (its run ended first, as an instrumented library's span outliving the
// request does) has not been ended by its owner, so what the owner then
// writes is lost, and the engine counts each such call on its own handles
// (StaleCalls). The bridge checked IsRecording first and returned: the
// attributes, events, errors and renames written through it were lost
// unseen (0 stale calls for 5 lost writes), where End's comment promises
// that each is a stale call the engine counts. The same holds for the
// span of ContextWithNode. The owner's writes are now each counted.
func TestBridgeCallsOnClosedNodeCounted(t *testing.T) {
	e, _ := newTestEngine(t)
	tr := NewTracerProvider(e).Tracer("t")
	ctx, root := tr.Start(context.Background(), "flow")
	_, child := tr.Start(ctx, "tool")
	run, ok := RunFromContext(ctx)
	if !ok {
		t.Fatal("no run in the root span's context")
	}
	node := run.StartNode("n:1", "tool", "n")
	nctx := ContextWithNode(context.Background(), node)
	root.End() // closes child's node and node, neither ended by its owner
	flush(t, e)
	before := e.Stats().StaleCalls
	const calls = 4
	for _, s := range []trace.Span{child, trace.SpanFromContext(nctx)} {
		s.SetAttributes(attribute.String("late", "v"))
		s.AddEvent("late event")
		s.RecordError(errors.New("late error"))
		s.SetName("late name")
	}
	child.End()
	if got := e.Stats().StaleCalls - before; got < 2*calls {
		t.Errorf("%d stale calls counted for %d writes lost on closed nodes", got, 2*calls)
	}
	if child.IsRecording() {
		t.Error("a span whose node was closed is recording")
	}
}

// TestBridgeStatusOnClosedNodeCounted: the status a span's owner set
// (an error, say) is held for End, as its attributes are; when the run
// closed the node first, End wrote the held attributes, each counted as a
// stale call, but dropped the status unseen. It is now counted too, and
// End itself, whose end the engine made (incomplete), is not.
func TestBridgeStatusOnClosedNodeCounted(t *testing.T) {
	e, _ := newTestEngine(t)
	tr := NewTracerProvider(e).Tracer("t")
	ctx, root := tr.Start(context.Background(), "flow")
	_, child := tr.Start(ctx, "tool")
	child.SetStatus(codes.Error, "tool failed")
	root.End()
	flush(t, e)
	before := e.Stats().StaleCalls
	child.End()
	child.End()
	if got := e.Stats().StaleCalls - before; got != 1 {
		t.Errorf("%d stale calls counted for the status lost on a closed node, want 1", got)
	}
}
