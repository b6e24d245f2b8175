package ringbuf

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowtel/flowtel/internal/race"
)

func mustNew[T any](t testing.TB, cfg Config[T]) *Sharded[T] {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return s
}

// checkIdentity asserts the accounting identity of a quiescent ring.
func checkIdentity[T any](t *testing.T, s *Sharded[T]) Stats {
	t.Helper()
	st := s.Stats()
	if st.Pushed != st.Popped+st.Dropped+st.Len {
		t.Fatalf("Stats %+v: Pushed != Popped + Dropped + Len", st)
	}
	if st.Len != uint64(s.Len()) {
		t.Fatalf("Stats.Len = %d, Len() = %d", st.Len, s.Len())
	}
	return st
}

// eventually polls cond, sleeping between tries, and fails after a minute.
// It is a watchdog for a goroutine reaching a state, not a timing assertion.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// recv waits for a value from ch with a one-minute watchdog.
func recv[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(time.Minute):
		t.Fatalf("gave up waiting for %s", what)
	}
	panic("unreachable")
}

type dropLog[T any] struct {
	mu      sync.Mutex
	values  []T
	reasons []Reason
}

func (d *dropLog[T]) onDrop(v T, r Reason) {
	d.mu.Lock()
	d.values = append(d.values, v)
	d.reasons = append(d.reasons, r)
	d.mu.Unlock()
}

func TestDropNewest(t *testing.T) {
	var d dropLog[int]
	s := mustNew(t, Config[int]{Shards: 1, Capacity: 4, OnDrop: d.onDrop})
	for i := 1; i <= 4; i++ {
		if !s.Push(i) {
			t.Fatalf("Push(%d) into a ring with room returned false", i)
		}
	}
	if s.Push(5) {
		t.Fatal("Push into a full ring returned true under DropNewest")
	}
	if !slices.Equal(d.values, []int{5}) || !slices.Equal(d.reasons, []Reason{ReasonFull}) {
		t.Fatalf("OnDrop saw %v %v, want [5] [ring_full]", d.values, d.reasons)
	}
	if got := s.Drain(nil, 10); !slices.Equal(got, []int{1, 2, 3, 4}) {
		t.Fatalf("Drain = %v, want [1 2 3 4]", got)
	}
	st := checkIdentity(t, s)
	if st.Pushed != 5 || st.Popped != 4 || st.DroppedBy[ReasonFull] != 1 || st.Len != 0 {
		t.Fatalf("Stats = %+v", st)
	}
}

func TestDropOldest(t *testing.T) {
	var d dropLog[int]
	s := mustNew(t, Config[int]{Shards: 1, Capacity: 4, Policy: DropOldest, OnDrop: d.onDrop})
	for i := 1; i <= 7; i++ {
		if !s.Push(i) {
			t.Fatalf("Push(%d) returned false under DropOldest", i)
		}
	}
	if !slices.Equal(d.values, []int{1, 2, 3}) {
		t.Fatalf("evicted %v, want the oldest [1 2 3]", d.values)
	}
	for _, r := range d.reasons {
		if r != ReasonEvicted {
			t.Fatalf("reason %v, want ring_evicted", r)
		}
	}
	if got := s.Drain(nil, 10); !slices.Equal(got, []int{4, 5, 6, 7}) {
		t.Fatalf("Drain = %v, want [4 5 6 7]", got)
	}
	st := checkIdentity(t, s)
	if st.Pushed != 7 || st.DroppedBy[ReasonEvicted] != 3 {
		t.Fatalf("Stats = %+v", st)
	}
}

func TestBlockTimesOut(t *testing.T) {
	var d dropLog[int]
	const timeout = 20 * time.Millisecond
	s := mustNew(t, Config[int]{Shards: 1, Capacity: 2, Policy: Block, BlockTimeout: timeout, OnDrop: d.onDrop})
	s.Push(1)
	s.Push(2)
	start := time.Now()
	if s.Push(3) {
		t.Fatal("Push into a full ring nobody drains returned true under Block")
	}
	// Timers never fire early, so this lower bound is not a timing assumption.
	if waited := time.Since(start); waited < timeout {
		t.Fatalf("Push gave up after %v, before BlockTimeout %v", waited, timeout)
	}
	if !slices.Equal(d.values, []int{3}) || !slices.Equal(d.reasons, []Reason{ReasonTimeout}) {
		t.Fatalf("OnDrop saw %v %v, want [3] [block_timeout]", d.values, d.reasons)
	}
	st := checkIdentity(t, s)
	if st.DroppedBy[ReasonTimeout] != 1 || st.Len != 2 {
		t.Fatalf("Stats = %+v", st)
	}
}

