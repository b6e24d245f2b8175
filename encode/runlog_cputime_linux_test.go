//go:build linux

package encode_test

import (
	"strings"
	"testing"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/testkit"
)

// TestRunLogCPUTime prints, with -cputime, the thread CPU time of the run
// trace log on loadgen-shaped batches (loadgenBatch), in the benchmark
// format: the JSON alone (AppendRunLog, per run; ZH: its long values in
// Chinese), the OTLP logs request
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
	// The same runs with their long values in Chinese, as a Chinese
	// LLM's output: valid UTF-8 that needs no escape.
	zh := cloneBatch(runs)
	const text = "大模型根据知识库检索结果，以流式输出回答用户的问题。"
	for _, r := range zh {
		r.Question = strings.Repeat(text, 2)
		for _, n := range r.Nodes {
			if n.LLMOutput != "" {
				n.LLMOutput = strings.Repeat(text, 4)
			}
		}
	}
	cpuTimeOf("RunLogJSONLoadgenZH", len(zh), "run", func(b []byte) []byte {
		for _, r := range zh {
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
