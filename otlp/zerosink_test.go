package otlp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

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
	if s.MemoryBytes() != 0 || s.SinkStats() != (engine.SinkStats{}) {
		t.Error("the zero Sink reports something")
	}
}

// TestZeroSinkCountsMetrics: the metrics requests a zero Sink is given as
// the engine's metrics exporter are dropped and their points counted, in
// flowtel_export_items_total{signal="metrics",result="not_started"} of
// its collections, cumulative and delta, and in the engine's Prometheus
// exposition. They were dropped uncounted.
func TestZeroSinkCountsMetrics(t *testing.T) {
	var s Sink
	e, err := engine.New(engine.WithSink(&s), engine.WithMetricsExporter(&s), engine.WithMetrics(engine.MetricsConfig{Interval: time.Hour}))
	if err != nil {
		t.Fatal(err)
	}
	e.StartRun(engine.RunInfo{FlowID: "f"}).End(0, "")
	_ = e.Shutdown(context.Background()) // ErrNotStarted: TestZeroSink
	engineSent := notStarted(t, &s, engine.MetricsWindow{})
	if engineSent == 0 {
		t.Fatal("the engine's last metrics request at Shutdown was not counted")
	}
	s.ExportMetrics(encode.GetBuffer(), 7)
	s.ExportMetrics(nil, 3)
	if n := notStarted(t, &s, engine.MetricsWindow{}); n != engineSent+10 {
		t.Errorf("cumulative: %d points, want %d", n, engineSent+10)
	}
	if n := notStarted(t, &s, engine.MetricsWindow{Delta: true}); n != engineSent+10 {
		t.Errorf("first delta: %d, want %d", n, engineSent+10)
	}
	s.ExportMetrics(nil, 2)
	if n := notStarted(t, &s, engine.MetricsWindow{Delta: true}); n != 2 {
		t.Errorf("second delta: %d, want 2", n)
	}
	want := fmt.Sprintf(`flowtel_export_items_total{signal="metrics",result="not_started"} %d`, engineSent+12)
	if prom := string(e.AppendPrometheus(nil)); !strings.Contains(prom, want) {
		t.Errorf("Prometheus exposition lacks %s", want)
	}
}

// notStarted returns the value of the zero Sink's metrics point.
func notStarted(t *testing.T, s *Sink, w engine.MetricsWindow) uint64 {
	t.Helper()
	return notStartedOf(t, s, export.Metrics, w)
}
