package otelbridge

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// TestSpanExporterShutdownHonoursContext: with the exporter's Block
// policy, an ExportSpans call waits in Enqueue for room, up to
// BlockTimeout (here an hour), while the receiver does not answer.
// Shutdown took the same lock as ExportSpans before it looked at its
// context, so it waited that hour too, whatever its deadline. It now
// stops accepting spans at once and returns its context's error when the
// context ends first.
func TestSpanExporterShutdownHonoursContext(t *testing.T) {
	exp, x, spans, exported := blockedExporter(t, 3) // one in flight, one queued, one waiting for room
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- x.Shutdown(ctx) }()
	hung := false
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown: %v, want its context's deadline", err)
		}
	case <-time.After(20 * time.Second):
		t.Error("Shutdown did not return when its context ended: it waits for an ExportSpans blocked in Enqueue")
		hung = true
	}
	if !hung {
		if err := x.ExportSpans(context.Background(), spans); !errors.Is(err, engine.ErrShutdown) {
			t.Errorf("ExportSpans after Shutdown: %v, want engine.ErrShutdown at once", err)
		}
	}
	// Abort the exporter: the blocked ExportSpans returns, dropped.
	actx, acancel := context.WithCancel(context.Background())
	acancel()
	_ = exp.Shutdown(actx)
	for range 3 {
		<-exported
	}
	if hung {
		<-done
	}
}

// blockedExporter returns a SpanExporter on an exporter with the Block
// policy (BlockTimeout an hour) sending to a receiver that never
// answers, and the results of calls ExportSpans of spans made on it: one
// in flight, one queued, the others waiting for room. The test aborts
// the exporter to end them.
func blockedExporter(t *testing.T, calls int) (*export.Exporter, *SpanExporter, []sdktrace.ReadOnlySpan, chan error) {
	t.Helper()
	rc := otlptest.Start(t, otlptest.GRPC, func(otlptest.Call) otlptest.Reply { return otlptest.Reply{Sleep: time.Hour} })
	exp, err := export.New(export.Config{Protocol: "grpc", Endpoint: rc.Endpoint(), Insecure: true, Timeout: time.Hour,
		Block: true, BlockTimeout: time.Hour, QueueBatches: 1, Concurrency: 1, CoalesceBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	x := NewSpanExporter(exp)
	spans := recordSDKSpans(t)
	exported := make(chan error, calls)
	for range calls {
		go func() { exported <- x.ExportSpans(context.Background(), spans) }()
	}
	waitForQueued(t, exp)
	return exp, x, spans, exported
}

// waitForQueued waits until exp holds a batch in flight and one queued.
func waitForQueued(t *testing.T, exp *export.Exporter) {
	t.Helper()
	for i := 0; i < 2000; i++ {
		if s := exp.Stats().Signals[export.Traces]; s.QueuedBatches >= 1 && s.EnqueuedBatches >= 2 {
			time.Sleep(20 * time.Millisecond) // let the third call reach Enqueue
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the exporter never held two batches")
}

// TestSpanExporterExportHonoursContext: with the exporter's Block policy,
// ExportSpans waited in Enqueue for room up to BlockTimeout (here an
// hour), whatever its context said. It now returns its context's error
// when the context ends first, its batch dropped and counted as
// export.DropBlockTimeout, and a call waiting so keeps no other from
// returning by its own context.
func TestSpanExporterExportHonoursContext(t *testing.T) {
	exp, x, spans, exported := blockedExporter(t, 2) // one in flight, one queued
	before := exp.Stats().Signals[export.Traces]

	// Two calls wait for room; each must return by its own context.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 2)
	for range 2 {
		go func() { done <- x.ExportSpans(ctx, spans) }()
	}
	hung := 0
	for range 2 {
		select {
		case err := <-done:
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("ExportSpans: %v, want its context's deadline", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("ExportSpans did not return when its context ended: it waits BlockTimeout in Enqueue")
			hung++
		}
	}
	if hung == 0 {
		wantBlockTimeouts(t, exp, before, uint64(2*len(spans))) // the two calls'
	}
	// Abort the exporter: the calls still waiting return, dropped.
	actx, acancel := context.WithCancel(context.Background())
	acancel()
	_ = exp.Shutdown(actx)
	for range 2 {
		<-exported
	}
	for range hung {
		<-done
	}
}

// TestSpanExporterEndedContextCounted: ExportSpans given a context that
// had already ended returned its error before encoding, the batch counted
// nowhere. It now goes to EnqueueContext as any batch does: with no room
// (the Block policy, a receiver that never answers) it is dropped and
// counted as export.DropBlockTimeout and ExportSpans returns ctx's error;
// with room it is queued and sent.
func TestSpanExporterEndedContextCounted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	t.Run("full", func(t *testing.T) {
		exp, x, spans, exported := blockedExporter(t, 2) // one in flight, one queued
		before := exp.Stats().Signals[export.Traces]
		if err := x.ExportSpans(ctx, spans); !errors.Is(err, context.Canceled) {
			t.Errorf("ExportSpans: %v, want its context's error", err)
		}
		wantBlockTimeouts(t, exp, before, uint64(len(spans)))
		actx, acancel := context.WithCancel(context.Background())
		acancel()
		_ = exp.Shutdown(actx)
		for range 2 {
			<-exported
		}
	})

	t.Run("room", func(t *testing.T) {
		rc := otlptest.StartKeeping(t, otlptest.GRPC)
		exp, err := export.New(export.Config{Protocol: "grpc", Endpoint: rc.Endpoint(), Insecure: true})
		if err != nil {
			t.Fatal(err)
		}
		x := NewSpanExporter(exp)
		spans := recordSDKSpans(t)
		if err := x.ExportSpans(ctx, spans); err != nil {
			t.Errorf("ExportSpans: %v, want nil: the batch fitted at once", err)
		}
		if err := exp.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := len(receivedSpans(rc)) // decoded by the official proto
		st := exp.Stats().Signals[export.Traces]
		if got != len(spans) || st.Enqueued != uint64(len(spans)) || st.Exported != uint64(len(spans)) {
			t.Errorf("received %d, enqueued %d, exported %d, want %d each", got, st.Enqueued, st.Exported, len(spans))
		}
	})
}

// wantBlockTimeouts checks that exp counted want more spans enqueued
// than before, and as many dropped as export.DropBlockTimeout.
func wantBlockTimeouts(t *testing.T, exp *export.Exporter, before export.SignalStats, want uint64) {
	t.Helper()
	st := exp.Stats().Signals[export.Traces]
	if got := st.Enqueued - before.Enqueued; got != want {
		t.Errorf("enqueued %d, want %d: every span given is counted", got, want)
	}
	if got := st.DroppedBy[export.DropBlockTimeout] - before.DroppedBy[export.DropBlockTimeout]; got != want {
		t.Errorf("dropped as block_timeout %d, want %d", got, want)
	}
}
