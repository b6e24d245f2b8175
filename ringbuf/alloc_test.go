package ringbuf

import (
	"testing"
	"time"

	"github.com/flowtel/flowtel/internal/testkit"
)

// wantAllocs asserts, in a subtest called name, that f does not allocate.
func wantAllocs(t *testing.T, name string, f func()) {
	t.Helper()
	t.Run(name, func(t *testing.T) { testkit.WantAllocs(t, 0, f) })
}

// TestAllocs holds the allocation budget of every public method, including
// the overflow paths. Only a push that blocks may allocate.
func TestAllocs(t *testing.T) {
	type rec struct{ a, b int }
	v := &rec{1, 2}
	buf := make([]*rec, 0, 64)
	newRing := func(p Policy) *Sharded[*rec] {
		return mustNew(t, Config[*rec]{Shards: 2, Capacity: 16, Policy: p, BlockTimeout: time.Microsecond,
			OnDrop: func(*rec, Reason) {}})
	}

	for _, p := range []Policy{DropNewest, DropOldest, Block} {
		s := newRing(p)
		wantAllocs(t, "Push+Drain/"+p.String(), func() {
			s.Push(v)
			buf = s.Drain(buf[:0], cap(buf))
		})
	}

	full := newRing(DropNewest)
	for full.Push(v) {
	}
	wantAllocs(t, "Push/full/drop_newest", func() { full.Push(v) })

	evict := newRing(DropOldest)
	for i := 0; i < 64; i++ {
		evict.Push(v)
	}
	wantAllocs(t, "Push/full/drop_oldest", func() { evict.Push(v) })

	// A blocked push takes a timer from a pool and waits on a gate channel
	// made once per Drain that releases waiters; nobody drains here.
	block := newRing(Block)
	for block.Push(v) {
	}
	wantAllocs(t, "Push/full/block", func() { block.Push(v) })

	closed := newRing(DropNewest)
	closed.Close()
	wantAllocs(t, "Push/closed", func() { closed.Push(v) })

	s := newRing(DropNewest)
	wantAllocs(t, "Drain/empty", func() { buf = s.Drain(buf[:0], cap(buf)) })
	wantAllocs(t, "Wait/poll", func() { s.Wait(0) })
	wantAllocs(t, "Wake+Wait", func() { s.Wake(); s.Wait(time.Hour) })
	wantAllocs(t, "Wait/timeout", func() { s.Wait(time.Microsecond) })
	wantAllocs(t, "Stats", func() { _ = s.Stats() })
	wantAllocs(t, "Len", func() { _ = s.Len() })

	// A push that wakes a parked consumer sends on a buffered channel.
	parked := mustNew(t, Config[*rec]{Shards: 1, Capacity: 16, WakeAt: 1})
	wantAllocs(t, "Push/wakes consumer", func() {
		parked.state.Or(stateSleeping)
		parked.Push(v)
		parked.Wait(time.Hour)
		buf = parked.Drain(buf[:0], cap(buf))
	})
}
