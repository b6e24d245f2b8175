package ringbuf

import "sync/atomic"

// cacheLine is the size that keeps cursors written by different cores
// apart. 64 bytes on amd64 and most arm64; padding by a full line between
// fields also covers arrays whose base is not line aligned.
const cacheLine = 64

// slot is one cell of a ring. seq tells producers and consumers whose turn
// the cell is (Vyukov's bounded MPMC queue): seq == pos means free for the
// producer of position pos, seq == pos+1 means it holds the value of pos.
type slot[T any] struct {
	seq atomic.Uint64
	val T
}

// ring is one shard: a bounded multi-producer multi-consumer queue whose
// cursors sit on their own cache lines. Producers advance tail; the consumer
// and evicting producers advance head. Values are copied in and out under
// the slot's sequence number, so a value is never read half written.
type ring[T any] struct {
	// Read-only after New.
	slots []slot[T]
	mask  uint64
	_     [cacheLine - 32]byte

	tail atomic.Uint64 // The next position to write; advanced by producers.
	_    [cacheLine - 8]byte

	head   atomic.Uint64 // The next position to read; advanced by Drain and by evictions.
	popped atomic.Uint64 // Values returned by Drain.
	_      [cacheLine - 16]byte

	dropped [NumReasons]atomic.Uint64 // Written on overflow only.
	_       [cacheLine - 8*NumReasons]byte
}

func (r *ring[T]) init(capacity int) {
	r.slots = make([]slot[T], capacity)
	r.mask = uint64(capacity - 1)
	for i := range r.slots {
		r.slots[i].seq.Store(uint64(i))
	}
}

// tryPush stores v and returns its position, or reports false when the
// ring is full (or its oldest slot is still being read).
func (r *ring[T]) tryPush(v T) (uint64, bool) {
	pos := r.tail.Load()
	for {
		s := &r.slots[pos&r.mask]
		seq := s.seq.Load()
		switch dif := int64(seq - pos); {
		case dif == 0:
			if r.tail.CompareAndSwap(pos, pos+1) {
				s.val = v
				s.seq.Store(pos + 1)
				return pos, true
			}
			pos = r.tail.Load()
		case dif < 0:
			return 0, false
		default: // Another producer took pos; catch up.
			pos = r.tail.Load()
		}
	}
}

// tryPop removes the oldest value, or reports false when the ring is empty
// (or its oldest value is still being written).
func (r *ring[T]) tryPop() (T, bool) {
	pos := r.head.Load()
	for {
		s := &r.slots[pos&r.mask]
		seq := s.seq.Load()
		switch dif := int64(seq - (pos + 1)); {
		case dif == 0:
			if r.head.CompareAndSwap(pos, pos+1) {
				v := s.val
				var zero T
				s.val = zero // Let the collector have what the value points to.
				s.seq.Store(pos + r.mask + 1)
				return v, true
			}
			pos = r.head.Load()
		case dif < 0:
			var zero T
			return zero, false
		default: // Another consumer took pos; catch up.
			pos = r.head.Load()
		}
	}
}

// popN appends up to k of the oldest values to dst and returns dst and how
// many it appended. It claims them with one CAS: every slot in [head,
// head+n) is checked ready first, and only a CAS on head can take a ready
// slot away, so a successful CAS from the head it read makes all n its own.
func (r *ring[T]) popN(dst []T, k int) ([]T, int) {
	if uint64(k) > r.mask+1 {
		k = int(r.mask + 1)
	}
	for {
		h := r.head.Load()
		n := 0
		for n < k {
			pos := h + uint64(n)
			if r.slots[pos&r.mask].seq.Load() != pos+1 {
				break
			}
			n++
		}
		if n == 0 {
			if r.head.Load() == h {
				return dst, 0
			}
			continue // An eviction moved head while we looked.
		}
		if !r.head.CompareAndSwap(h, h+uint64(n)) {
			continue
		}
		var zero T
		for pos := h; pos < h+uint64(n); pos++ {
			s := &r.slots[pos&r.mask]
			dst = append(dst, s.val)
			s.val = zero // Let the collector have what the value points to.
			s.seq.Store(pos + r.mask + 1)
		}
		return dst, n
	}
}

// size returns the number of claimed positions: stored values plus those
// being written or read right now. head is loaded first so the result is
// never negative.
func (r *ring[T]) size() uint64 {
	h := r.head.Load()
	return r.tail.Load() - h
}
