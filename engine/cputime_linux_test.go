//go:build linux

package engine

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/flowtel/flowtel/internal/testkit"
)

// TestCPUTime prints, with -cputime, the thread CPU time of a latency
// record on a resolved series (RequestSeries.Record) and of the
// OpenTelemetry Go SDK's Float64Histogram.Record with the same 3
// attributes as a prebuilt set, serially: the least of 40 samples of
// 100,000 calls, the two sides' samples in turn (cpuTimesOf), 6 times,
// and the caller's cost of a node and of a run (see captureCPUTime), in
// the benchmark format (for benchstat):
//
//	go test -run TestCPUTime -v ./engine/ -cputime | grep ^Benchmark
//
// On the project's shared 2-core VMs the wall-clock BenchmarkRecordLatency
// varies by ±100 % while other work runs; this figure, which the other
// processes of the machine do not count, varies by 1-2 %.
func TestCPUTime(t *testing.T) {
	testkit.NeedCPUTime(t)
	_, series, hist, opts := latencyRecorders(t)
	ctx := context.Background()
	for range 6 {
		cpuTimesOf([]string{"RecordLatency/serial/flowtel", "RecordLatency/serial/otelsdk"},
			func(i int) { series.Record(time.Duration(i&1023) * time.Microsecond) },
			func(i int) { hist.Record(ctx, float64(i&1023), opts...) })
	}
	captureCPUTime(t)
}

