package engine

import (
	"context"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/sid"
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
	// A node as the loadgen's synthetic-v1 workload records most of them:
	// attrs8's calls, then the next node's id (Next), which makes it not
	// plain and writes the record's next ids (BenchmarkCapture recycles
	// records through thousands of runs, released on the other core).
	{"node/next", func(e *Engine, run Run) {
		n := run.StartNode("llm:1", "llm", "LLM")
		n.Input(attrs8[0], attrs8[1], attrs8[2], attrs8[3])
		n.Config(attrs8[6], attrs8[7])
		n.Output(attrs8[4], attrs8[5])
		n.Next("tool:2")
		n.End()
	}},
	{"run", func(e *Engine, _ Run) {
		e.StartRun(RunInfo{FlowID: "flow", AppID: "app", UID: "u", ChatID: "c"}).End(0, "success")
	}},
}

// BenchmarkCapture measures capture with the pipeline running beside the
// caller, lossless: the engine's overflow policy is Block (as the
// SDK's WithBlocking), so a full ring makes the caller wait instead of
// dropping, and the benchmark fails if any span was dropped. ns/op is the
// caller's wall time per span with the pipeline competing for the CPU;
// cpu-ns/span is the process's CPU time (user + system, every goroutine:
// caller, pipeline, GC) per span, measured until the pipeline has handed
// every span to the sink (ForceFlush); caller-cpu-ns/span (serial only) is
// the calling thread's share of it, so the rest is the pipeline's, the
// garbage collector's and the runtime's. BenchmarkCaptureCaller is the
// caller's cost alone.
//
// The engine has no sink (New's default discards the runs: nothing is
// encoded) and no metrics exporter (no metrics goroutine); the pipeline
// does all its per-run work: closing, ordering and counting the nodes, the
// metric fold (request series, node executions and durations by type,
// which Bottlenecks reads; the GenAI fold, which these nodes without
// attributes skip), the sampling decision, the batches, and the release
// of the records for reuse.
//
// The otelsdk cases are the OpenTelemetry Go SDK's span with the same 8
// attributes through a batch span processor into a discarding exporter:
// otelsdk with its defaults (queue 2048, batch 512, dropping when full:
// dropped/span says how many), otelsdk-tuned with what a performance-minded
// user would choose (queue 65536, batch 4096, blocking), which must be
// lossless.
func BenchmarkCapture(b *testing.B) {
	for _, c := range captureCases {
		for _, parallel := range []bool{false, true} {
			name := c.name
			if parallel {
				name += "/parallel"
			}
			b.Run(name, func(b *testing.B) {
				// Each run holds up to 64 nodes; the run is ended and a new
				// one started every 64 iterations so records recycle, as in
				// a steady workload; the warm-up allocates them. Block makes
				// a caller faster than the pipeline wait for it, so the
				// rings stay full and the records cycle through about 2,000
				// runs (hundreds of MB): the pipeline and the caller meet
				// them out of the CPU caches, as with many runs in flight.
				e, err := New(WithRingCapacity(512), WithBatch(4096, 5*time.Millisecond), WithOverflow(Block, time.Minute))
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
				// On 2 CPUs: 2 shards of 512 runs, beside a drain of 256
				// and a batch of 64 in the pipeline. Warming fewer
				// (1024 did) left the timed loop allocating the records of
				// the rest (about 60 B/op, 9% of its CPU time).
				warm(b, e, 2048, 64)
				loop(1<<16, nil)
				if err := e.ForceFlush(context.Background()); err != nil {
					b.Fatal(err)
				}
				// The warm-up allocated hundreds of MB of records: the
				// collection that triggers would otherwise mark them
				// during the timed loop, which allocates nothing, and be
				// counted in its cpu-ns/span.
				runtime.GC()
				before := e.Stats()
				cpu, caller := timeLoop(b, parallel, loop)
				reportLossless(b, e, before, cpu, caller)
			})
		}
	}
	for _, tuned := range []bool{false, true} {
		for _, parallel := range []bool{false, true} {
			name := "node/attrs8/otelsdk"
			if tuned {
				name += "-tuned"
			}
			if parallel {
				name += "/parallel"
			}
			b.Run(name, func(b *testing.B) { benchCaptureSDK(b, tuned, parallel) })
		}
	}
}

