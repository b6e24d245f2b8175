//go:build linux

package encode_test

import (
	"testing"

	"github.com/flowtel/flowtel/encode"
)

// BenchmarkEncodeLogsLoadgenDRAM is BenchmarkEncodeLogsLoadgen with the
// batch cycled through 160 copies of it, out of the cache, as in the
// pipeline: the wall-clock twin of TestRunLogCPUTime's
// EncodeLogsLoadgen/dram, for profiles.
func BenchmarkEncodeLogsLoadgenDRAM(b *testing.B) {
	runs := loadgenBatch()
	sets := make([][]*encode.Run, 160)
	for i := range sets {
		sets[i] = cloneBatch(runs)
	}
	e := encode.NewEncoder(otlpBenchResource)
	k := 0
	benchAppend(b, len(runs), "record", func(buf []byte) []byte {
		k++
		return e.AppendLogs(buf, sets[k%len(sets)])
	})
}
