package export

import (
	"context"
	"testing"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/flowtel/flowtel/internal/otlptest"
	"github.com/flowtel/flowtel/internal/race"
)

// wantAllocs asserts that f allocates exactly n times per run. It is
// skipped under -race, which allocates on its own.
func wantAllocs(t *testing.T, name string, n float64, f func()) {
	t.Helper()
	if race.Enabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	if got := testing.AllocsPerRun(200, f); got != n {
		t.Errorf("%s: %v allocs per run, want %v", name, got, n)
	}
}

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
	// Workers are not started: the budget is Enqueue's alone.
	e, err := newExporter(Config{QueueBatches: 201, QueueBytes: 1 << 20, Endpoint: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	bufs := pooled(1024, 100)
	i := 0
	wantAllocs(t, "Enqueue accepted", 0, func() {
		if !e.Enqueue(Traces, bufs[i], 10) {
			t.Fatal("refused")
		}
		i++
	})
	wantAllocs(t, "Enqueue dropped (queue full)", 0, func() {
		if e.Enqueue(Metrics, bufs[i], 10) {
			t.Fatal("accepted into a full queue")
		}
		i++
	})
	wantAllocs(t, "Stats", 0, func() { _ = e.Stats() })
	st := e.Stats().Signals
	if st[Traces].Enqueued != 2010 || st[Traces].QueuedBatches != 201 || st[Metrics].Dropped[DropQueueFull] != 2010 {
		t.Errorf("counts after the runs: %+v", st)
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := e.Stats()
	checkIdentity(t, s)
	if s.Signals[Traces].Dropped[DropShutdown] != 2010 || s.HeldBytes != 0 {
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
	if st := s.Signals[Traces]; st.Dropped[DropShutdown] != 6 || st.InFlight != 0 {
		t.Errorf("after shutdown: %+v", st)
	}
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Errorf("ForceFlush after Shutdown: %v", err)
	}
}

func TestEnqueueInvalidSignalPanics(t *testing.T) {
	e, err := newExporter(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	e.Enqueue(Signal(3), bytebufferpool.Get(), 1)
}
