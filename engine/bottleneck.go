package engine

import (
	"cmp"
	"slices"

	"github.com/flowtel/flowtel/internal/hdr"
)

// Bottleneck is the performance of one node type since the engine
// started: the original's "performance bottleneck analysis" made concrete.
// Latencies are HDR percentiles in microseconds (within 1/1024 at the
// default precision) of every execution, failed ones included.
type Bottleneck struct {
	// NodeType is the node type, or "__overflow__" for the node types
	// past MetricsConfig.Limit. A node started with Node.StartChild counts
	// under its own type, with the other nodes of that type: to rank an
	// LLM node's tool calls apart from the workflow's tool nodes, give
	// them a type of their own (the loadgen's "tool-call").
	NodeType string
	// Count is the number of executions; Errors those that failed or were
	// never ended; ErrorRate is Errors/Count.
	Count, Errors uint64
	ErrorRate     float64
	// P50, P90, P99 and P999 are the 50th, 90th, 99th and 99.9th
	// percentiles of the duration, in microseconds; MeanMicros the mean.
	P50, P90, P99, P999 int64
	MeanMicros          float64
	// LatencyRank is the position of this node type by P99, slowest first
	// (1-based); ErrorRank its position by ErrorRate, highest first.
	LatencyRank, ErrorRank int
}

// Bottlenecks ranks the node types seen so far: the result is sorted by
// P99, slowest first (ties: higher error rate, then node type), and each
// entry also carries its rank by error rate (ties: more errors, then node
// type). Sort a copy with slices.SortFunc on ErrorRank to read the error
// ranking. It reads cumulative snapshots, so it may be called at any time
// from any goroutine; it allocates the result. The zero Engine returns
// nil.
func (e *Engine) Bottlenecks() []Bottleneck {
	if e == nil {
		return nil
	}
	m := e.metrics
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Bottleneck
	snap := &m.col.snap
	// All the node durations drained together, with one membarrier per P
	// (hdr.Batch), where a Snapshot each made one per series and P.
	hdr.AddVec(&m.col.batch, m.nodes, func(s *nodeSeries) *hdr.Histogram { return s.dur })
	m.col.batch.Drain()
	m.nodes.Each(func(lv *hdr.LabelValues, s *nodeSeries, overflow bool) {
		s.dur.SnapshotDrained(snap)
		if snap.Count == 0 {
			return
		}
		b := Bottleneck{
			NodeType: lv[0],
			Count:    s.ok.Load() + s.errs.Load(),
			Errors:   s.errs.Load(),
			P50:      snap.ValueAtQuantile(0.50),
			P90:      snap.ValueAtQuantile(0.90),
			P99:      snap.ValueAtQuantile(0.99),
			P999:     snap.ValueAtQuantile(0.999),

			MeanMicros: snap.Mean(),
		}
		if overflow {
			b.NodeType = hdr.OverflowValue
		}
		if b.Count > 0 {
			b.ErrorRate = float64(b.Errors) / float64(b.Count)
		}
		out = append(out, b)
	})
	slices.SortFunc(out, func(a, b Bottleneck) int {
		return cmp.Or(cmp.Compare(b.ErrorRate, a.ErrorRate), cmp.Compare(b.Errors, a.Errors), cmp.Compare(a.NodeType, b.NodeType))
	})
	for i := range out {
		out[i].ErrorRank = i + 1
	}
	slices.SortFunc(out, func(a, b Bottleneck) int {
		return cmp.Or(cmp.Compare(b.P99, a.P99), cmp.Compare(b.ErrorRate, a.ErrorRate), cmp.Compare(a.NodeType, b.NodeType))
	})
	for i := range out {
		out[i].LatencyRank = i + 1
	}
	return out
}
