package otelbridge

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/genai"
)

// TestGenAIRootNodeRefusedKeepsRunKind: a GenAI span with no flowtel
// parent whose node the engine refuses (here the memory limit) is to stay
// the run span, as the package documentation says. It was the refused
// node, not recording (IsRecording false, its attributes lost) in a run
// that did record, left INTERNAL with no attribute: startGenAIRoot looked
// for a refusal by an invalid span context, which a refused node no longer
// has (it takes its run's).
func TestGenAIRootNodeRefusedKeepsRunKind(t *testing.T) {
	e, sink := newTestEngine(t, engine.WithMemoryLimit(8<<20), engine.WithShards(1), engine.WithRingCapacity(64),
		engine.WithLimits(engine.Limits{NodesPerRun: 1 << 16}))
	tr := NewTracerProvider(e).Tracer("t")
	// A run with no nodes, ended and flushed: its record, which keeps no
	// node record, is the next run's (the arena reuses the last freed),
	// which then needs memory for its node alone. The memory is filled
	// by another run's nodes, then by values copied into them, to less
	// than a node record.
	c := e.StartRun(engine.RunInfo{FlowID: "c"})
	big := e.StartRun(engine.RunInfo{FlowID: "big"})
	c.End(0, "")
	flush(t, e)
	var live []engine.Node
	for range 1 << 16 {
		n := big.StartNode("n", "n", "n")
		if !n.IsRecording() {
			break
		}
		live = append(live, n)
	}
	for size := 8 << 20; size >= 256 && len(live) > 0; size /= 2 {
		n := live[len(live)-1]
		before := e.Stats().ValuesTruncated
		n.Input(engine.Bytes("v", make([]byte, size)))
		if e.Stats().ValuesTruncated == before {
			live = live[:len(live)-1] // its buffer taken: the next size goes to another node
		}
	}
	before := e.Stats().Drops(engine.DropMemoryLimit)
	_, g := tr.Start(context.Background(), "chat m", trace.WithAttributes(attribute.String(genai.KeyOperationName, genai.OpChat)))
	if e.Stats().Drops(engine.DropMemoryLimit) != before+1 {
		t.Skip("the GenAI node was not refused: the memory was not full enough")
	}
	if !g.IsRecording() {
		t.Error("the span is its run's, which records: IsRecording false")
	}
	g.End()
	for _, n := range live {
		n.End()
	}
	big.End(0, "")
	flush(t, e)
	for _, r := range sink.Runs() {
		if r.FlowID == "chat m" {
			if r.Kind == encode.SpanKindInternal || len(r.Attrs) != 1 || r.Attrs[0].Key != genai.KeyOperationName {
				t.Errorf("run kind %v, attributes %+v: want not INTERNAL (unset: SERVER, a root span's), with %s", r.Kind, r.Attrs, genai.KeyOperationName)
			}
			return
		}
	}
	t.Fatal("no run chat m")
}
