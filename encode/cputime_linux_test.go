//go:build linux

package encode_test

import (
	"testing"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/testkit"
)

// TestCPUTime prints, with -cputime, the thread CPU time each encoder
// takes on the benchmarks' batches, the least of 40 samples of about 5 ms,
// in the benchmark format (for benchstat):
//
//	go test -run TestCPUTime -v ./encode/ -cputime
//
// On the project's shared 2-core VMs the wall-clock benchmarks vary by
// ±50 % while other work runs; this figure, which the other processes of
// the machine do not count, varies by 2-5 %.
func TestCPUTime(t *testing.T) {
	testkit.NeedCPUTime(t)
	runs := otlpBenchBatch()
	e := encode.NewEncoder(otlpBenchResource)
	cpuTimeOf("EncodeTraces", otlpBenchSpans, "span", func(b []byte) []byte { return e.AppendTraces(b, runs) })
	cpuTimeOf("EncodeLogs", len(runs), "record", func(b []byte) []byte { return e.AppendLogs(b, runs) })
	lg := loadgenBatch()
	cpuTimeOf("EncodeTracesLoadgen", encode.NumSpans(lg), "span", func(b []byte) []byte { return e.AppendTraces(b, lg) })
	res, ms := metricsSample()
	points := 0
	for _, m := range ms {
		points += len(m.Points)
	}
	cpuTimeOf("AppendMetrics", points, "point", func(b []byte) []byte { return encode.AppendMetrics(b, res, ms) })
	rs := benchSpans(512)
	se := encode.NewSpanEncoder()
	cpuTimeOf("AppendSpans", 512, "span", func(b []byte) []byte { return se.AppendSpans(b, rs) })
}

// cpuTimeOf prints the least thread CPU time appendTo takes over 40
// samples of about 5 ms, per call and per item (n items of unit).
func cpuTimeOf(name string, n int, unit string, appendTo func(buf []byte) []byte) {
	buf := appendTo(nil)
	testkit.PrintCPUTime(name, n, unit, func() { buf = appendTo(buf[:0]) })
}
