package engine

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
)

// flushOrderSink's first ForceFlush holds until its context ends; the
// sink records a Shutdown, or a ForceFlush begun after it, while a flush
// is in flight.
type flushOrderSink struct {
	mu       sync.Mutex
	flushing int
	calls    int
	shut     bool
	bad      []string
	entered  chan struct{}
}

func (s *flushOrderSink) Export([]*encode.Run) error { return nil }

func (s *flushOrderSink) ForceFlush(ctx context.Context) error {
	s.mu.Lock()
	s.calls++
	first := s.calls == 1
	if s.shut {
		s.bad = append(s.bad, "ForceFlush after Shutdown")
	}
	s.flushing++
	s.mu.Unlock()
	if first {
		close(s.entered)
		<-ctx.Done()
	}
	s.mu.Lock()
	s.flushing--
	s.mu.Unlock()
	return ctx.Err()
}

func (s *flushOrderSink) Shutdown(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.flushing > 0 {
		s.bad = append(s.bad, "Shutdown while a ForceFlush is in flight")
	}
	s.shut = true
	return nil
}

// TestShutdownWaitsForFlush: Engine.Shutdown shuts the sink down once the
// sink's flushes begun by ForceFlush have returned. Since ForceFlush runs
// the sink's flush on a goroutine of its own, Shutdown went on past it:
// the sink was shut down while the flush ran, and the engine's goroutine
// was still in the sink after Shutdown returned. (The flush here ends at
// its context's deadline, the only way it ends; nothing is timed.)
func TestShutdownWaitsForFlush(t *testing.T) {
	s := &flushOrderSink{entered: make(chan struct{})}
	e, err := New(WithSink(s))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	flushed := make(chan error, 1)
	go func() { flushed <- e.ForceFlush(ctx) }()
	<-s.entered
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	bad, flushing := s.bad, s.flushing
	s.mu.Unlock()
	if len(bad) > 0 || flushing != 0 {
		t.Errorf("%v; %d flushes in flight after Shutdown returned", bad, flushing)
	}
	<-flushed
}

// TestForceFlushConcurrentWithShutdown: ForceFlush calls from many
// goroutines, racing with runs ending and with Shutdown, each return nil
// or ErrShutdown, one after Shutdown ErrShutdown, and the sink is shut
// down after every flush of it returned.
func TestForceFlushConcurrentWithShutdown(t *testing.T) {
	for range 20 {
		s := &flushOrderSink{entered: make(chan struct{})}
		close(s.entered)
		s.calls = 1 // no flush holds
		e, err := New(WithSink(s))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := e.StartRun(RunInfo{FlowID: "f"})
				r.StartNode("a:1", "a", "a").End()
				r.End(0, "")
				if i%4 == 0 {
					errs <- e.ForceFlush(context.Background())
				}
				errs <- e.ForceFlush(context.Background())
			}()
		}
		if err := e.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil && err != ErrShutdown {
				t.Errorf("ForceFlush: %v", err)
			}
		}
		if err := e.ForceFlush(context.Background()); err != ErrShutdown {
			t.Errorf("ForceFlush after Shutdown: %v", err)
		}
		s.mu.Lock()
		if len(s.bad) > 0 {
			t.Errorf("%v", s.bad)
		}
		s.mu.Unlock()
	}
}
