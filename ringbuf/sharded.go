package ringbuf

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Bits of Sharded.state.
const (
	stateSleeping uint32 = 1 << iota // The consumer is parked in Wait.
	stateClosed                      // Close was called.
)

// pick says how Push chooses a shard. Only procPin ships; the others exist
// so the benchmarks in the package doc can compare against it.
type pick uint8

const (
	pickProc   pick = iota // The caller's P: uncontended while goroutines stay on their P.
	pickRandom             // A random shard: no affinity, some producers collide.
)

// Sharded is a set of bounded multi-producer rings, one per P by default,
// drained by one consumer. See the package doc for the contract. Make one
// with New: the zero Sharded holds nothing, Push refuses every value
// (false, with no OnDrop to call nor stripe to count it in: the caller
// has its answer), Drain returns nothing and Wait returns false as on a
// closed, empty ring.
type Sharded[T any] struct {
	shards       []ring[T]
	n            uint
	policy       Policy
	pick         pick
	wakeAt       uint64
	blockTimeout time.Duration
	onDrop       func(T, Reason)
	_            [cacheLine]byte

	state atomic.Uint32 // stateSleeping | stateClosed; loaded on every push.
	_     [cacheLine - 4]byte

	// Consumer side.
	waitMu sync.Mutex // Serialises Wait so the timer has one owner.
	timer  *time.Timer
	wake   chan struct{} // Capacity 1: a wake-up is never lost and never blocks.
	next   atomic.Uint32 // The shard Drain starts at, rotated for fairness.

	// Block policy.
	waiters atomic.Int32 // Producers waiting for room.
	room    gate
	timers  sync.Pool // *time.Timer for blocked producers.
}

// New validates cfg and returns an empty Sharded ring. Its errors wrap
// ErrShards, ErrCapacityRange, ErrCapacityNotPowerOfTwo, ErrPolicy,
// ErrBlockTimeout or ErrWakeAt.
func New[T any](cfg Config[T]) (*Sharded[T], error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Sharded[T]{
		shards:       make([]ring[T], cfg.Shards),
		n:            uint(cfg.Shards),
		policy:       cfg.Policy,
		wakeAt:       uint64(cfg.WakeAt),
		blockTimeout: cfg.BlockTimeout,
		onDrop:       cfg.OnDrop,
		wake:         make(chan struct{}, 1),
	}
	for i := range s.shards {
		s.shards[i].init(cfg.Capacity)
	}
	// Since Go 1.23 a stopped timer keeps no stale tick, so Wait can Reset it
	// without draining its channel.
	s.timer = time.NewTimer(time.Hour)
	s.timer.Stop()
	return s, nil
}

// shard returns the index of the ring the caller pushes into.
func (s *Sharded[T]) shard() uint {
	var i uint
	if s.pick == pickProc {
		i = uint(currentP())
	} else {
		i = uint(rand.Uint32())
	}
	if i >= s.n {
		if s.n == 0 {
			return 0 // the zero Sharded: Push finds no shard 0
		}
		i %= s.n
	}
	return i
}

// spill stores v in the first shard after shard i that has room, and
// returns that shard and the position written. It runs only when shard i
// is full: a burst from one P (one producer goroutine ending many runs at
// once) then fills every shard before the overflow policy applies, so the
// rings hold Shards x Capacity values whatever P the producers run on.
func (s *Sharded[T]) spill(i uint, v T) (*ring[T], uint64, bool) {
	for k := uint(1); k < s.n; k++ {
		j := i + k
		if j >= s.n {
			j -= s.n
		}
		r := &s.shards[j]
		if pos, ok := r.tryPush(v); ok {
			return r, pos, true
		}
	}
	return nil, 0, false
}

// Push hands v to the consumer. It returns false if v was dropped, after
// calling OnDrop for it: the shard was full under DropNewest, no room came
// within BlockTimeout under Block, or the ring is closed. Under DropOldest
// it returns true and evicts the shard's oldest value (OnDrop with
// ReasonEvicted) instead. Push never allocates except when it blocks.
func (s *Sharded[T]) Push(v T) bool {
	i := s.shard()
	if i >= uint(len(s.shards)) {
		// The zero Sharded. The test stands in for the index's bounds
		// check, which the compiler drops: it costs Push nothing.
		return false
	}
	r := &s.shards[i]
	if s.state.Load()&stateClosed != 0 {
		return s.drop(r, v, ReasonClosed)
	}
	pos, ok := r.tryPush(v)
	if !ok {
		var into *ring[T]
		if into, pos, ok = s.spill(i, v); !ok {
			return s.overflow(i, v)
		}
		r = into
	}
	if s.state.Load()&stateSleeping != 0 {
		s.wakeIfDue(r, pos)
	}
	return true
}

