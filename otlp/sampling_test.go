package otlp

import (
	"context"
	"testing"
	"time"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
)

// TestTailSamplingOverOTLP checks sampling through the real exporter and a
// loopback receiver: the failed run's spans arrive, the others are counted
// as sampled out, the identity holds with the sink's delivered count, and
// with RunLogAlways every run's log arrives.
func TestTailSamplingOverOTLP(t *testing.T) {
	rc := otlptest.Start(t, export.ProtocolGRPC, nil)
	e, err := New(export.Config{Protocol: export.ProtocolGRPC, Endpoint: rc.Endpoint()}, engine.WithBatch(64, time.Millisecond),
		engine.WithTailSampling(engine.TailPolicy{KeepErrors: true, RunLogAlways: true}))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 { // 10 runs of 3 nodes, the last failed
		r := e.StartRun(engine.RunInfo{FlowID: "f"})
		for range 3 {
			r.StartNode("a:1", "a", "a").End()
		}
		r.End(i/9*10001, "")
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := e.Stats()
	if s.Accepted != 40 || s.Exported != 4 || s.SampledOut != 36 || s.InFlight != 0 || s.Dropped != 0 {
		t.Fatalf("stats %+v; want 4 spans exported, 36 sampled out", s)
	}
	items := rc.Items()
	if items[otlptest.Traces] != 4 || items[otlptest.Logs] != 10 {
		t.Fatalf("received %v; want 4 spans and 10 run logs", items)
	}
}
