package otlp

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
)

// TestTeeCountsRefusedRunLogs: the run trace logs a Tee's second sink
// refuses (a zero Sink, whose ExportLogs fails) are counted one per run
// log in its TeeStats.LogsRefused, as its refused spans are in Refused.
// They were counted as zero: Tee's ExportLogs counted 0 items an error,
// so the loss was seen only in the error kept.
func TestTeeCountsRefusedRunLogs(t *testing.T) {
	const runs = 10
	var zero Sink
	tee, err := engine.Tee(&engine.MemorySink{}, &zero)
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(engine.WithSink(tee), engine.WithBatch(1024, time.Hour),
		engine.WithTailSampling(engine.TailPolicy{RunLogAlways: true, Decide: func(engine.RunView) engine.TailDecision { return engine.TailDrop }}))
	if err != nil {
		t.Fatal(err)
	}
	for range runs {
		e.StartRun(engine.RunInfo{FlowID: "f"}).End(0, "")
	}
	if err := e.Shutdown(context.Background()); !errors.Is(err, export.ErrNotStarted) {
		t.Fatalf("Shutdown: %v, want the zero Sink's ErrNotStarted", err)
	}
	st := tee.Stats()
	if st[0].LogsRefused != 0 || st[1].LogsRefused != runs || !errors.Is(st[1].Err, export.ErrNotStarted) {
		t.Errorf("tee stats %+v: want the second sink's %d run logs refused", st, runs)
	}
}
