//go:build linux

package bench

import (
	"fmt"
	"testing"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/testkit"
)

// TestCPUTime prints, with -cputime, the thread CPU time the count decoder
// takes on the encode benchmarks' 512-span batch, the least of 40 samples
// of about 5 ms, in the benchmark format (for benchstat):
//
//	go test -run TestCPUTime -v ./bench/ -cputime
func TestCPUTime(t *testing.T) {
	testkit.NeedCPUTime(t)
	runs := flowtelBatch(batchRuns, nodesPerRun)
	buf := encode.NewEncoder(encode.Resource{ServiceName: "bench"}).AppendTraces(nil, runs)
	spans := encode.NumSpans(runs)
	count := func() {
		if n, _, err := CountSpans(buf); err != nil || n != uint64(spans) {
			t.Fatalf("CountSpans = %d, %v", n, err)
		}
	}
	per := 0
	for t0 := testkit.ThreadCPU(); testkit.ThreadCPU()-t0 < 5e6; per++ {
		count()
	}
	least := testkit.LeastCPU(40, per, func(int) { count() })
	ns := float64(least) / float64(per)
	fmt.Printf("BenchmarkCPUTime/CountSpans\t%d\t%.0f ns/op\t%.1f ns/span\n", 40*per, ns, ns/float64(spans))
}
