package otelbridge

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowtel/flowtel/engine"
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
