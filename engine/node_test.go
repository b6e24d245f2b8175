package engine

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
)

// TestNodeFailureMarking checks the original's failure marking: Error
// marks the node failed without ending it, Fail fails and ends it
// without a Go error, Cancel ends it as cancelled; each shows in the
// record (running_status, status, log entries) and in the node metrics.
func TestNodeFailureMarking(t *testing.T) {
	sink := &MemorySink{}
	e := newMetricsEngine(t, WithSink(sink), WithBatch(64, time.Millisecond))
	run := e.StartRun(RunInfo{})
	errored := run.StartNode("plugin:1", "plugin", "tool")
	errored.Error("tool failed with 500")
	errored.Error("retry failed")
	if !errored.IsRecording() {
		t.Fatal("Error ended the node")
	}
	errored.End()
	failed := run.StartNode("plugin:2", "plugin", "tool")
	failed.Fail("no answer")
	if failed.IsRecording() {
		t.Fatal("Fail left the node open")
	}
	cancelled := run.StartNode("plugin:3", "plugin", "tool")
	cancelled.Cancel("")
	ok := run.StartNode("plugin:4", "plugin", "tool")
	ok.Info("fine")
	ok.End()
	run.End(0, "")
	flush(t, e)

	byID := map[string]encode.Node{}
	for _, n := range sink.Runs()[0].Nodes {
		byID[n.NodeID] = *n
	}
	for _, tc := range []struct {
		id        string
		running   bool
		msg       string
		cancelled bool
		logs      int
	}{
		{"plugin:1", false, "tool failed with 500", false, 2},
		{"plugin:2", false, "no answer", false, 1},
		{"plugin:3", false, "cancelled", true, 0},
		{"plugin:4", true, "", false, 1},
	} {
		n := byID[tc.id]
		if n.Running() != tc.running || n.StatusMessage != tc.msg || n.Cancelled != tc.cancelled || len(n.Events) != tc.logs {
			t.Errorf("%s: running %v, status message %q, cancelled %v, %d logs; want %v, %q, %v, %d",
				tc.id, n.Running(), n.StatusMessage, n.Cancelled, len(n.Events), tc.running, tc.msg, tc.cancelled, tc.logs)
		}
		if n.Incomplete || n.EndUnixNano == 0 {
			t.Errorf("%s: not ended by its owner", tc.id)
		}
	}

	d := collectOTLP(t, e)
	for status, want := range map[string]int64{NodeStatusOK: 1, NodeStatusError: 2, NodeStatusCancelled: 1} {
		if p := d.one(t, MetricNodeExecutions, map[string]string{"node_type": "plugin", "status": status}); p.value != want {
			t.Errorf("node executions with status %s: %d, want %d", status, p.value, want)
		}
	}
}

