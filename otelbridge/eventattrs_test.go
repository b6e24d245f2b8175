package otelbridge

import (
	"context"
	"errors"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// TestBridgeEventAttributes: AddEvent's attributes on a node span are
// kept, as engine.Node.InfoEvent keeps an event given as data: the span
// event INFO carries the event's name under "INFO LOG", as an event
// without attributes does, then its attributes (an empty key dropped and
// counted as SetAttributes drops it). They were dropped and counted in
// Stats.EventAttrsDropped. A run span's events and exception events
// (RecordError) have no attributes in the engine's records: theirs are
// still dropped and counted. Over otlp's sink, a real receiver and the
// official decoder.
func TestBridgeEventAttributes(t *testing.T) {
	rc, tp, shutdown := bridgeOverOTLP(t)
	tr := tp.Tracer("t")
	ctx, root := tr.Start(context.Background(), "flow")
	root.AddEvent("on the run", trace.WithAttributes(attribute.String("a", "1"), attribute.Int("b", 2)))
	_, n := tr.Start(ctx, "node")
	n.AddEvent("cache hit", trace.WithAttributes(attribute.String("cache.key", "k1"), attribute.Int("cache.size", 3),
		attribute.String("", "no key"), attribute.StringSlice("tags", []string{"x", "y"})))
	n.AddEvent("plain")
	n.RecordError(errors.New("boom"), trace.WithAttributes(attribute.String("retry", "yes")))
	n.End()
	root.End()
	shutdown()

	if st := tp.Stats(); st.EventAttrsDropped != 3 || st.InvalidAttrsDropped != 1 {
		t.Errorf("EventAttrsDropped %d (want 3: the run event's 2, RecordError's 1), InvalidAttrsDropped %d (want 1)",
			st.EventAttrsDropped, st.InvalidAttrsDropped)
	}
	found := false
	for _, sp := range receivedSpans(rc) {
		if sp.Name != "run_node:node" {
			continue
		}
		found = true
		if len(sp.Events) != 3 {
			t.Fatalf("node: %d events, want 3", len(sp.Events))
		}
		got := map[string]string{}
		for _, kv := range sp.Events[0].Attributes {
			got[kv.Key] = anyString(kv.Value)
		}
		want := map[string]string{"INFO LOG": "cache hit", "cache.key": "k1", "cache.size": "3", "tags": `["x","y"]`}
		if len(got) != len(want) {
			t.Errorf("cache hit event: %v, want %v", got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("cache hit event: %s = %q, want %q", k, got[k], v)
			}
		}
		if sp.Events[0].Name != "INFO" || sp.Events[1].Name != "INFO" || len(sp.Events[1].Attributes) != 1 {
			t.Errorf("events %q %q, the plain one with %d attributes", sp.Events[0].Name, sp.Events[1].Name, len(sp.Events[1].Attributes))
		}
		if sp.DroppedAttributesCount != 2 {
			t.Errorf("node span dropped_attributes_count %d, want 2 (the empty key, RecordError's)", sp.DroppedAttributesCount)
		}
	}
	if !found {
		t.Error("no node span received")
	}
}
