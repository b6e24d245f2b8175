package engine

import (
	"context"
	"testing"
)

// BenchmarkCapture measures the caller's cost of capture: what a workflow
// engine pays per node or run. The pipeline drains in the background into
// a discarding sink, as it would into an exporter.
func BenchmarkCapture(b *testing.B) {
	cases := []struct {
		name string
		f    func(e *Engine, run Run)
	}{
		{"node/attrs0", func(e *Engine, run Run) {
			run.StartNode("llm:1", "llm", "LLM").End()
		}},
		{"node/attrs8", func(e *Engine, run Run) {
			n := run.StartNode("llm:1", "llm", "LLM")
			n.Input(attrs8[0], attrs8[1], attrs8[2], attrs8[3])
			n.Output(attrs8[4], attrs8[5])
			n.Config(attrs8[6], attrs8[7])
			n.End()
		}},
		{"run", func(e *Engine, _ Run) {
			e.StartRun(RunInfo{FlowID: "flow", AppID: "app", UID: "u", ChatID: "c"}).End(0, "success")
		}},
	}
	for _, c := range cases {
		for _, parallel := range []bool{false, true} {
			name := c.name
			if parallel {
				name += "/parallel"
			}
			b.Run(name, func(b *testing.B) {
				// Each run holds up to 64 nodes; the run is ended and a new
				// one started every 64 iterations so records recycle.
				e, err := New(WithLimits(Limits{RunsInFlight: 1 << 16}), WithRingCapacity(1<<14))
				if err != nil {
					b.Fatal(err)
				}
				defer e.Shutdown(context.Background())
				b.ReportAllocs()
				loop := func(next func() bool) {
					run := e.StartRun(RunInfo{FlowID: "flow"})
					i := 0
					for next() {
						c.f(e, run)
						if i++; i == 64 {
							run.End(0, "")
							run = e.StartRun(RunInfo{FlowID: "flow"})
							i = 0
						}
					}
					run.End(0, "")
				}
				if parallel {
					b.RunParallel(func(pb *testing.PB) { loop(pb.Next) })
				} else {
					loop(b.Loop)
				}
				b.StopTimer()
				s := e.Stats()
				b.ReportMetric(float64(s.Dropped)/float64(max(s.Accepted, 1)), "dropped/span")
			})
		}
	}
}
