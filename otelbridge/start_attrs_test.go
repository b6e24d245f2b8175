package otelbridge

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/internal/race"
)

// TestStartManyAttributes: a span started with many attributes
// (trace.WithAttributes of a request's headers, say) keeps each key's
// last value, as OpenTelemetry does, in about the time of its
// attributes: each was compared with every later one, so 40,000
// attributes took 10.6 s to start a run and 26.6 s to start a node on
// the caller's goroutine, and 2^17 (this test) passed go test's timeout.
// What Limits.Attrs cannot keep is counted.
func TestStartManyAttributes(t *testing.T) {
	n := 1 << 17
	if testing.Short() || race.Enabled {
		n = 1 << 13
	}
	sink := &engine.MemorySink{}
	e, err := engine.New(engine.WithSink(sink), engine.WithBatch(1, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	kvs := []attribute.KeyValue{attribute.Int("dup", 1), attribute.String("app_id", "first"), attribute.Int("dup", 2)}
	for i := range n {
		kvs = append(kvs, attribute.Int(fmt.Sprintf("key-%08d", i), i))
	}
	kvs = append(kvs, attribute.String("app_id", "last"))
	tr := NewTracerProvider(e).Tracer("x")
	ctx, run := tr.Start(context.Background(), "flow", trace.WithAttributes(kvs...))
	_, node := tr.Start(ctx, "node", trace.WithAttributes(kvs...))
	node.End()
	run.End()
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	runs := sink.Runs()
	if len(runs) != 1 || len(runs[0].Nodes) != 1 {
		t.Fatalf("%d runs exported", len(runs))
	}
	r := runs[0]
	if r.AppID != "last" {
		t.Errorf("app_id %q, want the last value given", r.AppID)
	}
	count := func(as []engine.Attr) (dups int, val int64) {
		for _, a := range as {
			if a.Key == "dup" {
				dups++
				val = a.Value.Int64()
			}
		}
		return dups, val
	}
	if d, v := count(r.Attrs); d != 1 || v != 2 {
		t.Errorf("run: dup %d times, value %d; want once, the last (2)", d, v)
	}
	if d, v := count(r.Nodes[0].Input); d != 1 || v != 2 {
		t.Errorf("node: dup %d times, value %d; want once, the last (2)", d, v)
	}
	if e.Stats().AttrsDropped == 0 {
		t.Error("the attributes past Limits.Attrs were not counted")
	}
}
