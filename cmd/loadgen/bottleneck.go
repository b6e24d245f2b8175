package main

import (
	"fmt"
	"io"

	"github.com/flowtel/flowtel/engine"
)

// bottleneckRow is one node type of the engine's bottleneck ranking, as
// the report prints it.
type bottleneckRow struct {
	NodeType    string  `json:"node_type"`
	Count       uint64  `json:"count"`
	ErrorRate   float64 `json:"error_rate"`
	P50Micros   int64   `json:"p50_us"`
	P99Micros   int64   `json:"p99_us"`
	P999Micros  int64   `json:"p99_9_us"`
	LatencyRank int     `json:"latency_rank"`
	ErrorRank   int     `json:"error_rank"`
}

// bottlenecks returns the engine's node bottleneck ranking (slowest p99
// first), or nil when e is nil (the SDK modes have none).
func bottlenecks(e *engine.Engine) []bottleneckRow {
	if e == nil {
		return nil
	}
	var rows []bottleneckRow
	for _, b := range e.Bottlenecks() {
		rows = append(rows, bottleneckRow{
			NodeType: b.NodeType, Count: b.Count, ErrorRate: b.ErrorRate,
			P50Micros: b.P50, P99Micros: b.P99, P999Micros: b.P999,
			LatencyRank: b.LatencyRank, ErrorRank: b.ErrorRank,
		})
	}
	return rows
}

func writeBottlenecks(w io.Writer, rows []bottleneckRow) {
	if len(rows) == 0 {
		fmt.Fprintf(w, "  node bottlenecks  none (the SDK has no per-node-type metrics)\n")
		return
	}
	fmt.Fprintf(w, "  node bottlenecks  (engine metrics, slowest p99 first; node durations here are the generator's, not real work)\n")
	fmt.Fprintf(w, "    %-4s %-12s %12s %8s %9s %9s %9s %6s\n", "rank", "node type", "count", "errors", "p50 µs", "p99 µs", "p99.9 µs", "e-rank")
	for _, r := range rows {
		fmt.Fprintf(w, "    %-4d %-12s %12s %7.2f%% %9d %9d %9d %6d\n", r.LatencyRank, r.NodeType, group(r.Count), 100*r.ErrorRate, r.P50Micros, r.P99Micros, r.P999Micros, r.ErrorRank)
	}
}
