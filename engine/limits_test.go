package engine

import (
	"context"
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
	r := e.StartRun(RunInfo{Parent: SpanContext{TraceID: encode.TraceID{1}, SpanID: encode.SpanID{1}, TraceState: huge}})
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
	strs := []string{run.TraceState, run.Srv[0].Key, run.SrvTag[0].Key, run.Attrs[0].Key,
		node.NodeID, node.NodeType, node.NodeName, node.Input[0].Key, node.Output[0].Key, node.Config[0].Key}
	for i, s := range strs {
		if len(s) != limit || !strings.HasPrefix(huge, s) {
			t.Errorf("string %d: %d bytes, want %d, a prefix of the value", i, len(s), limit)
		}
	}
	if s := e.Stats(); s.ValuesTruncated != uint64(len(strs)) {
		t.Errorf("ValuesTruncated = %d, want %d", s.ValuesTruncated, len(strs))
	}
}