func TestBlockWaitsForRoom(t *testing.T) {
	s := mustNew(t, Config[int]{Shards: 1, Capacity: 2, Policy: Block, BlockTimeout: MaxBlockTimeout})
	s.Push(1)
	s.Push(2)
	done := make(chan bool)
	go func() { done <- s.Push(3) }()
	eventually(t, "the producer to block", func() bool { return s.waiters.Load() == 1 })
	select {
	case ok := <-done:
		t.Fatalf("Push into a full ring returned %v without room", ok)
	default:
	}
	if got := s.Drain(nil, 1); !slices.Equal(got, []int{1}) {
		t.Fatalf("Drain = %v, want [1]", got)
	}
	if !recv(t, "the blocked Push", done) {
		t.Fatal("blocked Push returned false after Drain made room")
	}
	if got := s.Drain(nil, 10); !slices.Equal(got, []int{2, 3}) {
		t.Fatalf("Drain = %v, want [2 3]", got)
	}
	if st := checkIdentity(t, s); st.Dropped != 0 {
		t.Fatalf("Stats = %+v, want no drops", st)
	}
}

func TestCloseReleasesBlocked(t *testing.T) {
	var d dropLog[int]
	s := mustNew(t, Config[int]{Shards: 1, Capacity: 2, Policy: Block, BlockTimeout: MaxBlockTimeout, OnDrop: d.onDrop})
	s.Push(1)
	s.Push(2)
	done := make(chan bool)
	go func() { done <- s.Push(3) }()
	eventually(t, "the producer to block", func() bool { return s.waiters.Load() == 1 })
	s.Close()
	if recv(t, "the blocked Push", done) {
		t.Fatal("blocked Push returned true after Close")
	}
	if !slices.Equal(d.reasons, []Reason{ReasonClosed}) {
		t.Fatalf("OnDrop reasons %v, want [closed]", d.reasons)
	}
	if got := s.Drain(nil, 10); !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("Drain after Close = %v, want [1 2]", got)
	}
	checkIdentity(t, s)
}

// TestSpill checks that a push into a full shard goes to another shard
// with room, so that one producer fills every shard before the overflow
// policy applies, whatever shard its pushes pick.
func TestSpill(t *testing.T) {
	for _, p := range []Policy{DropNewest, DropOldest, Block} {
		for _, pk := range []pick{pickProc, pickRandom} {
			t.Run(fmt.Sprintf("%v/pick%d", p, pk), func(t *testing.T) {
				var d dropLog[int]
				s := mustNew(t, Config[int]{Shards: 3, Capacity: 4, Policy: p, BlockTimeout: time.Microsecond, OnDrop: d.onDrop})
				s.pick = pk
				for i := 1; i <= 12; i++ {
					if !s.Push(i) {
						t.Fatalf("Push(%d) into rings holding %d of 12 values returned false", i, s.Len())
					}
				}
				if len(d.values) != 0 {
					t.Fatalf("OnDrop saw %v %v before every shard was full", d.values, d.reasons)
				}
				wantOK, wantReason := false, ReasonFull
				switch p {
				case DropOldest:
					wantOK, wantReason = true, ReasonEvicted
				case Block:
					wantReason = ReasonTimeout
				}
				if got := s.Push(13); got != wantOK {
					t.Fatalf("Push(13) into full rings = %v, want %v", got, wantOK)
				}
				if len(d.reasons) != 1 || d.reasons[0] != wantReason {
					t.Fatalf("OnDrop saw %v %v, want one %v", d.values, d.reasons, wantReason)
				}
				got := s.Drain(nil, 100)
				if len(got) != 12 {
					t.Fatalf("Drain = %v, want 12 values", got)
				}
				checkIdentity(t, s)
			})
		}
	}
}

