package otelbridge

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
	"github.com/flowtel/flowtel/otlp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
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

// TestBridgeInvalidAttributesDropped: an attribute with an empty key
// (attribute.KeyValue.Valid false: the zero KeyValue, attribute.String("",
// v)) is dropped and counted by OpenTelemetry's SDK; the bridge wrote it,
// so run and node spans carried an empty key, which OTLP's attributes
// must not have. Each is now dropped and counted
// (Stats.InvalidAttrsDropped), at start (under and past maxScanStart
// attributes) and by SetAttributes, on run and node spans.
func TestBridgeInvalidAttributesDropped(t *testing.T) {
	invalid := []attribute.KeyValue{{}, attribute.String("", "empty"), attribute.Int("", 1)}
	for _, pad := range []int{0, maxScanStart + 1} {
		t.Run(fmt.Sprint("pad", pad), func(t *testing.T) {
			e, sink := newTestEngine(t)
			p := NewTracerProvider(e)
			tr := p.Tracer("t")
			start := []attribute.KeyValue{attribute.String("k", "kept")}
			for i := range pad {
				start = append(start, attribute.Int(fmt.Sprint("p", i), i))
			}
			start = append(start, invalid...)
			ctx, root := tr.Start(context.Background(), "flow", trace.WithAttributes(start...))
			root.SetAttributes(invalid...)
			_, c := tr.Start(ctx, "node", trace.WithAttributes(start...))
			c.SetAttributes(invalid...)
			c.End()
			root.End()
			flush(t, e)
			if got, want := p.Stats().InvalidAttrsDropped, uint64(4*len(invalid)); got != want {
				t.Errorf("InvalidAttrsDropped %d, want %d", got, want)
			}
			runs := sink.Runs()
			if len(runs) != 1 || len(runs[0].Nodes) != 1 {
				t.Fatalf("got %d runs", len(runs))
			}
			check := func(where string, attrs []encode.Attr) {
				t.Helper()
				k := 0
				for _, a := range attrs {
					if a.Key == "" {
						t.Errorf("%s carries the invalid attribute %+v", where, a)
					}
					if a.Key == "k" {
						k++
						if a.Value.Str() != "kept" {
							t.Errorf("%s: k = %+v, want the valid value", where, a.Value)
						}
					}
				}
				if k != 1 {
					t.Errorf("%s carries k %d times, want once", where, k)
				}
			}
			n := runs[0].Nodes[0]
			check("run span", runs[0].Attrs)
			check("node input", n.Input)
			for _, a := range n.Output {
				if a.Key == "" {
					t.Errorf("node output carries the invalid attribute %+v", a)
				}
			}
		})
	}
}

// TestBridgeNodeTypeNotStringKept: a start attribute flowtel.node_type
// that is not a string (attribute.Int, a slice) does not name the node's
// type, and was then neither written nor counted: lost unseen. It is an
// input value as other start attributes are, once, with its last value;
// a string one still names the type. Read by a real receiver with the
// official decoder.
func TestBridgeNodeTypeNotStringKept(t *testing.T) {
	rc, tp, shutdown := bridgeOverOTLP(t)
	tr := tp.Tracer("t")
	ctx, root := tr.Start(context.Background(), "flow")
	_, a := tr.Start(ctx, "int", trace.WithAttributes(attribute.Int(AttrNodeType, 3)))
	a.End()
	_, b := tr.Start(ctx, "both", trace.WithAttributes(attribute.String(AttrNodeType, "llm"), attribute.StringSlice(AttrNodeType, []string{"x"})))
	b.End()
	_, c := tr.Start(ctx, "string", trace.WithAttributes(attribute.Int(AttrNodeType, 1), attribute.String(AttrNodeType, "tool")))
	c.End()
	root.End()
	shutdown()
	wantSpanAttrs(t, rc, map[string]map[string]string{
		"run_node:int":    {"node_type": "span", "input." + AttrNodeType: "3"},
		"run_node:both":   {"node_type": "llm", "input." + AttrNodeType: `["x"]`},
		"run_node:string": {"node_type": "tool", "input." + AttrNodeType: ""},
	})
}

// TestBridgeDroppedAttrsOnSpan: the attributes the bridge drops (of
// events and RecordError under a key the event writes itself, empty keys,
// a RunInfo key set after start) were
// counted in the provider's Stats only, nowhere a trace backend shows.
// They now count in the span's dropped_attributes_count too, as OTLP
// does, on the spans the tracer starts and on those of ContextWithRun
// and ContextWithNode. Read by a real receiver with the official decoder.
func TestBridgeDroppedAttrsOnSpan(t *testing.T) {
	rc, tp, shutdown := bridgeOverOTLP(t)
	drop := func(s trace.Span) { // 3 attributes dropped (the events keep a and b)
		s.AddEvent("x", trace.WithAttributes(attribute.Int("a", 1), attribute.String("INFO LOG", "not the name")))
		s.RecordError(errors.New("boom"), trace.WithAttributes(attribute.Int("b", 2), attribute.String("exception.message", "not the message")))
		s.SetAttributes(attribute.String("", "empty key"))
	}
	ctx, root := tp.Tracer("t").Start(context.Background(), "flow", trace.WithAttributes(attribute.String("", "at start")))
	root.SetAttributes(attribute.String("app_id", "late")) // the run span's own key
	_, n := tp.Tracer("t").Start(ctx, "node")
	drop(n)
	n.End()
	root.End()

	run := tp.e.StartRun(engine.RunInfo{FlowID: "ctx"})
	node := run.StartNode("cnode", "span", "cnode")
	drop(trace.SpanFromContext(ContextWithRun(context.Background(), run)))
	drop(trace.SpanFromContext(ContextWithNode(context.Background(), node)))
	node.End()
	run.End(0, "")
	st := tp.Stats()
	shutdown()

	want := map[string]uint32{"run:flow": 2, "run_node:node": 3, "run:ctx": 3, "run_node:cnode": 3}
	got := map[string]uint32{}
	for _, sp := range receivedSpans(rc) {
		got[sp.Name] = sp.DroppedAttributesCount
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: dropped_attributes_count %d, want %d (all %v)", name, got[name], w, got)
		}
	}
	if st.EventAttrsDropped != 6 || st.InvalidAttrsDropped != 4 || st.RunAttrsDropped != 1 {
		t.Errorf("Stats %+v, want 6 event, 4 invalid, 1 run attributes dropped", st)
	}
}
