package engine

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestShutdownErrorReportedOnce: the shutdown's error goes to one call,
// the first to see the shutdown end; later and concurrent calls return
// nil, as the OTel Go SDK's TracerProvider.Shutdown does, so a deferred
// Shutdown after an explicit one does not log the same failure twice.
func TestShutdownErrorReportedOnce(t *testing.T) {
	sink := &panickySink{shutdowns: true, value: "shutdown broke"}
	e, err := New(WithSink(sink), WithBatch(4, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	e.StartRun(RunInfo{FlowID: "f"}).End(0, "")
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { errs[i] = e.Shutdown(context.Background()) })
	}
	wg.Wait()
	errs = append(errs, e.Shutdown(context.Background()))
	n := 0
	for _, err := range errs {
		switch {
		case err == nil:
		case errors.Is(err, ErrPanic):
			n++
		default:
			t.Errorf("Shutdown = %v, want nil or the sink's panic", err)
		}
	}
	if n != 1 {
		t.Errorf("%d of %d Shutdown calls returned the sink's error, want 1: %v", n, len(errs), errs)
	}
}

// failingShutdownSink's Shutdown waits for release, then fails.
type failingShutdownSink struct {
	MemorySink
	release chan struct{}
}

var errSinkShutdown = errors.New("sink shutdown failed")

func (s *failingShutdownSink) Shutdown(context.Context) error {
	<-s.release
	return errSinkShutdown
}

// TestShutdownAfterExpiredContext: a first Shutdown whose context ends
// before the shutdown does returns that context's error; the shutdown's
// own result then goes to the next call that sees it end, and a call
// after that returns nil.
func TestShutdownAfterExpiredContext(t *testing.T) {
	sink := &failingShutdownSink{release: make(chan struct{})}
	e, err := New(WithSink(sink), WithBatch(4, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown with a canceled context = %v, want context.Canceled", err)
	}
	close(sink.release)
	if err := e.Shutdown(context.Background()); !errors.Is(err, errSinkShutdown) {
		t.Errorf("second Shutdown = %v, want the sink's error", err)
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Errorf("third Shutdown = %v, want nil", err)
	}
}
