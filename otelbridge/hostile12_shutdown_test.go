package otelbridge

import (
	"context"
	"errors"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
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