// captureCPUTime prints the caller's thread CPU time of a node without
// attributes and of one with 8 (BenchmarkCaptureCaller/node/attrs0 and
// attrs8), of the SDK's span with the same 8 attributes through a batch
// processor with a large queue and blocking (node/attrs8/otelsdk-tuned),
// and of a run without nodes (StartRun and Run.End, run): a sample is 64
// nodes of one run (or 64 runs, or the SDK's 64 spans under a root), the
// pipeline drained after it (its goroutines run on other threads, which
// this clock does not count); the least of 40 samples, 6 times. The
// cases' samples are taken in turn, as in cpuTimesOf, so that a phase of
// the shared host, or a collection the SDK's garbage starts, meets every
// case's samples alike.
//
// Each figure is the least sample less the least empty sample (the two
// clock reads alone, printed as empty-sample, per sample), over 64. The
// thread clock is a system call (there is no vDSO path for it; on the
// project's VM, with page table isolation, 1.25-1.9 us): that much of the
// pair falls inside every sample, 20-30 ns a node, which measured the
// clock, not the caller (attrs8 81 ns where the sample's own wall time,
// read inside it with nanotime, was 57.5; less the empty sample, 58.7).
// Within a sample the two clocks then agree to 1-2 ns a node at 64, 256
// and 1,024 nodes a sample, so 64, the shape of BenchmarkCaptureCaller,
// is kept. Both clocks also read about 140 ns instead of 60-80 for whole
// runs of the test: the records then come back from the other vCPU,
// where the pipeline's thread released them (pinned to one CPU, no run
// did); BenchmarkCaptureCaller pays the same.
//
// The SDK's samples start once its garbage has filled the heap twice
// (sdkSteady): before, its allocations faulted fresh pages in, 6.5 us a
// span against 1.4-1.9.
func captureCPUTime(t *testing.T) {
	e, err := New(WithBatch(4096, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	warm(t, e, 256, 64)
	// Steady state: the clock read from the counter, which the pipeline
	// calibrates once the engine is 10 ms old (see clock); before, the
	// first sample measured time.Since instead (121-274 ns against 78-100).
	for i := 0; i < 100 && e.clock.mult.Load() == 0; i++ {
		time.Sleep(2 * time.Millisecond)
		if err := e.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// The warm-up's garbage, collected now, not in the first samples (a
	// collection's mark phase slowed them by half).
	runtime.GC()
	tp := sdktrace.NewTracerProvider(tunedBatcher(&countingExporter{}))
	defer tp.Shutdown(context.Background())
	tr := tp.Tracer("github.com/flowtel/flowtel")
	kvs := sdkAttrs8()
	sdkSteady(t, tp, tr, kvs)
	const per = 64
	flush := func(f interface{ ForceFlush(context.Context) error }) {
		if err := f.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	node := func(f func(e *Engine, run Run)) func() int64 {
		return func() int64 {
			run := e.StartRun(RunInfo{FlowID: "flow"})
			t0 := testkit.ThreadCPU()
			for range per {
				f(e, run)
			}
			d := testkit.ThreadCPU() - t0
			run.End(0, "")
			flush(e)
			return d
		}
	}
	type sample struct {
		name string
		f    func() int64
	}
	samples := []sample{{"empty-sample", func() int64 {
		t0 := testkit.ThreadCPU()
		return testkit.ThreadCPU() - t0
	}}}
	for _, c := range captureCases {
		switch c.name {
		case "node/attrs0", "node/attrs8":
			samples = append(samples, sample{c.name + "/flowtel", node(c.f)})
		case "run":
			f := c.f
			samples = append(samples, sample{"run/flowtel", func() int64 {
				t0 := testkit.ThreadCPU()
				for range per {
					f(e, Run{})
				}
				d := testkit.ThreadCPU() - t0
				flush(e)
				return d
			}})
		}
	}
	// By name: an index measured node/next on a zero Run once the list grew.
	if len(samples) != 4 {
		t.Fatalf("captureCases lacks node/attrs0, node/attrs8 or run: %d samples", len(samples))
	}
	samples = append(samples, sample{"node/attrs8/otelsdk-tuned", func() int64 {
		c, root := tr.Start(context.Background(), "workflow_run")
		t0 := testkit.ThreadCPU()
		for range per {
			_, sp := tr.Start(c, "run_node:llm:1")
			sp.SetAttributes(kvs...)
			sp.End()
		}
		d := testkit.ThreadCPU() - t0
		root.End()
		flush(tp)
		return d
	}})
	least := make([]int64, len(samples))
	for range 6 {
		for k := range least {
			least[k] = 1 << 62
		}
		for range 40 {
			for k, s := range samples {
				least[k] = min(least[k], s.f())
			}
		}
		fmt.Printf("BenchmarkCPUTime/CaptureCaller/%s\t%d\t%d ns/op\n", samples[0].name, 40, least[0])
		for k, s := range samples[1:] {
			fmt.Printf("BenchmarkCPUTime/CaptureCaller/%s\t%d\t%.1f ns/op\n", s.name, 40*per, float64(least[k+1]-least[0])/per)
		}
	}
}

// cpuTimesOf prints, as cpuTimeOf does, the least thread CPU time of
// 100,000 calls of each of fs over 40 samples, per call, named names, the
// samples of the fs taken in turn: each f's least is then over the same
// stretch of the run. One after the other, a record's 40 samples (35 ms)
// sometimes fell wholly in one of the shared host's slow phases (tens of
// milliseconds, 1.4x) while the SDK's (750 ms) always caught a fast one.
func cpuTimesOf(names []string, fs ...func(i int)) {
	const per = 100_000
	least := make([]int64, len(fs))
	for k := range least {
		least[k] = 1 << 62
	}
	for range 40 {
		for k, f := range fs {
			least[k] = min(least[k], testkit.LeastCPU(1, per, f))
		}
	}
	for k, name := range names {
		fmt.Printf("BenchmarkCPUTime/%s\t%d\t%.2f ns/op\n", name, 40*per, float64(least[k])/per)
	}
}

// cpuTimeOf prints the least thread CPU time of 100,000 calls of f over
// 40 samples, per call.
func cpuTimeOf(name string, f func(i int)) {
	const per = 100_000
	least := testkit.LeastCPU(40, per, f)
	fmt.Printf("BenchmarkCPUTime/%s\t%d\t%.2f ns/op\n", name, 40*per, float64(least)/per)
}
