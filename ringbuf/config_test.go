package ringbuf

import (
	"errors"
	"math"
	"runtime"
	"testing"
	"time"
)

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config[int]
		want error
	}{
		{"negative shards", Config[int]{Shards: -1}, ErrShards},
		{"too many shards", Config[int]{Shards: MaxShards + 1}, ErrShards},
		{"capacity 3", Config[int]{Capacity: 3}, ErrCapacityNotPowerOfTwo},
		{"capacity 1000", Config[int]{Capacity: 1000}, ErrCapacityNotPowerOfTwo},
		{"capacity 1", Config[int]{Capacity: 1}, ErrCapacityRange},
		{"negative capacity", Config[int]{Capacity: -4}, ErrCapacityRange},
		{"capacity too large", Config[int]{Capacity: min(MaxCapacity*2, math.MaxInt)}, ErrCapacityRange},
		{"unknown policy", Config[int]{Policy: Block + 1}, ErrPolicy},
		{"block without timeout", Config[int]{Policy: Block}, ErrBlockTimeout},
		{"negative timeout", Config[int]{BlockTimeout: -time.Second}, ErrBlockTimeout},
		{"timeout past the maximum", Config[int]{Policy: Block, BlockTimeout: MaxBlockTimeout + 1}, ErrBlockTimeout},
		{"negative wake", Config[int]{WakeAt: -1}, ErrWakeAt},
		{"wake above capacity", Config[int]{Capacity: 8, WakeAt: 9}, ErrWakeAt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.cfg)
			if !errors.Is(err, tt.want) {
				t.Fatalf("New(%+v) error = %v, want %v", tt.cfg, err, tt.want)
			}
			if s != nil {
				t.Fatal("New returned a ring with an error")
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	s, err := New(Config[int]{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Shards(), runtime.GOMAXPROCS(0); got != want {
		t.Errorf("Shards() = %d, want GOMAXPROCS %d", got, want)
	}
	if got := s.Capacity(); got != DefaultCapacity {
		t.Errorf("Capacity() = %d, want %d", got, DefaultCapacity)
	}
	if s.wakeAt != DefaultCapacity/4 || s.policy != DropNewest {
		t.Errorf("wakeAt = %d, policy = %v; want %d, drop_newest", s.wakeAt, s.policy, DefaultCapacity/4)
	}
	s2, err := New(Config[int]{Capacity: 2, Shards: 3, Policy: Block, BlockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if s2.wakeAt != 1 || s2.Shards() != 3 || s2.Capacity() != 2 {
		t.Errorf("wakeAt = %d, shards = %d, capacity = %d; want 1, 3, 2", s2.wakeAt, s2.Shards(), s2.Capacity())
	}
}

func TestNames(t *testing.T) {
	reasons := map[Reason]string{ReasonFull: "ring_full", ReasonEvicted: "ring_evicted", ReasonTimeout: "block_timeout", ReasonClosed: "closed", 9: "Reason(9)"}
	for r, want := range reasons {
		if got := r.String(); got != want {
			t.Errorf("Reason(%d).String() = %q, want %q", uint8(r), got, want)
		}
	}
	policies := map[Policy]string{DropNewest: "drop_newest", DropOldest: "drop_oldest", Block: "block", 7: "Policy(7)"}
	for p, want := range policies {
		if got := p.String(); got != want {
			t.Errorf("Policy(%d).String() = %q, want %q", uint8(p), got, want)
		}
	}
}

func TestRingLayout(t *testing.T) {
	var r ring[*int]
	offsets := []struct {
		name string
		off  uintptr
	}{
		{"slots", offsetSlots(&r)},
		{"tail", offsetTail(&r)},
		{"head", offsetHead(&r)},
		{"dropped", offsetDropped(&r)},
	}
	for i := 1; i < len(offsets); i++ {
		if d := offsets[i].off - offsets[i-1].off; d < cacheLine {
			t.Errorf("%s is %d bytes after %s, want at least a cache line (%d)", offsets[i].name, d, offsets[i-1].name, cacheLine)
		}
	}
}
