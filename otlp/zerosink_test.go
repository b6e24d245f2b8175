package otlp

import (
	"context"
	"errors"
	"testing"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
)

// TestZeroSink: the zero Sink never panics (every method did, a nil
// exporter dereferenced): behind an engine its spans are counted as
// dropped by the sink, and its lifecycle calls say it was not made by
// NewSink.
func TestZeroSink(t *testing.T) {
	var s Sink
	e, err := engine.New(engine.WithSink(&s))
	if err != nil {
		t.Fatal(err)
	}
	e.StartRun(engine.RunInfo{FlowID: "f"}).End(0, "")
	if err := e.Shutdown(context.Background()); !errors.Is(err, export.ErrNotStarted) {
		t.Errorf("engine Shutdown with a zero Sink: %v, want export.ErrNotStarted", err)
	}
	if st := e.Stats(); st.Drops(engine.DropSink) != 1 || st.Exported != 0 || st.InFlight != 0 {
		t.Errorf("stats %+v, want the run's span dropped by the sink", st)
	}
	if err := s.ExportLogs([]*encode.Run{{}}); !errors.Is(err, export.ErrNotStarted) {
		t.Errorf("ExportLogs: %v", err)
	}
	if err := s.ForceFlush(context.Background()); !errors.Is(err, export.ErrNotStarted) {
		t.Errorf("ForceFlush: %v", err)
	}
	s.ExportMetrics(encode.GetBuffer(), 1)
	if s.MemoryBytes() != 0 || s.SinkStats() != (engine.SinkStats{}) || len(s.AppendMetrics(nil, engine.MetricsWindow{})) != 0 {
		t.Error("the zero Sink reports something")
	}
}
