package otlp

import (
	"context"
	"testing"
	"time"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
)

// TestShutdownDeadlineWithBackedUpQueue: a collector that never answers
// while thousands of spans wait behind a full exporter queue. Shutdown's
// deadline must end the shutdown: what is not delivered by then is
// dropped as shutdown, the exporter closed, nothing left in flight. The
// pipeline instead handed the export stage every remaining batch, each
// waiting the exporter's BlockTimeout (1 s) for room before it was dropped
// as block_timeout, and only then shut the sink down: the shutdown went on
// long past its deadline with the spans counted in flight (the loadgen
// against an endpoint that accepts and never answers: 234,349 spans in
// flight when its 2-minute Shutdown returned, 0 dropped as shutdown).
func TestShutdownDeadlineWithBackedUpQueue(t *testing.T) {
	e := silentEngine(t, export.Config{QueueBytes: 64 << 10}, 400) // 4,000 spans, about 60 batches behind a queue of 64 KiB
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_ = e.Shutdown(ctx)
	// The shutdown should end at its deadline; give it ten seconds more.
	wait, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	_ = e.Shutdown(wait)
	s := e.Stats()
	if s.InFlight != 0 || s.Accepted != s.Exported+s.Dropped+s.SampledOut {
		t.Fatalf("10 s after Shutdown's deadline: %+v", s)
	}
	if s.Drops(engine.DropShutdown) == 0 {
		t.Errorf("nothing dropped as shutdown: %+v", s)
	}
}
