package otelbridge

import (
	"context"
	"errors"
	"testing"

	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
)

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