// wakeIfDue wakes the parked consumer once the shard holds WakeAt values.
// pos is the position just written.
func (s *Sharded[T]) wakeIfDue(r *ring[T], pos uint64) {
	// The consumer may already have drained past pos; then nothing is due.
	if h := r.head.Load(); h <= pos && pos+1-h >= s.wakeAt {
		s.wakeSleeper()
	}
}

// wakeSleeper wakes the consumer if it is parked. Of all producers that see
// it parked, the one that clears the flag sends the wake-up.
func (s *Sharded[T]) wakeSleeper() {
	for {
		st := s.state.Load()
		if st&stateSleeping == 0 {
			return
		}
		if s.state.CompareAndSwap(st, st&^stateSleeping) {
			s.Wake()
			return
		}
	}
}

// drop counts v as dropped for reason and reports it; it returns false so
// Push can return its result.
func (s *Sharded[T]) drop(r *ring[T], v T, reason Reason) bool {
	r.dropped[reason].Add(1)
	if s.onDrop != nil {
		s.onDrop(v, reason)
	}
	return false
}

// overflow applies the policy to a push that found every shard full; i is
// the caller's shard, which counts the drop and, under DropOldest, gives
// up its oldest value.
func (s *Sharded[T]) overflow(i uint, v T) bool {
	r := &s.shards[i]
	switch s.policy {
	case DropOldest:
		return s.evictAndPush(r, v)
	case Block:
		return s.block(i, v)
	}
	s.wakeSleeper() // A full shard is past WakeAt; make sure someone drains it.
	return s.drop(r, v, ReasonFull)
}

// evictAndPush removes the oldest value of r until v fits. The loop is
// lock-free, not wait-free: it only repeats while other goroutines push
// into or drain the same shard.
func (s *Sharded[T]) evictAndPush(r *ring[T], v T) bool {
	for {
		if old, ok := r.tryPop(); ok {
			s.drop(r, old, ReasonEvicted)
		}
		if pos, ok := r.tryPush(v); ok {
			if s.state.Load()&stateSleeping != 0 {
				s.wakeIfDue(r, pos)
			}
			return true
		}
		if s.state.Load()&stateClosed != 0 {
			return s.drop(r, v, ReasonClosed)
		}
		// Neither worked: a Drain has claimed the oldest slots and not yet
		// released them. Yield instead of spinning, in case that consumer
		// was preempted on this very P.
		runtime.Gosched()
	}
}

// block waits for Drain to make room in any shard, for Close, or for
// BlockTimeout.
func (s *Sharded[T]) block(i uint, v T) bool {
	r := &s.shards[i]
	s.wakeSleeper()
	t, _ := s.timers.Get().(*time.Timer)
	if t == nil {
		t = time.NewTimer(s.blockTimeout)
	} else {
		t.Reset(s.blockTimeout)
	}
	defer func() {
		t.Stop()
		s.timers.Put(t)
	}()
	s.waiters.Add(1)
	defer s.waiters.Add(-1)
	for {
		// Take the gate before retrying: a Drain after the failed retry
		// sees waiters > 0 and opens this very gate, so no wake-up is lost.
		room := s.room.wait()
		if s.state.Load()&stateClosed != 0 {
			return s.drop(r, v, ReasonClosed)
		}
		into, pos, ok := r, uint64(0), false
		if pos, ok = r.tryPush(v); !ok {
			into, pos, ok = s.spill(i, v)
		}
		if ok {
			if s.state.Load()&stateSleeping != 0 {
				s.wakeIfDue(into, pos)
			}
			return true
		}
		select {
		case <-room:
		case <-t.C:
			return s.drop(r, v, ReasonTimeout)
		}
	}
}

// Drain appends up to max values to dst and returns it. It takes values
// from every shard in turn, starting from a shard that rotates between
// calls, so one busy shard cannot starve the others. It never blocks and
// allocates only when dst lacks room for max more values.
func (s *Sharded[T]) Drain(dst []T, max int) []T {
	if max <= 0 || s.n == 0 { // s.n: the zero Sharded
		return dst
	}
	start := uint(s.next.Add(1))
	got := 0
	for got < max {
		rem := max - got
		quota := rem / int(s.n) // Each shard's share of what is left, rounded up.
		if rem%int(s.n) != 0 {
			quota++
		}
		progress := false
		for i := uint(0); i < s.n && got < max; i++ {
			r := &s.shards[(start+i)%s.n]
			var k int
			dst, k = r.popN(dst, min(quota, max-got))
			got += k
			if k > 0 {
				r.popped.Add(uint64(k))
				progress = true
			}
		}
		if !progress {
			break
		}
	}
	if got > 0 && s.waiters.Load() > 0 {
		s.room.open()
	}
	return dst
}

// due reports whether some shard holds at least WakeAt values.
func (s *Sharded[T]) due() bool {
	for i := range s.shards {
		if s.shards[i].size() >= s.wakeAt {
			return true
		}
	}
	return false
}

