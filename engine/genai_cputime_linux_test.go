//go:build linux

package engine

import (
	"testing"

	"github.com/flowtel/flowtel/internal/testkit"
)

// TestGenAICPUTime prints, with -cputime, the thread CPU time of folding
// genAIRun's five nodes (observeRun) with their GenAI attributes and
// without, alternately, and the caller's cost of Node.Chunk beside
// Node.Info, in the benchmark format:
//
//	go test -run TestGenAICPUTime -v ./engine/ -cputime | grep ^Benchmark | benchstat -col /genai -
func TestGenAICPUTime(t *testing.T) {
	testkit.NeedCPUTime(t)
	runs := map[string]*Engine{}
	for _, on := range []string{"off", "on"} {
		runs[on] = newMetricsEngine(t, WithMetrics(MetricsConfig{NoExport: true}))
	}
	off, on := genAIRun(), genAIRun()
	for _, n := range off.Nodes {
		n.Attrs = nil
	}
	for range 6 {
		cpuTimeOf("ObserveRun/genai=off", func(int) { runs["off"].metrics.observeRun(off) })
		cpuTimeOf("ObserveRun/genai=on", func(int) { runs["on"].metrics.observeRun(on) })
	}
	// The caller's cost of a chunk, beside Info, another call with one
	// clock reading (the node's events past Limits.Events are counted
	// drops, as a long stream's would be).
	r := runs["on"].StartRun(RunInfo{})
	n := r.StartNode("llm:1", "llm", "LLM")
	for range 6 {
		cpuTimeOf("NodeCall/call=Chunk", func(int) { n.Chunk() })
		cpuTimeOf("NodeCall/call=Info", func(int) { n.Info("chunk") })
	}
	n.End()
	r.End(0, "")
}
