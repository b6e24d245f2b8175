package hdr

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestBatchDrainsHistogramHeldByReader checks Batch's promise that a read
// after Drain sees every record that returned before it, while another
// collector reads the same Histogram without draining it (a tail policy's
// SnapshotDrained racing a scrape's Drain): a Histogram whose lock the
// reader held was left undrained, so the read after Drain missed records.
func TestBatchDrainsHistogramHeldByReader(t *testing.T) {
	h := mustNew(t, Config{})
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		var s Snapshot
		for !stop.Load() {
			h.SnapshotDrained(&s)
		}
	})
	defer func() { stop.Store(true); wg.Wait() }()
	var b Batch
	var s Snapshot
	for i := int64(1); i <= 5000; i++ {
		h.Record(i)
		b.Add(h)
		b.Drain()
		h.SnapshotDrained(&s)
		if s.Count != uint64(i) {
			t.Fatalf("after %d records and a Drain, a read counts %d", i, s.Count)
		}
	}
}