// benchCaptureSDK is BenchmarkCapture's node/attrs8 with the OpenTelemetry
// Go SDK: runs of 64 node spans under a root span, each node span with
// the 8 attributes.
func benchCaptureSDK(b *testing.B, tuned, parallel bool) {
	exp := &countingExporter{}
	var opts []sdktrace.BatchSpanProcessorOption
	if tuned {
		opts = append(opts, sdktrace.WithMaxQueueSize(1<<16), sdktrace.WithMaxExportBatchSize(4096), sdktrace.WithBlocking())
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, opts...))
	defer tp.Shutdown(context.Background())
	tr := tp.Tracer("github.com/flowtel/flowtel")
	kvs := sdkAttrs8()
	var started atomic.Int64
	loop := func(n int, next func() bool) {
		ctx, root := tr.Start(context.Background(), "workflow_run")
		spans := int64(1)
		i := 0
		for n--; n >= 0 || (next != nil && next()); n-- {
			_, sp := tr.Start(ctx, "run_node:llm:1")
			sp.SetAttributes(kvs...)
			sp.End()
			spans++
			if i++; i == 64 {
				root.End()
				ctx, root = tr.Start(context.Background(), "workflow_run")
				spans++
				i = 0
			}
		}
		root.End()
		started.Add(spans)
	}
	loop(1<<16, nil)
	if err := tp.ForceFlush(context.Background()); err != nil {
		b.Fatal(err)
	}
	started.Store(0)
	exp.n.Store(0)
	cpu, caller := timeLoop(b, parallel, loop)
	if err := tp.ForceFlush(context.Background()); err != nil {
		b.Fatal(err)
	}
	spans, exported := started.Load(), exp.n.Load()
	if tuned && exported != spans {
		b.Fatalf("%d of %d spans dropped with a blocking processor", spans-exported, spans)
	}
	reportCPU(b, cpu, caller, uint64(spans))
	b.ReportMetric(float64(spans-exported)/float64(max(spans, 1)), "dropped/span")
}

// countingExporter discards the SDK's spans, counting them.
type countingExporter struct{ n atomic.Int64 }

func (c *countingExporter) ExportSpans(_ context.Context, s []sdktrace.ReadOnlySpan) error {
	c.n.Add(int64(len(s)))
	return nil
}

func (*countingExporter) Shutdown(context.Context) error { return nil }

// sdkAttr is a as an OpenTelemetry attribute.
func sdkAttr(a Attr) attribute.KeyValue {
	switch v := a.Value; v.Kind() {
	case encode.KindInt64:
		return attribute.Int64(a.Key, v.Int64())
	case encode.KindFloat64:
		return attribute.Float64(a.Key, v.Float64())
	case encode.KindBool:
		return attribute.Bool(a.Key, v.Bool())
	}
	return attribute.String(a.Key, a.Value.Str())
}

// timeLoop times loop over b.N iterations, on every P when parallel (loop
// gets pb.Next then), reporting allocations, and returns the process CPU
// time at its start, for the cpu-ns/span metric, and, serially, the
// caller's thread CPU time in the loop (-1 in parallel or where there is no
// thread clock), for caller-cpu-ns/span.
func timeLoop(b *testing.B, parallel bool, loop func(n int, next func() bool)) (cpuStart, caller int64) {
	b.ReportAllocs()
	caller = -1
	if !parallel {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	cpuStart = processCPU()
	b.ResetTimer()
	if parallel {
		b.RunParallel(func(pb *testing.PB) { loop(0, pb.Next) })
	} else {
		t0 := threadCPU()
		loop(b.N, nil)
		if t0 >= 0 {
			caller = threadCPU() - t0
		}
	}
	b.StopTimer()
	return cpuStart, caller
}

// reportCPU reports the process's CPU time since cpuStart per span
// (cpu-ns/span) and, when known, the caller's (caller-cpu-ns/span): the
// difference is the pipeline's, the garbage collector's and the runtime's.
// reportLossless flushes e, fails b if a span accepted since before was
// dropped, and reports the CPU per span from cpuStart (reportCPU).
func reportLossless(b *testing.B, e *Engine, before Stats, cpuStart, caller int64) {
	b.Helper()
	if err := e.ForceFlush(context.Background()); err != nil {
		b.Fatal(err)
	}
	s := e.Stats()
	spans := s.Accepted - before.Accepted
	if d := s.Dropped - before.Dropped; d != 0 {
		b.Fatalf("%d of %d spans dropped: the benchmark must be lossless", d, spans)
	}
	reportCPU(b, cpuStart, caller, spans)
}

func reportCPU(b *testing.B, cpuStart, caller int64, spans uint64) {
	b.ReportMetric(float64(processCPU()-cpuStart)/float64(max(spans, 1)), "cpu-ns/span")
	if caller >= 0 {
		b.ReportMetric(float64(caller)/float64(max(spans, 1)), "caller-cpu-ns/span")
	}
}

// processCPU returns the CPU time the process has used, user and system,
// in nanoseconds.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkCaptureCaller measures the caller's cost alone: every 64
// iterations the timer stops while the pipeline drains what was captured
// (ForceFlush), so the pipeline never competes for the CPU during the
// timed calls and every record is warm and reused. On a machine with a
// core to spare for the pipeline, this is what a workflow engine pays.
//
// node/attrs8/otelsdk-tuned is node/attrs8 with the OpenTelemetry Go SDK
// in the same shape, for the ratio in the same run: 64 spans with the 8
// attributes under a root span, the timer stopped while the root ends and
// the batch processor (queue 65536, batch 4096, blocking: lossless, which
// it checks) drains.
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
	b.Run("node/attrs8/otelsdk-tuned", func(b *testing.B) {
		exp := &countingExporter{}
		tp := sdktrace.NewTracerProvider(tunedBatcher(exp))
		defer tp.Shutdown(context.Background())
		tr := tp.Tracer("github.com/flowtel/flowtel")
		kvs := sdkAttrs8()
		sdkSteady(b, tp, tr, kvs)
		spans := exp.n.Load()
		b.ReportAllocs()
		ctx, root := tr.Start(context.Background(), "workflow_run")
		i := 0
		for b.Loop() {
			_, sp := tr.Start(ctx, "run_node:llm:1")
			sp.SetAttributes(kvs...)
			sp.End()
			if i++; i == 64 {
				b.StopTimer()
				root.End()
				if err := tp.ForceFlush(context.Background()); err != nil {
					b.Fatal(err)
				}
				ctx, root = tr.Start(context.Background(), "workflow_run")
				spans += 64 + 1
				i = 0
				b.StartTimer()
			}
		}
		root.End()
		spans += int64(i) + 1
		if err := tp.ForceFlush(context.Background()); err != nil {
			b.Fatal(err)
		}
		if n := exp.n.Load(); n != spans {
			b.Fatalf("%d of %d spans dropped with a blocking processor", spans-n, spans)
		}
	})
}

