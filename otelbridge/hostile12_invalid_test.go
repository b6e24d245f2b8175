package otelbridge

import (
	"context"
	"fmt"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowtel/flowtel/encode"
)

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
