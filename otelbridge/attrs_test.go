package otelbridge

import (
	"context"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
	"github.com/flowtel/flowtel/otlp"
)

// bridgeOverOTLP returns the bridge's provider over an engine whose otlp
// sink sends to a real receiver that keeps what it decodes, and the
// engine's shutdown, which delivers every span to it.
func bridgeOverOTLP(t *testing.T) (*otlptest.Receiver, *TracerProvider, func()) {
	t.Helper()
	rc := otlptest.StartKeeping(t, otlptest.GRPC)
	e, err := otlp.New(export.Config{Protocol: "grpc", Endpoint: rc.Addr, Insecure: true}, engine.WithBatch(64, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return rc, NewTracerProvider(e), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := e.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBridgeAttributeSetTwice sets attribute keys more than once on a
// bridged run span and node span, at start and later, and decodes the
// spans otlp's sink sends to a real receiver with the official types:
// every key is on its span once, with its last value, as OpenTelemetry's
// SetAttributes overwrites and OTLP's keys are unique. Each call was
// written as given: output.k three times, x twice, and app_id set after
// start beside the run span's own app_id.
func TestBridgeAttributeSetTwice(t *testing.T) {
	rc, tp, shutdown := bridgeOverOTLP(t)
	tr := tp.Tracer("t")
	ctx, root := tr.Start(context.Background(), "flow", trace.WithAttributes(attribute.String("app_id", "a"),
		attribute.Int("s", 0), attribute.Int("s", 1)))
	root.SetAttributes(attribute.String("app_id", "late"), attribute.Int("x", 1), attribute.Int("x", 2))
	root.SetAttributes(attribute.String("flow_id", "renamed"))
	_, n := tr.Start(ctx, "node", trace.WithAttributes(attribute.String("k", "start"), attribute.String("k", "start2")))
	n.SetAttributes(attribute.String("k", "a"), attribute.String("k", "b"))
	n.SetAttributes(attribute.String("k", "c"))
	if !n.IsRecording() {
		t.Fatal("node not recording before End")
	}
	n.End()
	root.End()
	shutdown()
	want := map[string]map[string]string{
		"run:renamed":   {"app_id": "a", "s": "1", "x": "2", "flow_id": "renamed"},
		"run_node:node": {"input.k": "start2", "output.k": "c", "app_id": "a"},
	}
	spans := receivedSpans(rc)
	if len(spans) != len(want) {
		t.Fatalf("%d spans, want %d", len(spans), len(want))
	}
	for _, sp := range spans {
		w, ok := want[sp.Name]
		if !ok {
			t.Errorf("unexpected span %q", sp.Name)
			continue
		}
		seen := map[string]string{}
		for _, kv := range sp.Attributes {
			if _, dup := seen[kv.Key]; dup {
				t.Errorf("span %q: key %q written twice", sp.Name, kv.Key)
			}
			seen[kv.Key] = anyString(kv.Value)
		}
		for k, v := range w {
			if seen[k] != v {
				t.Errorf("span %q: %s = %q, want %q", sp.Name, k, seen[k], v)
			}
		}
	}
	if d := tp.Stats().RunAttrsDropped; d != 1 {
		t.Errorf("RunAttrsDropped %d, want 1 (app_id after start)", d)
	}
}

// anyString returns a decoded string or integer value as text.
func anyString(v *commonpb.AnyValue) string {
	switch x := v.Value.(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	}
	return v.String()
}

// TestBridgeAttributesHeldPastClose: a node span whose run ends before it
// does loses the attributes it held for End, as any write after the run
// closed the node; each is counted as a stale call, not lost unseen.
func TestBridgeAttributesHeldPastClose(t *testing.T) {
	e, _ := newTestEngine(t)
	tr := NewTracerProvider(e).Tracer("t")
	ctx, root := tr.Start(context.Background(), "flow")
	_, n := tr.Start(ctx, "node")
	n.SetAttributes(attribute.String("a", "1"), attribute.String("b", "2"))
	root.End()
	flush(t, e) // the pipeline has closed the node
	before := e.Stats().StaleCalls
	n.End()
	if got := e.Stats().StaleCalls - before; got != 2 {
		t.Fatalf("%d stale calls counted for 2 held attributes", got)
	}
}
