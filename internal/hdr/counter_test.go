package hdr

import (
	"sync"
	"testing"
	"unsafe"
)

func TestCounterConcurrent(t *testing.T) {
	c := NewCounter()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10_000 {
				c.Inc()
			}
			c.Add(5)
		})
	}
	wg.Wait()
	if got := c.Value(); got != 8*10_005 {
		t.Fatalf("Value = %d, want %d", got, 8*10_005)
	}
}

// TestShardLayout: a Counter's and a Histogram's per-P shards are exactly
// shardBytes, so that neighbouring Ps never share a prefetched pair of lines.
func TestShardLayout(t *testing.T) {
	if n := unsafe.Sizeof(counterShard{}); n != shardBytes {
		t.Errorf("counterShard is %d bytes, want %d", n, shardBytes)
	}
	if n := unsafe.Sizeof(shard{}); n != shardBytes {
		t.Errorf("shard is %d bytes, want %d", n, shardBytes)
	}
}
