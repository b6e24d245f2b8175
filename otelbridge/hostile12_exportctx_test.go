package otelbridge

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/flowtel/flowtel/export"
)

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