func TestClose(t *testing.T) {
	var d dropLog[int]
	for _, p := range []Policy{DropNewest, DropOldest, Block} {
		t.Run(p.String(), func(t *testing.T) {
			d = dropLog[int]{}
			s := mustNew(t, Config[int]{Shards: 2, Capacity: 4, Policy: p, BlockTimeout: MaxBlockTimeout, OnDrop: d.onDrop})
			s.Push(1)
			s.Push(2)
			s.Close()
			s.Close() // Idempotent.
			if !s.Closed() {
				t.Fatal("Closed() = false after Close")
			}
			if s.Push(3) {
				t.Fatal("Push after Close returned true")
			}
			if !slices.Equal(d.values, []int{3}) || !slices.Equal(d.reasons, []Reason{ReasonClosed}) {
				t.Fatalf("OnDrop saw %v %v, want [3] [closed]", d.values, d.reasons)
			}
			if !s.Wait(time.Hour) {
				t.Fatal("Wait on a closed ring with values returned false")
			}
			got := s.Drain(nil, 10)
			slices.Sort(got)
			if !slices.Equal(got, []int{1, 2}) {
				t.Fatalf("Drain after Close = %v, want [1 2]", got)
			}
			if s.Wait(time.Hour) {
				t.Fatal("Wait on a closed empty ring returned true")
			}
			st := checkIdentity(t, s)
			if st.Pushed != 3 || st.DroppedBy[ReasonClosed] != 1 {
				t.Fatalf("Stats = %+v", st)
			}
		})
	}
}

func TestWaitParksUntilTimeout(t *testing.T) {
	s := mustNew(t, Config[int]{Shards: 1, Capacity: 8, WakeAt: 4})
	s.Push(1) // Below WakeAt: not a reason to wake.
	const timeout = 20 * time.Millisecond
	start := time.Now()
	if !s.Wait(timeout) {
		t.Fatal("Wait on an open ring returned false")
	}
	if waited := time.Since(start); waited < timeout {
		t.Fatalf("Wait returned after %v, before its timeout %v, with 1 value below WakeAt 4", waited, timeout)
	}
	if s.state.Load()&stateSleeping != 0 {
		t.Fatal("Wait returned with the sleeping flag set")
	}
}

func TestWaitReturnsAtOnce(t *testing.T) {
	s := mustNew(t, Config[int]{Shards: 2, Capacity: 8, WakeAt: 2})
	s.Wake() // A flush request before Wait is kept.
	if !s.Wait(time.Hour) {
		t.Fatal("Wait = false")
	}
	if !s.Wait(0) { // Zero timeout polls.
		t.Fatal("Wait(0) = false")
	}
	r := &s.shards[0]
	r.tryPush(1)
	r.tryPush(2)
	if !s.Wait(time.Hour) { // A shard is already at WakeAt.
		t.Fatal("Wait = false")
	}
}

func TestWaitWakesAtWakeAt(t *testing.T) {
	const wakeAt = 4
	s := mustNew(t, Config[int]{Shards: 1, Capacity: 16, WakeAt: wakeAt})
	done := make(chan bool)
	go func() { done <- s.Wait(time.Hour) }()
	eventually(t, "the consumer to park", func() bool { return s.state.Load()&stateSleeping != 0 })
	for i := 1; i < wakeAt; i++ {
		s.Push(i)
	}
	// Below WakeAt no producer clears the flag, so the consumer still sleeps.
	if s.state.Load()&stateSleeping == 0 {
		t.Fatalf("consumer woken with %d values, below WakeAt %d", wakeAt-1, wakeAt)
	}
	s.Push(wakeAt)
	if !recv(t, "Wait to return at WakeAt", done) {
		t.Fatal("Wait = false on an open ring")
	}
	if got := s.Drain(nil, 100); len(got) != wakeAt {
		t.Fatalf("Drain = %v, want %d values", got, wakeAt)
	}
}

