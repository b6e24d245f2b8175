package ringbuf

import (
	"testing"
	"time"
)

// TestZeroSharded: every method of the zero Sharded returns (Push divided
// by its zero shard count, Capacity indexed no shard, Wait reset a nil
// timer): Push refuses, Wait reports a closed, empty ring.
func TestZeroSharded(t *testing.T) {
	var s Sharded[int]
	if s.Push(1) || s.Capacity() != 0 || s.Len() != 0 || len(s.Drain(nil, 8)) != 0 || s.Wait(time.Millisecond) || s.Shards() != 0 {
		t.Error("the zero Sharded holds something")
	}
	s.Wake()
	s.Close()
	if !s.Closed() || s.Stats() != (Stats{}) {
		t.Errorf("after Close: closed %v, stats %+v", s.Closed(), s.Stats())
	}
}