// Wait parks the consumer until a shard holds WakeAt values, Wake or Close
// is called, or timeout passes, and returns at once if one of these already
// holds. It returns false only when the ring is closed and empty. A timeout
// of zero or less polls. Wait may return early once after a wake-up that
// raced with a timeout; callers drain and wait again. Wait does not spin
// and does not allocate. Calls to Wait are serialised.
func (s *Sharded[T]) Wait(timeout time.Duration) bool {
	if s.timer == nil {
		return false // the zero Sharded
	}
	s.waitMu.Lock()
	defer s.waitMu.Unlock()
	if s.state.Load()&stateClosed != 0 {
		return s.Len() > 0
	}
	if timeout <= 0 || s.due() {
		return true
	}
	s.state.Or(stateSleeping)
	// Producers publish a value, then load state; the consumer publishes
	// stateSleeping, then loads the cursors. With sequentially consistent
	// atomics one of the two sees the other, so a due wake-up is never lost.
	if !s.due() && s.state.Load()&stateClosed == 0 {
		s.timer.Reset(timeout)
		select {
		case <-s.wake:
		case <-s.timer.C:
		}
		s.timer.Stop()
	}
	s.state.And(^stateSleeping)
	if s.state.Load()&stateClosed != 0 {
		return s.Len() > 0
	}
	return true
}

// Wake wakes the consumer now, or makes its next Wait return at once. It
// is how flush requests reach the consumer without going through the rings.
func (s *Sharded[T]) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Close makes every later push drop its value with ReasonClosed, releases
// blocked producers (they drop with ReasonClosed) and wakes the consumer.
// Values already stored stay for Drain. Close is idempotent.
func (s *Sharded[T]) Close() {
	s.state.Or(stateClosed)
	s.room.open()
	s.Wake()
}

// Closed reports whether Close was called.
func (s *Sharded[T]) Closed() bool { return s.state.Load()&stateClosed != 0 }

// Len returns the number of values in the rings, counting pushes and
// drains in progress.
func (s *Sharded[T]) Len() int {
	var n uint64
	for i := range s.shards {
		n += s.shards[i].size()
	}
	return int(n)
}

// Shards returns the number of shards.
func (s *Sharded[T]) Shards() int { return int(s.n) }

// Capacity returns the number of slots per shard.
func (s *Sharded[T]) Capacity() int {
	if len(s.shards) == 0 {
		return 0 // the zero Sharded
	}
	return len(s.shards[0].slots)
}

// Stats counts what entered and left the rings. Every Push call ends in
// exactly one of: returned by Drain (Popped), dropped at once (Dropped by
// ReasonFull, ReasonTimeout or ReasonClosed), evicted later (Dropped by
// ReasonEvicted), or still in a ring (Len). So
//
//	Pushed == Popped + DroppedBy[ReasonFull] + DroppedBy[ReasonEvicted] +
//	          DroppedBy[ReasonTimeout] + DroppedBy[ReasonClosed] + Len
//
// holds exactly whenever no Push or Drain is in progress. Every counter is
// monotonic; Len is a gauge.
type Stats struct {
	// Pushed counts Push calls, including those that dropped their value.
	Pushed uint64
	// Popped counts values returned by Drain.
	Popped uint64
	// Dropped counts values dropped or evicted, the sum of DroppedBy.
	Dropped uint64
	// DroppedBy counts values dropped or evicted, by Reason.
	DroppedBy [NumReasons]uint64
	// Len is the number of values in the rings.
	Len uint64
}

// Stats returns the counters, summed over shards. It reads each counter
// atomically but not all at once, so the identity of Stats is exact only
// while no Push or Drain runs. Pushed is derived from the tail cursors, so
// counting costs the fast path nothing.
func (s *Sharded[T]) Stats() Stats {
	var st Stats
	for i := range s.shards {
		r := &s.shards[i]
		st.Popped += r.popped.Load()
		for reason := range r.dropped {
			n := r.dropped[reason].Load()
			st.DroppedBy[reason] += n
			st.Dropped += n
		}
		h := r.head.Load()
		t := r.tail.Load()
		st.Len += t - h
		st.Pushed += t
	}
	st.Pushed += st.DroppedBy[ReasonFull] + st.DroppedBy[ReasonTimeout] + st.DroppedBy[ReasonClosed]
	return st
}

// gate releases every producer blocked on it at once. A channel per
// generation is the only broadcast primitive that also works in a select
// with a timer.
type gate struct {
	mu sync.Mutex
	ch chan struct{}
}

// wait returns the channel that the next open closes.
func (g *gate) wait() <-chan struct{} {
	g.mu.Lock()
	if g.ch == nil {
		g.ch = make(chan struct{})
	}
	ch := g.ch
	g.mu.Unlock()
	return ch
}

// open releases every waiter of the current generation.
func (g *gate) open() {
	g.mu.Lock()
	if g.ch != nil {
		close(g.ch)
		g.ch = nil
	}
	g.mu.Unlock()
}