func TestWakeAndCloseWakeParkedConsumer(t *testing.T) {
	s := mustNew(t, Config[int]{Shards: 1, Capacity: 16})
	done := make(chan bool)
	go func() { done <- s.Wait(time.Hour) }()
	eventually(t, "the consumer to park", func() bool { return s.state.Load()&stateSleeping != 0 })
	s.Wake()
	if !recv(t, "Wait to return after Wake", done) {
		t.Fatal("Wait = false on an open ring")
	}
	go func() { done <- s.Wait(time.Hour) }()
	eventually(t, "the consumer to park", func() bool { return s.state.Load()&stateSleeping != 0 })
	s.Close()
	if recv(t, "Wait to return after Close", done) {
		t.Fatal("Wait = true on a closed empty ring")
	}
}

func TestDrainIsFair(t *testing.T) {
	s := mustNew(t, Config[int]{Shards: 4, Capacity: 64})
	for sh := range s.shards {
		for i := 0; i < 40; i++ {
			s.shards[sh].tryPush(sh*1000 + i)
		}
	}
	got := s.Drain(nil, 20)
	per := map[int]int{}
	for _, v := range got {
		per[v/1000]++
	}
	for sh := 0; sh < 4; sh++ {
		if per[sh] != 5 {
			t.Fatalf("Drain(20) over 4 full shards took %v per shard, want 5 each", per)
		}
	}
	// A shard with little left gives its share to the others.
	s2 := mustNew(t, Config[int]{Shards: 2, Capacity: 64})
	s2.shards[0].tryPush(1)
	for i := 0; i < 30; i++ {
		s2.shards[1].tryPush(100 + i)
	}
	if got := s2.Drain(nil, 20); len(got) != 20 {
		t.Fatalf("Drain(20) with 31 values returned %d", len(got))
	}
	if got := s2.Drain(nil, 0); len(got) != 0 {
		t.Fatalf("Drain(0) returned %v", got)
	}
	checkIdentity(t, s2)
}

// record is a slot type whose redundant fields reveal a torn copy.
type record struct {
	producer, seq uint32
	a, b, c       uint64
}

func mix(producer, seq uint32) uint64 {
	x := uint64(producer)<<32 | uint64(seq)
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	return x
}

func makeRecord(producer, seq uint32) record {
	m := mix(producer, seq)
	return record{producer: producer, seq: seq, a: m, b: ^m, c: m * 3}
}

func (r record) torn() bool {
	m := mix(r.producer, r.seq)
	return r.a != m || r.b != ^m || r.c != m*3
}

