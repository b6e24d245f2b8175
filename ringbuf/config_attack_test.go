package ringbuf

import (
	"errors"
	"testing"
)

// TestNewRefusesHugeRings asks for rings whose slots cannot be allocated
// (or would take terabytes): New must refuse them with ErrCapacityRange.
// Before, a large element at the largest capacity panicked in make
// ("len out of range") and the largest shards x capacity took the process
// down, out of memory, while New filled the slots' sequence numbers.
func TestNewRefusesHugeRings(t *testing.T) {
	if _, err := New(Config[[1 << 20]byte]{Shards: 1, Capacity: MaxCapacity}); !errors.Is(err, ErrCapacityRange) {
		t.Errorf("1 MiB elements x %d slots: error %v, want ErrCapacityRange", MaxCapacity, err)
	}
	if _, err := New(Config[*int]{Shards: MaxShards, Capacity: MaxCapacity}); !errors.Is(err, ErrCapacityRange) {
		t.Errorf("%d shards x %d slots: error %v, want ErrCapacityRange", MaxShards, MaxCapacity, err)
	}
	// At the bound a ring is made.
	n := MaxRingBytes / (MaxShards * 16)
	if _, err := validateOnly(Config[*int]{Shards: MaxShards, Capacity: n}); err != nil {
		t.Errorf("%d shards x %d slots of 16 bytes (MaxRingBytes): %v", MaxShards, n, err)
	}
}

// validateOnly checks cfg as New does without allocating its slots.
func validateOnly[T any](cfg Config[T]) (Config[T], error) { return cfg, cfg.validate() }
