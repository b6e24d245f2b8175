package encode_test

import (
	"testing"

	"github.com/flowtel/flowtel/encode"
)

// BenchmarkEncodeLogsLoadgen is AppendLogs on loadgenBatch, the shape of
// the load generator's runs (64 run trace logs): the wall-clock twin of
// TestRunLogCPUTime's EncodeLogsLoadgen/hot, for profiles.
func BenchmarkEncodeLogsLoadgen(b *testing.B) {
	runs := loadgenBatch()
	e := encode.NewEncoder(otlpBenchResource)
	benchAppend(b, len(runs), "record", func(buf []byte) []byte { return e.AppendLogs(buf, runs) })
}
