package otlp

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
)

// TestZeroSinkCountsRunLogs: the run trace logs a zero Sink is given
// (engine.TailPolicy.RunLogAlways hands it those of the runs sampled out)
// are counted one per run log in
// flowtel_export_items_total{signal="logs",result="not_started"},
// cumulative and delta. They were counted nowhere: the engine's
// Stats.SinkErrors counts one per failed call, a batch of any number of
// run logs.
func TestZeroSinkCountsRunLogs(t *testing.T) {
	const runs = 10
	var s Sink
	e, err := engine.New(engine.WithSink(&s), engine.WithMetricsExporter(&s), engine.WithMetrics(engine.MetricsConfig{Interval: time.Hour}),
		engine.WithBatch(1024, time.Hour),
		engine.WithTailSampling(engine.TailPolicy{RunLogAlways: true, Decide: func(engine.RunView) engine.TailDecision { return engine.TailDrop }}))
	if err != nil {
		t.Fatal(err)
	}
	for range runs {
		e.StartRun(engine.RunInfo{FlowID: "f"}).End(0, "")
	}
	_ = e.Shutdown(context.Background()) // ErrNotStarted: TestZeroSink
	if st := e.Stats(); st.SinkErrors >= runs {
		t.Fatalf("the runs' logs were not handed over in fewer calls than runs (SinkErrors %d): the test needs a batch", st.SinkErrors)
	} else if st.RunLogsDropped != runs {
		t.Errorf("engine Stats.RunLogsDropped %d, want %d", st.RunLogsDropped, runs)
	}
	if n := notStartedOf(t, &s, export.Logs, engine.MetricsWindow{}); n != runs {
		t.Errorf("run logs counted not_started: %d, want %d", n, runs)
	}
	if err := s.ExportLogs([]*encode.Run{{}, {}, {}}); !errors.Is(err, export.ErrNotStarted) {
		t.Fatalf("ExportLogs: %v", err)
	}
	if n := notStartedOf(t, &s, export.Logs, engine.MetricsWindow{Delta: true}); n != runs+3 {
		t.Errorf("first delta: %d, want %d", n, runs+3)
	}
	_ = s.ExportLogs([]*encode.Run{{}})
	if n := notStartedOf(t, &s, export.Logs, engine.MetricsWindow{Delta: true}); n != 1 {
		t.Errorf("second delta: %d, want 1", n)
	}
	if n := notStartedOf(t, &s, export.Logs, engine.MetricsWindow{}); n != runs+4 {
		t.Errorf("cumulative: %d, want %d", n, runs+4)
	}
}

// notStartedOf returns the zero Sink's not_started point of signal sig.
func notStartedOf(t *testing.T, s *Sink, sig export.Signal, w engine.MetricsWindow) uint64 {
	t.Helper()
	ms := s.AppendMetrics(nil, w)
	if len(ms) != 1 || ms[0].Name != MetricExportItems {
		t.Fatalf("zero Sink's metrics %+v", ms)
	}
	for _, p := range ms[0].Points {
		if len(p.Attrs) == 2 && p.Attrs[0].Value.Str() == sig.String() && strings.EqualFold(p.Attrs[1].Value.Str(), resultNotStarted) {
			return uint64(p.Int)
		}
	}
	t.Fatalf("no not_started point of %s in %+v", sig, ms[0].Points)
	return 0
}
