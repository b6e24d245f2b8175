package hdr

import (
	"runtime"
	"sync/atomic"

	"github.com/flowtel/flowtel/internal/pin"
)

// shardBytes is the size every per-P shard is padded to, as sync.Pool pads
// its per-P locals: two 64-byte lines, because amd64's spatial prefetcher
// fetches lines in pairs (shards one line apart would still contend) and
// some arm64 cores (Apple's) have 128-byte lines.
const shardBytes = 128

// counterShard is one P's part of a Counter, on its own cache lines.
type counterShard struct {
	n atomic.Uint64
	_ [shardBytes - 8]byte
}

// Counter is a monotonic counter sharded per P: Add touches only the
// current P's cache line, and Value sums the shards. Create it with
// NewCounter.
//
// A Counter attached to a Histogram (Histogram.Attach) is also counted by
// that Histogram's RecordCounted, in a plain tally of the shard the record
// writes, which the Histogram's collector adds to the Counter; Value
// collects the Histogram first, so it sees every record that returned.
type Counter struct {
	shards []counterShard
	// host is where RecordCounted tallies this Counter: nil until an
	// Attach, then the Histogram and its tally slot (or noHost).
	host atomic.Pointer[attachment]
}

// attachment is a Counter's tally slot in a Histogram.
type attachment struct {
	h    *Histogram
	slot int
}

// noHost marks a Counter that could not be attached (its Histogram had no
// free slot), so that Attach does not try again.
var noHost = &attachment{}

// NewCounter returns a Counter with one shard per P.
func NewCounter() *Counter {
	return &Counter{shards: make([]counterShard, runtime.GOMAXPROCS(0))}
}

// Add adds n.
func (c *Counter) Add(n uint64) {
	c.add(pin.Pin(), n)
	pin.Unpin()
}

// add adds n to the shard of the P pid.
func (c *Counter) add(pid int, n uint64) {
	if pid < len(c.shards) {
		c.shards[pid].n.Add(n)
		return
	}
	// A P id beyond the shards (GOMAXPROCS grew) shares shard pid%len;
	// the add is atomic, so sharing costs only contention. The modulo is
	// kept off the common path: it is a division, several nanoseconds.
	c.shards[uint(pid)%uint(len(c.shards))].n.Add(n)
}

// Inc adds 1.
func (c *Counter) Inc() { c.Add(1) }

// Value returns the sum of all adds so far. Adds concurrent with Value may
// or may not be included.
func (c *Counter) Value() uint64 {
	if a := c.host.Load(); a != nil && a.h != nil {
		a.h.collect()
	}
	return c.ValueDrained()
}

// ValueDrained is Value without collecting the Histogram c is attached
// to: its adds, and the tallies collections have drained. After a Batch's
// Drain that held that Histogram, it counts every record that returned
// before the Drain began, with no fence of its own.
func (c *Counter) ValueDrained() uint64 {
	var t uint64
	for i := range c.shards {
		t += c.shards[i].n.Load()
	}
	return t
}
