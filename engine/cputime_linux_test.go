//go:build linux

package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/flowtel/flowtel/internal/testkit"
)

// TestCPUTime prints, with -cputime, the thread CPU time of a latency
// record on a resolved series (RequestSeries.Record) and of the
// OpenTelemetry Go SDK's Float64Histogram.Record with the same 3
// attributes as a prebuilt set, serially: the least of 40 samples of
// 100,000 calls, 6 times each, in the benchmark format (for benchstat):
//
//	go test -run TestCPUTime -v ./engine/ -cputime | grep ^Benchmark
//
// On the project's shared 2-core VMs the wall-clock BenchmarkRecordLatency
// varies by ±100 % while other work runs; this figure, which the other
// processes of the machine do not count, varies by 1-2 %.
func TestCPUTime(t *testing.T) {
	testkit.NeedCPUTime(t)
	_, series, hist, opt := latencyRecorders(t)
	ctx := context.Background()
	for range 6 {
		cpuTimeOf("RecordLatency/serial/flowtel", func(i int) { series.Record(time.Duration(i&1023) * time.Microsecond) })
		cpuTimeOf("RecordLatency/serial/otelsdk", func(i int) { hist.Record(ctx, float64(i&1023), opt) })
	}
}

// cpuTimeOf prints the least thread CPU time of 100,000 calls of f over
// 40 samples, per call.
func cpuTimeOf(name string, f func(i int)) {
	const per = 100_000
	least := testkit.LeastCPU(40, per, f)
	fmt.Printf("BenchmarkCPUTime/%s\t%d\t%.2f ns/op\n", name, 40*per, float64(least)/per)
}
