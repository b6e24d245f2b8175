package export

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/flowtel/flowtel/internal/otlptest"
	"github.com/flowtel/flowtel/internal/race"
	"github.com/flowtel/flowtel/internal/testkit"
)

// pooled returns count pooled buffers of size bytes.
func pooled(count, size int) []*bytebufferpool.ByteBuffer {
	bufs := make([]*bytebufferpool.ByteBuffer, count)
	for i := range bufs {
		bufs[i] = bytebufferpool.Get()
		bufs[i].B = append(bufs[i].B[:0], make([]byte, size)...)
	}
	return bufs
}

// TestAllocs is the table of the hot methods and their budgets.
func TestAllocs(t *testing.T) {
	// Workers are not started: the budget is Enqueue's alone. The queue
	// holds the warm-up call and the measured ones, so the next are dropped.
	const calls = testkit.AllocRuns + 1
	e, err := newExporter(Config{QueueBatches: calls, QueueBytes: 1 << 20, Endpoint: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	bufs := pooled(2*calls, 100)
	i := 0
	t.Run("Enqueue accepted", func(t *testing.T) {
		testkit.WantAllocs(t, 0, func() {
			if !e.Enqueue(Traces, bufs[i], 10) {
				t.Fatal("refused")
			}
			i++
		})
	})
	t.Run("Enqueue dropped (queue full)", func(t *testing.T) {
		testkit.WantAllocs(t, 0, func() {
			if e.Enqueue(Metrics, bufs[i], 10) {
				t.Fatal("accepted into a full queue")
			}
			i++
		})
	})
	t.Run("Stats", func(t *testing.T) { testkit.WantAllocs(t, 0, func() { _ = e.Stats() }) })
	if race.Enabled {
		return // The calls above did not run.
	}
	st := e.Stats().Signals
	if st[Traces].Enqueued != 10*calls || st[Traces].QueuedBatches != calls || st[Metrics].DroppedBy[DropQueueFull] != 10*calls {
		t.Errorf("counts after the runs: %+v", st)
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := e.Stats()
	checkIdentity(t, s)
	if s.Signals[Traces].DroppedBy[DropShutdown] != 10*calls || s.HeldBytes != 0 {
		t.Errorf("shutdown without workers: %+v", s)
	}
}

func TestForceFlushHonoursContext(t *testing.T) {
	cfg := testConfig(ProtocolGRPC, "http://"+otlptest.ReserveAddr(t))
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	produce(t, e, Traces, "f", 3, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := e.ForceFlush(ctx); err == nil {
		t.Error("ForceFlush returned nil with the collector down")
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	_ = e.Shutdown(ctx2)
	s := e.Stats()
	checkIdentity(t, s)
	if st := s.Signals[Traces]; st.DroppedBy[DropShutdown] != 6 || st.InFlight != 0 {
		t.Errorf("after shutdown: %+v", st)
	}
	// The batches dropped since the last flush that returned are reported
	// once, then nothing is left.
	if err := e.ForceFlush(context.Background()); !errors.Is(err, ErrDropped) {
		t.Errorf("ForceFlush after Shutdown: %v, want ErrDropped", err)
	}
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Errorf("ForceFlush after Shutdown, again: %v", err)
	}
}
