//go:build linux

package encode_test

import (
	"testing"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/testkit"
)

// TestRunLogCPUTime prints, with -cputime, the thread CPU time of the run
// trace log on loadgen-shaped batches (loadgenBatch), in the benchmark
// format: the JSON alone (AppendRunLog, per run), the OTLP logs request
// (AppendLogs, per record) with its batch in the cache, and the same with
// the batch cycled through 160 copies of it, out of the cache, as in the
// pipeline (see TestCPUTimeCold):
//
//	go test -run TestRunLogCPUTime -v ./encode/ -cputime
func TestRunLogCPUTime(t *testing.T) {
	testkit.NeedCPUTime(t)
	runs := loadgenBatch()
	cpuTimeOf("RunLogJSONLoadgen", len(runs), "run", func(b []byte) []byte {
		for _, r := range runs {
			b = encode.AppendRunLog(b, r)
		}
		return b
	})
	e := encode.NewEncoder(otlpBenchResource)
	cpuTimeOf("EncodeLogsLoadgen/hot", len(runs), "record", func(b []byte) []byte { return e.AppendLogs(b, runs) })
	sets := make([][]*encode.Run, 160)
	for i := range sets {
		sets[i] = cloneBatch(runs)
	}
	k := 0
	cpuTimeOf("EncodeLogsLoadgen/dram", len(runs), "record", func(b []byte) []byte {
		k++
		return e.AppendLogs(b, sets[k%len(sets)])
	})
}
