package otelbridge

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
)

// TestBridgeAttributeCountLimitAsSDK gives a run span and a node span
// the same random start attributes and SetAttributes calls as spans of
// OpenTelemetry's SDK with its default limits, keys past its
// AttributeCountLimit (128) and keys set again included, and compares
// what each keeps: the same keys with the same values, and as many
// dropped keys (the SDK counts a dropped key at each call that gives it,
// the bridge once). The bridge wrote keys past its 128 held ones at once,
// before the held ones, so the engine's limit kept the last keys and
// dropped the first, where the SDK keeps the first.
func TestBridgeAttributeCountLimitAsSDK(t *testing.T) {
	e, sink := newTestEngine(t)
	tr := NewTracerProvider(e).Tracer("t")
	rec := tracetest.NewSpanRecorder()
	sdk := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = sdk.Shutdown(context.Background()) })
	str := sdk.Tracer("t")

	const rounds = 40
	type want struct {
		attrs   map[string]int64
		dropped int // the distinct keys given and not kept
	}
	wants := map[string][2]want{} // flow id: run span, node span
	rnd := rand.New(rand.NewPCG(1, 2))
	for round := range rounds {
		flow := fmt.Sprint("flow", round)
		var start []attribute.KeyValue
		for i := range rnd.IntN(20) {
			start = append(start, attribute.Int64(fmt.Sprint("s", i), int64(i)))
		}
		var calls [][]attribute.KeyValue
		for range rnd.IntN(60) {
			var c []attribute.KeyValue
			for range 1 + rnd.IntN(8) {
				c = append(c, attribute.Int64(fmt.Sprint("k", rnd.IntN(200)), rnd.Int64N(1000)))
			}
			calls = append(calls, c)
		}

		ctx, root := tr.Start(context.Background(), flow, trace.WithAttributes(start...))
		_, node := tr.Start(ctx, "node", trace.WithAttributes(start...))
		sctx, sroot := str.Start(context.Background(), flow, trace.WithAttributes(start...))
		_, snode := str.Start(sctx, "node", trace.WithAttributes(start...))
		for _, c := range calls {
			root.SetAttributes(c...)
			node.SetAttributes(c...)
			sroot.SetAttributes(c...)
			snode.SetAttributes(c...)
		}
		node.End()
		root.End()
		snode.End()
		sroot.End()
		given := map[attribute.Key]bool{}
		for _, kv := range start {
			given[kv.Key] = true
		}
		for _, c := range calls {
			for _, kv := range c {
				given[kv.Key] = true
			}
		}
		var w [2]want
		for _, s := range rec.Ended()[2*round : 2*round+2] {
			j := 1 // the node ends first
			if s.Name() != "node" {
				j = 0
			}
			w[j] = want{attrs: map[string]int64{}, dropped: len(given) - len(s.Attributes())}
			for _, kv := range s.Attributes() {
				w[j].attrs[string(kv.Key)] = kv.Value.AsInt64()
			}
		}
		wants[flow] = w
	}
	flush(t, e)
	runs := sink.Runs()
	if len(runs) != rounds {
		t.Fatalf("%d runs, want %d", len(runs), rounds)
	}
	for _, r := range runs {
		w := wants[r.FlowID]
		compareAttrs(t, r.FlowID+" run", w[0].attrs, w[0].dropped, r.Attrs, nil, r.DroppedAttrs)
		if len(r.Nodes) != 1 {
			t.Fatalf("%s: %d nodes", r.FlowID, len(r.Nodes))
		}
		n := r.Nodes[0]
		compareAttrs(t, r.FlowID+" node", w[1].attrs, w[1].dropped, n.Input, n.Output, n.DroppedAttrs)
	}
}

// compareAttrs compares a record's attributes, each key's last value,
// with the SDK's.
func compareAttrs(t *testing.T, what string, want map[string]int64, wantDropped int, lists ...any) {
	t.Helper()
	got := map[string]int64{}
	for _, l := range lists[:len(lists)-1] {
		as, _ := l.([]encode.Attr)
		for _, a := range as {
			got[a.Key] = a.Value.Int64()
		}
	}
	dropped := int(lists[len(lists)-1].(uint32))
	if len(got) != len(want) || dropped != wantDropped {
		t.Errorf("%s: %d keys, %d dropped; the SDK's %d keys, %d keys dropped", what, len(got), dropped, len(want), wantDropped)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s: %s = %d (%v), the SDK's %d", what, k, g, ok, v)
		}
	}
}

// TestBridgeAttributesPastHeldKeys: under an engine whose Limits.Attrs
// is raised past maxPending, a span given more keys than the bridge
// holds keeps its first maxPending keys, each once with its last value,
// and counts every later key it was given as dropped. Before, the held
// keys were written past maxPending and later ones at once, so a key set
// again after that was on the span twice (OTLP's keys are unique);
// compareAttrs, which keeps a key's last value, did not see it.
func TestBridgeAttributesPastHeldKeys(t *testing.T) {
	const keys = maxPending + 100
	e, sink := newTestEngine(t, engine.WithLimits(engine.Limits{Attrs: 2 * keys}))
	tr := NewTracerProvider(e).Tracer("t")
	ctx, root := tr.Start(context.Background(), "flow")
	_, node := tr.Start(ctx, "node")
	for _, s := range []trace.Span{root, node} {
		for i := range keys {
			s.SetAttributes(attribute.Int(fmt.Sprint("k", i), i))
		}
		s.SetAttributes(attribute.Int("k0", -1), attribute.Int(fmt.Sprint("k", keys-1), -1))
	}
	node.End()
	root.End()
	flush(t, e)
	runs := sink.Runs()
	if len(runs) != 1 || len(runs[0].Nodes) != 1 {
		t.Fatalf("%d runs", len(runs))
	}
	want := map[string]int64{}
	for i := range maxPending {
		want[fmt.Sprint("k", i)] = int64(i)
	}
	want["k0"] = -1
	dropped := keys - maxPending + 1 // the last key was given twice
	r := runs[0]
	for _, c := range []struct {
		what    string
		attrs   []encode.Attr
		dropped uint32
	}{{"run", r.Attrs, r.DroppedAttrs}, {"node", r.Nodes[0].Output, r.Nodes[0].DroppedAttrs}} {
		seen := map[string]int{}
		for _, a := range c.attrs {
			if seen[a.Key]++; seen[a.Key] == 2 {
				t.Errorf("%s: key %s on the span twice", c.what, a.Key)
			}
		}
		compareAttrs(t, c.what, want, dropped, c.attrs, c.dropped)
	}
}