// TestFirstFrames checks the two first-frame setters of a node and the
// run's own first frame: the span and the log write one number.
func TestFirstFrames(t *testing.T) {
	sink := &MemorySink{}
	e, err := New(WithSink(sink), WithBatch(64, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	run := e.StartRun(RunInfo{})
	llm := run.StartNode("spark-llm:1", "基础节点", "LLM")
	llm.FirstTokenCost(1204 * time.Millisecond)
	llm.FirstTokenCost(1250 * time.Millisecond) // the last call counts
	time.Sleep(2 * time.Millisecond)
	llm.FirstFrame()
	ff := llm // a second FirstFrame keeps the first
	time.Sleep(2 * time.Millisecond)
	ff.FirstFrame()
	llm.End()
	run.FirstFrame()
	run.End(0, "")
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := sink.Runs()[0]
	n := r.Nodes[0]
	if !n.HasFirstTokenCost || n.FirstTokenCostNano != int64(1250*time.Millisecond) {
		t.Errorf("first token cost %d (set %v)", n.FirstTokenCostNano, n.HasFirstTokenCost)
	}
	// Lower bounds only: the second FirstFrame came 2 ms after the first,
	// and End right after it.
	if n.FirstFrameUnixNano < n.StartUnixNano+int64(2*time.Millisecond) || n.EndUnixNano-n.FirstFrameUnixNano < int64(2*time.Millisecond) {
		t.Errorf("node first frame at %d, start %d, end %d: want the first call's", n.FirstFrameUnixNano, n.StartUnixNano, n.EndUnixNano)
	}
	if got, want := n.FirstFrameMillis(), n.FirstFrameUnixNano/1e6-n.StartUnixNano/1e6; got != want {
		t.Errorf("node first frame %d ms, want %d", got, want)
	}
	if got, ok := r.FirstFrameMillis(); !ok || r.FirstFrameUnixNano < n.EndUnixNano || got != r.FirstFrameUnixNano/1e6-r.StartUnixNano/1e6 {
		t.Errorf("run first frame %d ms (%v) at %d, want the run's own, after the node's end %d", got, ok, r.FirstFrameUnixNano, n.EndUnixNano)
	}
}

// TestNodeAttributesAndEvents checks SetAttributes (raw keys, within
// Limits.Attrs with the node's other attributes), SetCode and events given
// as data, as the MemorySink's copies show them.
func TestNodeAttributesAndEvents(t *testing.T) {
	sink := &MemorySink{}
	e, err := New(WithSink(sink), WithBatch(64, time.Millisecond), WithLimits(Limits{Attrs: 5}))
	if err != nil {
		t.Fatal(err)
	}
	run := e.StartRun(RunInfo{})
	n := run.StartNode("spark-llm:1", "基础节点", "LLM")
	n.Input(String("q", "hi"))
	n.SetAttributes(String("gen_ai.operation.name", "chat"), String("gen_ai.request.model", "spark-4"))
	n.SetCode(10001)
	n.InfoEvent(Float64("llm first token cost: ", 1.2))
	n.ErrorEvent(String("error", "rate limited"), String("over", "the limit")) // one over Limits.Attrs
	n.End()
	run.End(0, "")
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := sink.Runs()[0].Nodes[0]
	if len(got.Attrs) != 2 || got.Attrs[1].Key != "gen_ai.request.model" || got.Attrs[1].Value.Str() != "spark-4" {
		t.Errorf("attributes %+v", got.Attrs)
	}
	if !got.HasCode || got.Code != 10001 {
		t.Errorf("code %d (%v)", got.Code, got.HasCode)
	}
	if len(got.Events) != 2 || len(got.Events[0].Attrs) != 1 || got.Events[0].Attrs[0].Value.Float64() != 1.2 ||
		got.Events[1].Kind != encode.EventError || len(got.Events[1].Attrs) != 1 {
		t.Errorf("events %+v", got.Events)
	}
	if got.Running() || got.DroppedAttrs != 1 || e.Stats().AttrsDropped != 1 {
		t.Errorf("running %v, dropped attributes %d (stats %d): want false, 1, 1", got.Running(), got.DroppedAttrs, e.Stats().AttrsDropped)
	}
	if log := string(encode.AppendRunLog(nil, &sink.Runs()[0])); !strings.Contains(log, `\"message\": \"{'llm first token cost: ': 1.2}\"`) {
		t.Errorf("run log lacks the event's dict text: %s", log)
	}
}

// TestStartChild checks nodes below a node: the parent of each child's
// span, the open child ended with the run, the run log's trace listing
// every execution, and a stale handle starting nothing.
func TestStartChild(t *testing.T) {
	e, sink := newTestEngine(t)
	run := e.StartRun(RunInfo{SID: "sid"})
	it := run.StartNode("iteration:1", "iteration", "Iteration")
	inner := it.StartChild("llm:1", "llm", "LLM")
	retry := inner.StartChild("llm:1", "llm", "LLM retry")
	retry.End()
	inner.End()
	it.StartChild("plugin:1", "plugin", "tool") // left open
	it.End()
	run.End(0, "")
	flush(t, e)
	r := sink.Runs()[0]
	byName := map[string]*encode.Node{}
	for _, n := range r.Nodes {
		byName[n.NodeName] = n
	}
	if len(r.Nodes) != 4 {
		t.Fatalf("%d nodes, want 4", len(r.Nodes))
	}
	for name, parent := range map[string]encode.SpanID{
		"Iteration": {},
		"LLM":       byName["Iteration"].SpanID,
		"LLM retry": byName["LLM"].SpanID,
		"tool":      byName["Iteration"].SpanID,
	} {
		if n := byName[name]; n == nil || n.ParentSpanID != parent {
			t.Errorf("node %q: %+v, want parent %x", name, n, parent)
		}
	}
	if tool := byName["tool"]; !tool.Incomplete || tool.StatusMessage != msgNodeOpen {
		t.Errorf("open child %+v", tool)
	}
	log := string(encode.AppendRunLog(nil, &r))
	for _, name := range []string{"Iteration", "LLM", "LLM retry", "tool"} {
		if !strings.Contains(log, `"node_name":"`+name+`"`) {
			t.Errorf("run log lacks %q: %s", name, log)
		}
	}

	// it ended and its run was exported: its record is free for reuse (by
	// the next run's node when the engine hands it out), and the stale
	// handle starts no child.
	next := e.StartRun(RunInfo{})
	live := next.StartNode("llm:9", "llm", "live")
	stale := e.Stats().StaleCalls
	if c := it.StartChild("plugin:9", "plugin", "stale"); c.IsRecording() {
		t.Errorf("a stale node started a child")
	}
	live.End()
	next.End(0, "")
	flush(t, e)
	if got := e.Stats().StaleCalls - stale; got != 1 {
		t.Errorf("stale calls %d, want 1", got)
	}
	if n := sink.Runs()[1].Nodes; len(n) != 1 || n[0].NodeName != "live" {
		t.Errorf("next run's nodes %+v", n)
	}
}

// TestNodeSpanIDs checks the ids nodeSpanID derives from a run's span id:
// never zero, never the run's, and distinct across a run's nodes, also
// for the run id whose first node's input is zero.
func TestNodeSpanIDs(t *testing.T) {
	var zeroFirst encode.SpanID
	binary.BigEndian.PutUint64(zeroFirst[:], 1<<64-0x9e3779b97f4a7c15)
	for _, run := range []encode.SpanID{{1}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, zeroFirst, newSpanID()} {
		seen := make(map[encode.SpanID]int, 1<<16)
		for i := range 1 << 16 {
			id := nodeSpanID(run, i)
			if id.IsZero() || id == run {
				t.Fatalf("run %x node %d: id %x", run, i, id)
			}
			if j, dup := seen[id]; dup {
				t.Fatalf("run %x: nodes %d and %d share id %x", run, j, i, id)
			}
			seen[id] = i
		}
	}
}
