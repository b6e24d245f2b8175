package otlp

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
)

// TestBurstWaitsForQueue: a burst of 10,000 runs with their run logs, much
// larger than the exporter's queue, reaches a real receiver whole. New's
// exporter makes the engine's export stage (its only caller) wait for room
// instead of dropping (exporter.queue_full): the rings behind it hold every
// run in flight. The queue here is 256 KiB, and the receiver answers each
// request after 2 ms, so the queue is full for most of the burst, as the
// default 64 MiB queue is with a burst of large runs.
func TestBurstWaitsForQueue(t *testing.T) {
	rc := otlptest.Start(t, otlptest.GRPC, func(otlptest.Call) otlptest.Reply {
		return otlptest.Reply{Sleep: 2 * time.Millisecond}
	})
	e, err := New(export.Config{Endpoint: rc.Endpoint(), Insecure: true, QueueBytes: 256 << 10},
		engine.WithMetrics(engine.MetricsConfig{NoExport: true}))
	if err != nil {
		t.Fatal(err)
	}
	const runs, nodes = 10000, 2
	answer := strings.Repeat("x", 200)
	for range runs {
		r := e.StartRun(engine.RunInfo{FlowID: "flow", AppID: "app"})
		for range nodes {
			n := r.StartNode("llm:1", "llm", "LLM")
			n.Input(engine.String("q", "hello"))
			n.Output(engine.String("a", answer))
			n.End()
		}
		r.End(0, answer)
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := e.Stats()
	checkIdentity(t, s)
	xs, _ := ExporterStats(e)
	for _, sig := range []export.Signal{export.Traces, export.Logs} {
		if st := xs.Signals[sig]; st.DroppedTotal() != 0 || st.Rejected != 0 {
			t.Errorf("%v: the exporter dropped %v", sig, st.Dropped)
		}
	}
	if s.Dropped != 0 || s.Exported != runs*(nodes+1) {
		t.Errorf("engine: %d exported, %d dropped, want %d and 0", s.Exported, s.Dropped, runs*(nodes+1))
	}
	if got := rc.Items(); got[otlptest.Traces] != runs*(nodes+1) || got[otlptest.Logs] != runs {
		t.Errorf("received %d spans and %d run logs, want %d and %d", got[otlptest.Traces], got[otlptest.Logs], runs*(nodes+1), runs)
	}
}
