package engine

import (
	"context"
	"testing"
	"time"
)

// captureCases are the calls the capture benchmarks measure: a node
// without attributes, one with 8, and a run of no node.
var captureCases = []struct {
	name string
	f    func(e *Engine, run Run)
}{
	{"node/attrs0", func(e *Engine, run Run) { run.StartNode("llm:1", "llm", "LLM").End() }},
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

// BenchmarkCapture measures the caller's cost of capture: what a workflow
// engine pays per node or run. The pipeline drains in the background into
// a discarding sink, as it would into an exporter.
func BenchmarkCapture(b *testing.B) {
	for _, c := range captureCases {
		for _, parallel := range []bool{false, true} {
			name := c.name
			if parallel {
				name += "/parallel"
			}
			b.Run(name, func(b *testing.B) {
				// Each run holds up to 64 nodes; the run is ended and a new
				// one started every 64 iterations so records recycle. The
				// ring is small so that records in flight stay few and are
				// reused, as in a steady workload; the warm-up allocates them.
				e, err := New(WithRingCapacity(512), WithBatch(4096, 5*time.Millisecond))
				if err != nil {
					b.Fatal(err)
				}
				defer e.Shutdown(context.Background())
				loop := func(n int, next func() bool) {
					run := e.StartRun(RunInfo{FlowID: "flow"})
					i := 0
					for n--; n >= 0 || (next != nil && next()); n-- {
						c.f(e, run)
						if i++; i == 64 {
							run.End(0, "")
							run = e.StartRun(RunInfo{FlowID: "flow"})
							i = 0
						}
					}
					run.End(0, "")
				}
				warm(b, e, 1024, 64)
				loop(1<<16, nil)
				if err := e.ForceFlush(context.Background()); err != nil {
					b.Fatal(err)
				}
				before := e.Stats()
				b.ReportAllocs()
				b.ResetTimer()
				if parallel {
					b.RunParallel(func(pb *testing.PB) { loop(0, pb.Next) })
				} else {
					loop(b.N, nil)
				}
				b.StopTimer()
				s := e.Stats()
				b.ReportMetric(float64(s.Dropped-before.Dropped)/float64(max(s.Accepted-before.Accepted, 1)), "dropped/span")
			})
		}
	}
}

// BenchmarkCaptureCaller measures the caller's cost alone: every 64
// iterations the timer stops while the pipeline drains what was captured
// (ForceFlush), so the pipeline never competes for the CPU during the
// timed calls and every record is warm and reused. On a machine with a
// core to spare for the pipeline, this is what a workflow engine pays.
func BenchmarkCaptureCaller(b *testing.B) {
	for _, c := range captureCases {
		b.Run(c.name, func(b *testing.B) {
			e, err := New(WithBatch(4096, time.Hour))
			if err != nil {
				b.Fatal(err)
			}
			defer e.Shutdown(context.Background())
			warm(b, e, 256, 64)
			b.ReportAllocs()
			run := e.StartRun(RunInfo{FlowID: "flow"})
			i := 0
			for b.Loop() {
				c.f(e, run)
				if i++; i == 64 {
					b.StopTimer()
					run.End(0, "")
					if err := e.ForceFlush(context.Background()); err != nil {
						b.Fatal(err)
					}
					run = e.StartRun(RunInfo{FlowID: "flow"})
					i = 0
					b.StartTimer()
				}
			}
			run.End(0, "")
			if s := e.Stats(); s.Dropped != 0 {
				b.Fatalf("dropped %d", s.Dropped)
			}
		})
	}
}
