package otelbridge

import (
	"context"
	"encoding/hex"
	"sync"
	"testing"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/genai"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// TestBridgeGenAIRootSpanCounted: a GenAI client span started with no
// flowtel parent (a script calling a model, no server span around it)
// became a run, and the engine's GenAI metrics, which fold nodes, did not
// count the call: gen_ai.client.operation.duration and token.usage had
// nothing of it, where the GenAI conventions record them for every client
// operation. It is now a node of a run started for it, so both count it,
// and the node span keeps the span's kind and gen_ai.* attributes. Read
// by a real receiver with the official decoder.
func TestBridgeGenAIRootSpanCounted(t *testing.T) {
	rc, tp, shutdown := bridgeOverOTLP(t)
	tr := tp.Tracer("t")
	ctx, c := tr.Start(context.Background(), "chat m", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String(genai.KeyOperationName, genai.OpChat), attribute.String(genai.KeyRequestModel, "m"),
		attribute.String("app_id", "app")))
	_, tool := tr.Start(ctx, "tool") // a span under it is a node of the same run, its child
	tool.End()
	c.SetAttributes(attribute.Int(genai.KeyUsageInputTokens, 10), attribute.Int(genai.KeyUsageOutputTokens, 5))
	c.SetStatus(codes.Error, "refused")
	c.End()
	if c.IsRecording() {
		t.Error("span recording after End")
	}
	st := tp.Stats()
	shutdown()

	if st.RunsStarted != 1 || st.NodesStarted != 2 || st.Nested != 1 {
		t.Errorf("Stats %+v, want 1 run, 2 nodes, 1 nested", st)
	}
	var run, node, child *tracepb.Span
	for _, sp := range receivedSpans(rc) {
		switch sp.Name {
		case "run:chat m":
			run = sp
		case "run_node:chat m":
			node = sp
		case "run_node:tool":
			child = sp
		}
	}
	if run == nil || node == nil || child == nil {
		t.Fatalf("spans run %v, node %v, child %v: want all three", run != nil, node != nil, child != nil)
	}
	if string(node.ParentSpanId) != string(run.SpanId) || string(child.ParentSpanId) != string(node.SpanId) {
		t.Errorf("parents: node's %s (run %s), child's %s (node %s)", hex.EncodeToString(node.ParentSpanId),
			hex.EncodeToString(run.SpanId), hex.EncodeToString(child.ParentSpanId), hex.EncodeToString(node.SpanId))
	}
	if id := c.SpanContext().SpanID(); string(id[:]) != string(node.SpanId) {
		t.Error("the span's context is not the node's: a client would inject the run as parent")
	}
	if node.Kind != tracepb.Span_SPAN_KIND_CLIENT || run.Kind != tracepb.Span_SPAN_KIND_INTERNAL {
		t.Errorf("kinds node %v, run %v, want CLIENT and INTERNAL", node.Kind, run.Kind)
	}
	if node.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || run.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("status node %v, run %v, want ERROR both", node.Status, run.Status)
	}
	runAttrs, nodeAttrs := map[string]string{}, map[string]string{}
	for _, kv := range run.Attributes {
		runAttrs[kv.Key] = anyString(kv.Value)
	}
	for _, kv := range node.Attributes {
		nodeAttrs[kv.Key] = anyString(kv.Value)
	}
	if runAttrs["app_id"] != "app" || nodeAttrs[genai.KeyOperationName] != "chat" || nodeAttrs[genai.KeyUsageOutputTokens] != "5" {
		t.Errorf("run attributes %v, node attributes %v", runAttrs, nodeAttrs)
	}

	counts := map[string]uint64{}
	for _, name := range []string{genai.MetricOperationDuration, genai.MetricTokenUsage} {
		for _, m := range metricsNamed(rc, name) {
			for _, p := range m.GetHistogram().GetDataPoints() {
				counts[name] = max(counts[name], p.GetCount()) // cumulative
			}
		}
	}
	if counts[genai.MetricOperationDuration] != 1 || counts[genai.MetricTokenUsage] != 1 {
		t.Errorf("histogram counts %v, want %s 1 and %s 1 per token type", counts, genai.MetricOperationDuration, genai.MetricTokenUsage)
	}
}

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

// TestGenAIRootNeverEnded: a GenAI root span (a node of a run started for
// it) that its caller never ends leaves no run open past Shutdown: the
// engine closes the run and its node, exports both as incomplete and the
// accounting reconciles; End after that, again, and SetName and SetStatus
// after End change nothing and count no stale call.
func TestGenAIRootNeverEnded(t *testing.T) {
	sink := &engine.MemorySink{}
	e, err := engine.New(engine.WithSink(sink))
	if err != nil {
		t.Fatal(err)
	}
	tr := NewTracerProvider(e).Tracer("t")
	_, open := tr.Start(context.Background(), "chat open", trace.WithAttributes(attribute.String(genai.KeyOperationName, genai.OpChat)))
	_, ended := tr.Start(context.Background(), "chat ended", trace.WithAttributes(attribute.String(genai.KeyOperationName, genai.OpChat)))
	ended.End()
	ended.End()
	ended.SetName("renamed")
	ended.SetStatus(codes.Error, "late")
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := e.Stats()
	if s.Accepted != 4 || s.Exported != 4 || s.InFlight != 0 || s.Dropped != 0 || s.RunsTimedOut != 1 || s.StaleCalls != 0 {
		t.Errorf("stats %+v: want 2 runs of a node each exported, one closed by Shutdown, no stale call", s)
	}
	open.End() // after Shutdown: the engine closed it
	for _, r := range sink.Runs() {
		if r.FlowID == "chat ended" && (r.Status != 0 || len(r.Nodes) != 1 || r.Nodes[0].NodeName != "chat ended") {
			t.Errorf("ended run changed after End: status %v, nodes %d", r.Status, len(r.Nodes))
		}
	}
	if len(sink.Runs()) != 2 {
		t.Errorf("%d runs, want 2", len(sink.Runs()))
	}
}

// TestNewTracerProviderConcurrentFirst: first calls of NewTracerProvider
// racing on a new engine all get the one provider the engine keeps, and
// the spans each starts count in it (run with -race).
func TestNewTracerProviderConcurrentFirst(t *testing.T) {
	e, _ := newTestEngine(t)
	const n = 8
	got := make([]*TracerProvider, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			got[i] = NewTracerProvider(e)
			_, s := got[i].Tracer("t").Start(context.Background(), "r")
			s.End()
		})
	}
	wg.Wait()
	for i, p := range got {
		if p != got[0] {
			t.Fatalf("call %d got another provider", i)
		}
	}
	if st := got[0].Stats(); st.RunsStarted != n {
		t.Errorf("Stats %+v, want %d runs", st, n)
	}
}