// TestConcurrentAccounting runs many producers against one consumer for every
// policy and checks that every produced record was consumed or dropped exactly
// once, none was torn, and Stats agrees: produced == consumed + dropped.
func TestConcurrentAccounting(t *testing.T) {
	producers, perProducer := 8, 20_000
	if race.Enabled || testing.Short() {
		perProducer = 4_000
	}
	for _, p := range []Policy{DropNewest, DropOldest, Block} {
		t.Run(p.String(), func(t *testing.T) {
			n := producers * perProducer
			consumed := make([]atomic.Uint32, n)
			dropped := make([]atomic.Uint32, n)
			var reasons [NumReasons]atomic.Uint64
			var torn atomic.Uint64
			onDrop := func(r record, reason Reason) {
				if r.torn() {
					torn.Add(1)
					return
				}
				dropped[int(r.producer)*perProducer+int(r.seq)].Add(1)
				reasons[reason].Add(1)
			}
			s := mustNew(t, Config[record]{
				Shards: 4, Capacity: 16, WakeAt: 4, Policy: p,
				BlockTimeout: 200 * time.Microsecond, OnDrop: onDrop,
			})
			var consumer sync.WaitGroup
			var nConsumed atomic.Uint64
			consumer.Go(func() {
				buf := make([]record, 0, 32)
				for s.Wait(time.Millisecond) {
					buf = s.Drain(buf[:0], cap(buf))
					for _, r := range buf {
						if r.torn() {
							torn.Add(1)
							continue
						}
						consumed[int(r.producer)*perProducer+int(r.seq)].Add(1)
					}
					nConsumed.Add(uint64(len(buf)))
				}
			})
			var falses atomic.Uint64
			var wg sync.WaitGroup
			for w := 0; w < producers; w++ {
				wg.Go(func() {
					for i := 0; i < perProducer; i++ {
						if !s.Push(makeRecord(uint32(w), uint32(i))) {
							falses.Add(1)
						}
						if i%32 == 31 {
							runtime.Gosched() // Let the consumer in now and then, so both outcomes occur.
						}
					}
				})
			}
			wg.Wait()
			s.Close()
			consumer.Wait()

			if torn.Load() != 0 {
				t.Fatalf("%d torn records", torn.Load())
			}
			var nDropped uint64
			for id := 0; id < n; id++ {
				c, d := consumed[id].Load(), dropped[id].Load()
				if c+d != 1 {
					t.Fatalf("record %d/%d consumed %d times and dropped %d times, want once in all",
						id/perProducer, id%perProducer, c, d)
				}
				nDropped += uint64(d)
			}
			if got := nConsumed.Load() + nDropped; got != uint64(n) {
				t.Fatalf("consumed %d + dropped %d = %d, produced %d", nConsumed.Load(), nDropped, got, n)
			}
			st := checkIdentity(t, s)
			if st.Pushed != uint64(n) || st.Popped != nConsumed.Load() || st.Len != 0 {
				t.Fatalf("Stats = %+v; produced %d, consumed %d", st, n, nConsumed.Load())
			}
			for r := range reasons {
				if st.DroppedBy[r] != reasons[r].Load() {
					t.Fatalf("Stats.DroppedBy[%v] = %d, OnDrop saw %d", Reason(r), st.DroppedBy[r], reasons[r].Load())
				}
			}
			// Push reports false exactly for its own value's drops.
			if want := st.DroppedBy[ReasonFull] + st.DroppedBy[ReasonTimeout] + st.DroppedBy[ReasonClosed]; falses.Load() != want {
				t.Fatalf("Push returned false %d times, want %d", falses.Load(), want)
			}
			switch p {
			case DropNewest:
				if st.DroppedBy[ReasonEvicted]+st.DroppedBy[ReasonTimeout] != 0 {
					t.Fatalf("DropNewest evicted or timed out: %+v", st)
				}
			case DropOldest:
				if st.DroppedBy[ReasonFull]+st.DroppedBy[ReasonTimeout] != 0 {
					t.Fatalf("DropOldest dropped the newest or timed out: %+v", st)
				}
			case Block:
				if st.DroppedBy[ReasonFull]+st.DroppedBy[ReasonEvicted] != 0 {
					t.Fatalf("Block dropped without waiting: %+v", st)
				}
			}
			t.Logf("produced %d, consumed %d, dropped %v", n, nConsumed.Load(), st.Dropped)
		})
	}
}

// TestConcurrentEvictionAndDrain makes producers evict while the consumer
// drains the same shard: both advance head with CAS, and no record may be
// both evicted and consumed.
func TestConcurrentEvictionAndDrain(t *testing.T) {
	const producers, perProducer = 4, 5_000
	var seen sync.Map
	var dup atomic.Uint64
	mark := func(r record) {
		if _, loaded := seen.LoadOrStore(uint64(r.producer)<<32|uint64(r.seq), true); loaded {
			dup.Add(1)
		}
	}
	s := mustNew(t, Config[record]{Shards: 1, Capacity: 4, Policy: DropOldest, OnDrop: func(r record, _ Reason) { mark(r) }})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var consumer sync.WaitGroup
	consumer.Go(func() {
		var buf []record
		for i := 0; ; i++ {
			buf = s.Drain(buf[:0], 1+i%4) // Batches of 1 to 4 claim several slots with one CAS.
			for _, r := range buf {
				mark(r)
			}
			select {
			case <-stop:
				for _, r := range s.Drain(nil, 100) {
					mark(r)
				}
				return
			default:
			}
		}
	})
	for w := 0; w < producers; w++ {
		wg.Go(func() {
			for i := 0; i < perProducer; i++ {
				s.Push(makeRecord(uint32(w), uint32(i)))
			}
		})
	}
	wg.Wait()
	close(stop)
	consumer.Wait()
	n := 0
	seen.Range(func(any, any) bool { n++; return true })
	if dup.Load() != 0 || n != producers*perProducer {
		t.Fatalf("%d duplicates, %d distinct records seen, want 0 and %d", dup.Load(), n, producers*perProducer)
	}
	checkIdentity(t, s)
}

