//go:build linux

package bench

import (
	"bytes"
	"testing"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/testkit"
)

// TestCPUTime prints, with -cputime, the thread CPU time the count decoder
// takes on the encode benchmarks' 512-span batch (in one buffer, and in
// 16 KiB frames copied into one or counted where they are, in the cache
// or not), the least of 40 samples of about 5 ms, in the benchmark format
// (for benchstat):
//
//	go test -run TestCPUTime -v ./bench/ -cputime
func TestCPUTime(t *testing.T) {
	testkit.NeedCPUTime(t)
	runs := flowtelBatch(batchRuns, nodesPerRun)
	buf := encode.NewEncoder(encode.Resource{ServiceName: "bench"}).AppendTraces(nil, runs)
	spans := encode.NumSpans(runs)
	cpuTimeOf("CountSpans", spans, func() {
		if n, _, err := CountSpans(buf); err != nil || n != uint64(spans) {
			t.Fatalf("CountSpans = %d, %v", n, err)
		}
	})
	// The receiver's two ways with a request in 16 KiB frames: copied into
	// one buffer and counted, or counted frame by frame.
	var frames [][]byte
	for rest := buf; len(rest) > 0; rest = rest[min(len(rest), 16<<10):] {
		frames = append(frames, rest[:min(len(rest), 16<<10)])
	}
	one := make([]byte, 0, len(buf))
	cpuTimeOf("CountCopiedFrames", spans, func() {
		one = one[:0]
		for _, f := range frames {
			one = append(one, f...)
		}
		if n, _, err := CountSpans(one); err != nil || n != uint64(spans) {
			t.Fatalf("CountSpans = %d, %v", n, err)
		}
	})
	var c chunkCursor
	cpuTimeOf("CountFrames", spans, func() {
		if n, _, ok := c.countSpansChunks(frames); !ok || n != uint64(spans) {
			t.Fatalf("countSpansChunks = %d, %v", n, ok)
		}
	})
	// The receiver counts frames the reader goroutine copied out of the
	// socket's bytes moments before, on either core, so not in this core's
	// cache: copies of the request counted in turn, 34 MB of them.
	cold := make([][][]byte, 96)
	for i := range cold {
		for _, f := range frames {
			cold[i] = append(cold[i], bytes.Clone(f))
		}
	}
	k := 0
	cpuTimeOf("CountFramesCold", spans, func() {
		k = (k + 1) % len(cold)
		if n, _, ok := c.countSpansChunks(cold[k]); !ok || n != uint64(spans) {
			t.Fatalf("countSpansChunks = %d, %v", n, ok)
		}
	})
}

// cpuTimeOf prints the least thread CPU time f takes over 40 samples of
// about 5 ms, per call and per span (n spans a call).
func cpuTimeOf(name string, n int, f func()) { testkit.PrintCPUTime(name, n, "span", f) }