// sdkSteady starts runs of 64 spans with kvs under a root span through tr
// until the garbage collector has completed two cycles, then flushes tp:
// the SDK's allocations then reuse heap pages the process has touched, as
// in a long-running one, where they otherwise faulted fresh pages in. In a
// process holding an engine's warmed records (about 43 MB, so the heap
// grows by as much before the next cycle), the SDK's span cost 6.5 us of
// thread CPU against 1.6 without them.
func sdkSteady(tb testing.TB, tp *sdktrace.TracerProvider, tr trace.Tracer, kvs []attribute.KeyValue) {
	tb.Helper()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	for start := ms.NumGC; ms.NumGC < start+2; runtime.ReadMemStats(&ms) {
		ctx, root := tr.Start(context.Background(), "workflow_run")
		for range 64 {
			_, sp := tr.Start(ctx, "run_node:llm:1")
			sp.SetAttributes(kvs...)
			sp.End()
		}
		root.End()
	}
	if err := tp.ForceFlush(context.Background()); err != nil {
		tb.Fatal(err)
	}
}

// tunedBatcher is the SDK's batch span processor into exp as a
// performance-minded user would set it: queue 65536, batch 4096, blocking
// when full (lossless).
func tunedBatcher(exp sdktrace.SpanExporter) sdktrace.TracerProviderOption {
	return sdktrace.WithBatcher(exp, sdktrace.WithMaxQueueSize(1<<16), sdktrace.WithMaxExportBatchSize(4096), sdktrace.WithBlocking())
}

// sdkAttrs8 is attrs8 as OpenTelemetry attributes.
func sdkAttrs8() []attribute.KeyValue {
	kvs := make([]attribute.KeyValue, len(attrs8))
	for i, a := range attrs8 {
		kvs[i] = sdkAttr(a)
	}
	return kvs
}

// BenchmarkCaptureInterleaved is BenchmarkCapture's serial node cases in
// the loadgen's shape (synthetic-v1, -block, a worker's 64 slots): the
// caller keeps 64 runs of 8 nodes open and advances them round robin, a
// node of each in turn, so that a run's next node starts 63 other nodes
// after its last, where BenchmarkCapture starts it at once. What a
// record's prefetch gains, and what the records cost, depend on that
// distance. The engine has WithSID, as the loadgen's: a run's SID is
// generated. Lossless, the pipeline beside the caller, records recycled
// through thousands of runs; cpu-ns/span and caller-cpu-ns/span as in
// BenchmarkCapture, per span accepted (a run's and its nodes').
func BenchmarkCaptureInterleaved(b *testing.B) {
	for _, c := range captureCases {
		if !strings.HasPrefix(c.name, "node/") {
			continue
		}
		b.Run(c.name, func(b *testing.B) {
			e, err := New(WithRingCapacity(512), WithBatch(4096, 5*time.Millisecond), WithOverflow(Block, time.Minute),
				WithSID(sid.Config{Sub: "spf", Location: "hf", IP: "127.0.164.187", Port: "20000"}))
			if err != nil {
				b.Fatal(err)
			}
			defer e.Shutdown(context.Background())
			const open, perRun = 64, 8
			var (
				runs  [open]Run
				nodes [open]int
				k     int
			)
			info := RunInfo{FlowID: "flow"}
			for i := range runs {
				runs[i] = e.StartRun(info)
			}
			loop := func(n int, _ func() bool) {
				for ; n > 0; n-- {
					c.f(e, runs[k])
					if nodes[k]++; nodes[k] == perRun {
						runs[k].End(0, "")
						runs[k], nodes[k] = e.StartRun(info), 0
					}
					if k++; k == open {
						k = 0
					}
				}
			}
			warm(b, e, 2048, 64)
			loop(1<<16, nil)
			if err := e.ForceFlush(context.Background()); err != nil {
				b.Fatal(err)
			}
			runtime.GC() // see BenchmarkCapture
			before := e.Stats()
			cpu, caller := timeLoop(b, false, loop)
			for i := range runs {
				runs[i].End(0, "")
			}
			reportLossless(b, e, before, cpu, caller)
		})
	}
}
