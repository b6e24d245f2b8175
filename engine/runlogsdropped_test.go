package engine

import (
	"context"
	"testing"
	"time"
)

// TestRunLogsDropped: the run logs of runs sampled out
// (TailPolicy.RunLogAlways) still to export when Shutdown's deadline has
// passed are dropped and counted one a run in Stats.RunLogsDropped; they
// were counted nowhere, only said in an error message. (The sink's
// ExportLogs failing: otlp's TestZeroSinkCountsRunLogs.)
func TestRunLogsDropped(t *testing.T) {
	const runs = 10
	sink := &MemorySink{}
	e, err := New(WithSink(sink), WithBatch(1024, time.Hour), WithErrorHandler(func(error) {}),
		WithTailSampling(TailPolicy{RunLogAlways: true, Decide: func(RunView) TailDecision { return TailDrop }}))
	if err != nil {
		t.Fatal(err)
	}
	for range runs {
		e.StartRun(RunInfo{FlowID: "f"}).End(0, "")
	}
	past, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	_ = e.Shutdown(past)
	_ = e.Shutdown(context.Background()) // waits for the first
	if st := e.Stats(); st.RunLogsDropped != runs || st.SampledOut != runs || len(sink.LogRuns()) != 0 {
		t.Errorf("run logs dropped %d, sampled out %d, exported %d, want %d, %d and 0", st.RunLogsDropped, st.SampledOut, len(sink.LogRuns()), runs, runs)
	}
}
