package encode

import (
	"context"
	"math"
	"runtime"
	"testing"

	"go.uber.org/goleak"
)

// TestOffloadConfigHuge gives NewOffloader a queue length and a worker
// count no process can hold: it clamps them (MaxOffloadQueueLen,
// MaxOffloadWorkers) and works. Before, QueueLen math.MaxInt panicked in
// make ("makechan: size out of range"), Workers 100,000 started 100,000
// goroutines, and Workers 2^32+2 started four billion while counting two.
func TestOffloadConfigHuge(t *testing.T) {
	workers2p32 := int64(1<<32 + 2)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, cfg := range []OffloadConfig{
		{QueueLen: math.MaxInt},
		{Workers: 100_000},
		{Workers: int(workers2p32)}, // 2 on 32-bit platforms
		{QueueLen: math.MaxInt, Workers: math.MaxInt, QueueBytes: math.MaxInt64, PutTimeout: math.MaxInt64, Threshold: math.MaxInt},
	} {
		before := runtime.NumGoroutine()
		o := NewOffloader(&offloadMemStore{}, cfg)
		if n := runtime.NumGoroutine() - before; n > MaxOffloadWorkers {
			t.Errorf("%+v: %d goroutines started, want at most %d", cfg, n, MaxOffloadWorkers)
		}
		if err := o.Close(context.Background()); err != nil {
			t.Errorf("%+v: Close: %v", cfg, err)
		}
	}
}
