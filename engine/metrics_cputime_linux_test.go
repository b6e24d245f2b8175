//go:build linux

package engine

import (
	"fmt"
	"testing"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/testkit"
)

// TestObserveRunCPUTime prints, with -cputime, the thread CPU time per node
// of the pipeline's metric fold (observeRun) of a run of 64 nodes of one
// type, as BenchmarkCapture's, of 64 nodes of four types in turn, and of
// a run of 10 nodes of the loadgen's synthetic workload's 8 types (the
// memo's and the fold's working set, see seriesMemo), and of genAIRun's
// 7 nodes of GenAI operations (the GenAI families): the least of 40
// samples of 2,000 runs, 6 times each, in the benchmark format:
//
//	go test -run TestObserveRunCPUTime -v ./engine/ -cputime | grep ^Benchmark
func TestObserveRunCPUTime(t *testing.T) {
	testkit.NeedCPUTime(t)
	e := newMetricsEngine(t, WithMetrics(MetricsConfig{NoExport: true}))
	names := []string{"64x1type", "64x4types", "synthetic", "genai"}
	runs := map[string]*encode.Run{"genai": genAIRun()}
	synthetic := []string{"start", "llm", "tool", "code", "knowledge", "llm", "tool", "decision", "message", "node-end"}
	runs["synthetic"] = &encode.Run{AppID: "a", FlowID: "f", EndUnixNano: 1e6}
	for i, typ := range synthetic {
		r := runs["synthetic"]
		r.Nodes = append(r.Nodes, &encode.Node{NodeType: typ, StartUnixNano: 1000, EndUnixNano: 1000 + int64(i)*1000})
	}
	for _, name := range names[:2] {
		r := &encode.Run{AppID: "a", FlowID: "f", EndUnixNano: 1e6}
		for i := range 64 {
			typ := "llm"
			if name == "64x4types" {
				typ = [...]string{"llm", "tool", "code", "start"}[i%4]
			}
			r.Nodes = append(r.Nodes, &encode.Node{NodeType: typ, StartUnixNano: 1000, EndUnixNano: 1000 + int64(i)*1000})
		}
		runs[name] = r
	}
	const per = 2000
	for range 6 {
		for _, name := range names {
			k := len(runs[name].Nodes)
			least := testkit.LeastCPU(40, per, func(int) { e.metrics.observeRun(runs[name]) })
			fmt.Printf("BenchmarkCPUTime/ObserveRun/nodes=%s\t%d\t%.2f ns/op\n", name, 40*per*k, float64(least)/per/float64(k))
		}
	}
}
