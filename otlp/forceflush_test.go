package otlp

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
)

// TestForceFlushHangingBackendKeepsCapturing: while ForceFlush waits for a
// collector that never answers, the engine goes on capturing. The sink's
// flush held the pipeline goroutine, so the rings stopped draining for
// as long as the flush waited: with Block, Run.End waited with it (with
// DropNewest the runs were dropped as ring_full). The runs ended here,
// eight rings' worth, now all end before ForceFlush returns at its
// context.
func TestForceFlushHangingBackendKeepsCapturing(t *testing.T) {
	rc := otlptest.Start(t, export.ProtocolGRPC, func(otlptest.Call) otlptest.Reply {
		return otlptest.Reply{Sleep: time.Hour}
	})
	const ring = 64
	e, err := New(export.Config{Endpoint: rc.Endpoint(), Insecure: true, Timeout: time.Hour},
		engine.WithShards(1), engine.WithRingCapacity(ring), engine.WithOverflow(engine.Block, time.Minute),
		engine.WithBatch(8, time.Millisecond), engine.WithMetrics(engine.MetricsConfig{NoExport: true}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_ = e.Shutdown(ctx) // the collector never answers: what it holds is dropped
	}()
	e.StartRun(engine.RunInfo{FlowID: "f"}).End(0, "") // a request the collector holds
	// The bound of the flush, not a measurement: it ends the test if the
	// ends below wait for it.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	flushed := make(chan error, 1)
	go func() { flushed <- e.ForceFlush(ctx) }()
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		for range 8 * ring {
			e.StartRun(engine.RunInfo{FlowID: "f"}).End(0, "")
		}
	}()
	select {
	case <-ended:
	case err := <-flushed:
		<-ended
		t.Fatalf("ForceFlush returned (%v) before the runs ended during it could: the flush held the pipeline", err)
	}
	cancel()
	if err := <-flushed; err == nil {
		t.Error("ForceFlush against a collector that never answers returned nil")
	}
	if s := e.Stats(); s.Drops(engine.DropBlockTimeout) != 0 || s.Drops(engine.DropRingFull) != 0 {
		t.Errorf("runs dropped while the sink flushed: %+v", s.DroppedBy)
	}
}

// TestForceFlushReportsRefusedBatches: the engine's ForceFlush returns the
// export's drop when the receiver refuses the spans, over gRPC and HTTP,
// and nil when it takes them.
func TestForceFlushReportsRefusedBatches(t *testing.T) {
	for _, protocol := range []string{export.ProtocolGRPC, export.ProtocolHTTPProtobuf} {
		for _, refuse := range []bool{false, true} {
			rc := otlptest.Start(t, protocol, func(otlptest.Call) otlptest.Reply {
				if refuse {
					return otlptest.Reply{Code: codes.PermissionDenied, HTTPStatus: http.StatusForbidden, Message: "no"}
				}
				return otlptest.Reply{}
			})
			e, err := New(export.Config{Protocol: protocol, Endpoint: rc.Endpoint(), Insecure: true, Timeout: time.Minute},
				engine.WithMetrics(engine.MetricsConfig{NoExport: true}))
			if err != nil {
				t.Fatal(err)
			}
			e.StartRun(engine.RunInfo{FlowID: "f"}).End(0, "")
			err = e.ForceFlush(context.Background())
			if refuse != errors.Is(err, export.ErrDropped) || !refuse && err != nil {
				t.Errorf("%s, refused %v: ForceFlush = %v", protocol, refuse, err)
			}
			if err := e.Shutdown(context.Background()); err != nil {
				t.Error(err)
			}
			rc.Stop()
		}
	}
}
