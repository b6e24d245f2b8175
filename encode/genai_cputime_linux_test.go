//go:build linux

package encode_test

import (
	"testing"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/testkit"
)

// TestCPUTimeGenAI prints, with -cputime, the thread CPU time AppendTraces
// takes per span on loadgenGenAIBatch, the loadgen's synthetic workload
// with the GenAI attributes and tool calls, in the cache (hot) and with
// each record in memory of its own cycled through 160 batches (dram):
//
//	go test -run TestCPUTimeGenAI -v ./encode/ -cputime
func TestCPUTimeGenAI(t *testing.T) {
	testkit.NeedCPUTime(t)
	e := encode.NewEncoder(otlpBenchResource)
	base := loadgenGenAIBatch()
	spans := encode.NumSpans(base)
	for _, c := range []struct {
		name    string
		batches int
	}{{"hot", 1}, {"dram", 160}} {
		sets := make([][]*encode.Run, c.batches)
		sets[0] = base
		for i := 1; i < len(sets); i++ {
			sets[i] = cloneBatch(base)
		}
		buf := e.AppendTraces(nil, sets[0])
		k := 0
		testkit.PrintCPUTime("EncodeTracesGenAI/"+c.name, spans, "span", func() {
			buf = e.AppendTraces(buf[:0], sets[k%len(sets)])
			k++
		})
	}
}
