package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
)

// TestRunBytesIDsWrittenTwice: a node's id, type and name are written
// twice in its run trace log record (node_id, node_type, node_name and
// their func_* copies) and its id twice on its span (the name
// "run_node:<id>" and node_id), the run's flow id twice on the run span
// (its name and flow_id): the run's log and spans must each hold at most
// Limits.RunBytes of strings (plus the fixed bytes of each record). The
// bound counted each once, so a run of long ids that fit it wrote them
// twice: its log was 1.9 times Limits.RunBytes.
func TestRunBytesIDsWrittenTwice(t *testing.T) {
	const budget, nodes = 64 << 10, 10
	sink := &MemorySink{}
	e, err := New(WithSink(sink), WithBatch(1, time.Millisecond), WithLimits(Limits{RunBytes: budget}))
	if err != nil {
		t.Fatal(err)
	}
	id := strings.Repeat("i", 2000)
	r := e.StartRun(RunInfo{FlowID: strings.Repeat("f", 2000)})
	for range nodes {
		n := r.StartNode(id+"n", id+"t", id+"m")
		n.End()
	}
	r.End(0, "")
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	runs := sink.Runs()
	if len(runs) != 1 || len(runs[0].Nodes) != nodes {
		t.Fatalf("%d runs exported", len(runs))
	}
	const fixed = 1 << 10 // keys, times, ids: what a record writes besides the strings
	if n := len(encode.AppendRunLog(nil, &runs[0])); n > budget+(nodes+1)*fixed {
		t.Errorf("the run log is %d bytes (%.1fx Limits.RunBytes %d)", n, float64(n)/budget, budget)
	}
	if n := len(encode.NewEncoder(encode.Resource{}).AppendTraces(nil, []*encode.Run{&runs[0]})); n > budget+(nodes+1)*fixed {
		t.Errorf("the run's spans are %d bytes (%.1fx Limits.RunBytes %d)", n, float64(n)/budget, budget)
	}
	if e.Stats().ValuesTruncated == 0 {
		t.Error("no cut counted")
	}
}