// TestModel drives one shard with random operations and compares every
// result with a plain FIFO model of the policy.
func TestModel(t *testing.T) {
	for _, p := range []Policy{DropNewest, DropOldest, Block} {
		for seed := uint64(1); seed <= 20; seed++ {
			t.Run(fmt.Sprintf("%v/seed%d", p, seed), func(t *testing.T) {
				testModel(t, p, seed)
			})
		}
	}
}

func testModel(t *testing.T, p Policy, seed uint64) {
	rnd := rand.New(rand.NewPCG(seed, uint64(p)))
	capacity := 2 << rnd.IntN(4)
	var d dropLog[int]
	s := mustNew(t, Config[int]{Shards: 1, Capacity: capacity, Policy: p, BlockTimeout: time.Microsecond, OnDrop: d.onDrop})
	var (
		queue        []int
		wantDropped  []int
		wantReasons  []Reason
		closed       bool
		next, pushed int
		timeouts     int
	)
	for op := 0; op < 300; op++ {
		switch k := rnd.IntN(100); {
		case k < 60:
			if p == Block && len(queue) == capacity && timeouts > 20 {
				continue // Each timeout costs a timer tick; a few prove the case.
			}
			next++
			pushed++
			want := true
			switch {
			case closed:
				want = false
				wantDropped, wantReasons = append(wantDropped, next), append(wantReasons, ReasonClosed)
			case len(queue) < capacity:
				queue = append(queue, next)
			case p == DropNewest:
				want = false
				wantDropped, wantReasons = append(wantDropped, next), append(wantReasons, ReasonFull)
			case p == DropOldest:
				wantDropped, wantReasons = append(wantDropped, queue[0]), append(wantReasons, ReasonEvicted)
				queue = append(queue[1:], next)
			case p == Block:
				timeouts++
				want = false
				wantDropped, wantReasons = append(wantDropped, next), append(wantReasons, ReasonTimeout)
			}
			if got := s.Push(next); got != want {
				t.Fatalf("op %d: Push(%d) = %v, want %v (queue %v)", op, next, got, want, queue)
			}
		case k < 95:
			m := rnd.IntN(capacity + 2)
			got := s.Drain(nil, m)
			n := min(m, len(queue))
			if want := queue[:n]; !slices.Equal(got, want) {
				t.Fatalf("op %d: Drain(%d) = %v, want %v", op, m, got, want)
			}
			queue = queue[n:]
		default:
			if rnd.IntN(4) == 0 {
				s.Close()
				closed = true
			}
		}
		if !slices.Equal(d.values, wantDropped) || !slices.Equal(d.reasons, wantReasons) {
			t.Fatalf("op %d: OnDrop saw %v %v, want %v %v", op, d.values, d.reasons, wantDropped, wantReasons)
		}
		if s.Len() != len(queue) {
			t.Fatalf("op %d: Len() = %d, want %d", op, s.Len(), len(queue))
		}
		st := checkIdentity(t, s)
		if st.Pushed != uint64(pushed) || st.Dropped != uint64(len(wantDropped)) {
			t.Fatalf("op %d: Stats = %+v, pushed %d, dropped %d", op, st, pushed, len(wantDropped))
		}
	}
}

// TestPickShard checks that both shard choices stay within the shards.
func TestPickShard(t *testing.T) {
	for _, pk := range []pick{pickProc, pickRandom} {
		s := mustNew(t, Config[int]{Shards: 3, Capacity: 1024})
		s.pick = pk
		for i := 0; i < 1000; i++ {
			if i := s.shard(); i >= 3 {
				t.Fatalf("pick %d chose a ring outside the 3 shards", pk)
			}
		}
	}
}

// FuzzModel runs the model comparison of TestModel on fuzzed seeds.
func FuzzModel(f *testing.F) {
	f.Add(uint64(1), uint8(DropNewest))
	f.Add(uint64(2), uint8(DropOldest))
	f.Add(uint64(3), uint8(Block))
	f.Fuzz(func(t *testing.T, seed uint64, p uint8) {
		testModel(t, Policy(p%3), seed)
	})
}
