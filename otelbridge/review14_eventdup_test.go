package otelbridge

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

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
