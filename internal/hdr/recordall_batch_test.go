package hdr

import (
	"runtime"
	"testing"
)

// TestRecordAllBatchesReconcile: writers record in batches of 32 values
// (as the engine's pipeline folds a run's node durations) while a
// collector takes delta and cumulative snapshots, with GOMAXPROCS raised
// after New so that some Ps have no shard and their batches take Record's
// locked extra buffer: every value is in exactly one delta, and the
// counts, sum, extremes and buckets reconcile exactly.
func TestRecordAllBatchesReconcile(t *testing.T) {
	h := mustNew(t, Config{})
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(len(h.shards) + 2))
	const writers, per, batch = 8, 4_000, 32
	bufs := make([][]int64, writers)
	recordWhileCollecting(t, h, writers, per,
		func(i int, v int64) {
			w := int((v - 1) / per) // v is w*per+i+1
			bufs[w] = append(bufs[w], v)
			if len(bufs[w]) == batch || i == per-1 {
				h.RecordAll(bufs[w])
				bufs[w] = bufs[w][:0]
			}
		},
		func(s *Snapshot) { h.Snapshot(s) })
}
