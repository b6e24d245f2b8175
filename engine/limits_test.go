package engine

import (
	"context"
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
)

// TestValueBytesEveryString is the regression test of Limits.ValueBytes
// left off node ids, node types, node names and attribute keys (1 MiB each
// went through untouched): every string a caller hands in is now cut, and
// each cut counted.
func TestValueBytesEveryString(t *testing.T) {
	const limit = 100
	sink := &MemorySink{}
	e, err := New(WithSink(sink), WithBatch(64, time.Millisecond), WithLimits(Limits{ValueBytes: limit}))
	if err != nil {
		t.Fatal(err)
	}
	huge := strings.Repeat("é", 1<<19) // 1 MiB, cut at a rune boundary
	r := e.StartRun(RunInfo{Parent: SpanContext{TraceID: encode.TraceID{1}, SpanID: encode.SpanID{1}, TraceState: huge, Sampled: true}})
	r.Srv(huge, "v")
	r.SrvTag(huge, "v")
	r.SetAttributes(String(huge, "v"))
	n := r.StartNode(huge, huge, huge)
	n.Input(String(huge, "v"))
	n.Output(Int(huge, 1))
	n.Config(Bytes(huge, nil))
	n.End()
	r.End(0, "")
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	runs := sink.Runs()
	if len(runs) != 1 || len(runs[0].Nodes) != 1 {
		t.Fatalf("runs %+v", runs)
	}
	run, node := runs[0], runs[0].Nodes[0]
	// The tracestate is not a prefix: an invalid one (as this is) is
	// dropped, a valid one loses whole members (TestParentTraceStateBounded).
	if run.TraceState != "" {
		t.Errorf("tracestate of %d bytes kept", len(run.TraceState))
	}
	strs := []string{run.Srv[0].Key, run.SrvTag[0].Key, run.Attrs[0].Key,
		node.NodeID, node.NodeType, node.NodeName, node.Input[0].Key, node.Output[0].Key, node.Config[0].Key}
	for i, s := range strs {
		if len(s) != limit || !strings.HasPrefix(huge, s) {
			t.Errorf("string %d: %d bytes, want %d, a prefix of the value", i, len(s), limit)
		}
	}
	// Srv also fills srv_tag (the original's add_srv): its key is cut
	// once more; the tracestate is one cut more.
	if s := e.Stats(); s.ValuesTruncated != uint64(len(strs)+2) {
		t.Errorf("ValuesTruncated = %d, want %d", s.ValuesTruncated, len(strs)+2)
	}
}

// TestNodesPerRunSettings is the regression test of NodesPerRun =
// math.MaxInt, which passed New and panicked on the first StartRun, and of
// NodesPerRun = 1<<20, which made every open run allocate 259 KiB up front.
func TestNodesPerRunSettings(t *testing.T) {
	for _, n := range []int{math.MaxInt, math.MaxInt32, maxNodesPerRun + 1, -1} {
		_, err := New(WithLimits(Limits{NodesPerRun: n}))
		if !errors.Is(err, ErrInvalidLimit) || !strings.Contains(err.Error(), "NodesPerRun") {
			t.Errorf("NodesPerRun = %d: %v, want an error naming NodesPerRun", n, err)
		}
	}
	sink := &MemorySink{}
	e, err := New(WithSink(sink), WithLimits(Limits{NodesPerRun: maxNodesPerRun}))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	const runs = 256
	held := make([]Run, runs)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range held {
		held[i] = e.StartRun(RunInfo{})
		held[i].StartNode("a:1", "a", "a").End()
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > 16<<10 {
		t.Errorf("an open run of one node allocated %d bytes", per)
	}
	for _, r := range held {
		r.End(0, "")
	}
	// A run past the inline chunks gets its directory, and gives it back.
	r := e.StartRun(RunInfo{})
	for range 1000 {
		r.StartNode("b:1", "b", "b").End()
	}
	r.End(0, "")
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := sink.Runs()
	nodes := 0
	for _, r := range got {
		nodes += len(r.Nodes)
	}
	if len(got) != runs+1 || nodes != runs+1000 {
		t.Fatalf("%d runs of %d nodes exported", len(got), nodes)
	}
	checkIdentity(t, e.Stats())
}
