package otlp

import (
	"context"
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
)

// TestShutdownCountsUndelivered is the regression test of Shutdown
// misreporting: with a collector that never answers, Shutdown(200 ms)
// returned on time but the engine's Stats showed all 200 spans exported
// (the loss was only in the exporter's stats), and the error was sometimes
// a bare "context deadline exceeded". The engine's accounting now holds
// across the sink: the 200 spans are dropped as shutdown, none exported,
// and the error says how many.
func TestShutdownCountsUndelivered(t *testing.T) {
	for _, protocol := range []string{export.ProtocolGRPC, export.ProtocolHTTPProtobuf} {
		t.Run(protocol, func(t *testing.T) {
			e := silentEngine(t, export.Config{Protocol: protocol}, 20) // 200 spans
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			err := e.Shutdown(ctx)
			if !errors.Is(err, context.DeadlineExceeded) || !regexp.MustCompile(`\b[1-9][0-9]* spans`).MatchString(err.Error()) {
				t.Fatalf("Shutdown: %v; want a deadline error that says how many spans", err)
			}
			// Wait for the shutdown to finish (the exporter aborts its
			// requests at the deadline), then check the accounting. The
			// finished shutdown's error goes to one call: the first that
			// sees it finish, which is the first call when the shutdown
			// ended as its deadline passed (its select found both ready).
			err2 := e.Shutdown(context.Background())
			all := regexp.MustCompile(`\b200 spans not delivered \(200 dropped, 0 in flight\)`)
			said := 0
			for _, err := range []error{err, err2} {
				if err != nil && all.MatchString(err.Error()) {
					said++
				}
			}
			if said != 1 || err2 != nil && !all.MatchString(err2.Error()) {
				t.Errorf("Shutdown reported %v, then %v; want 200 spans not delivered, 200 dropped, said once, by the first call to see the shutdown end", err, err2)
			}
			s := e.Stats()
			if s.Accepted != 200 || s.Exported != 0 || s.Drops(engine.DropShutdown) != 200 || s.InFlight != 0 {
				t.Errorf("stats %+v; want 200 accepted, none exported, 200 dropped as shutdown", s)
			}
			if s.Accepted != s.Exported+s.Dropped+s.SampledOut+s.InFlight {
				t.Errorf("accounting broken: %+v", s)
			}
		})
	}
}

// TestMemoryLimitCoversQueue: the exporter's queue (and the large-value
// offloader's) is part of the engine's one byte budget. Sized from the limit when the Config leaves it unset,
// it never makes New refuse a limit the engine alone would take.
func TestMemoryLimitCoversQueue(t *testing.T) {
	rc := otlptest.Start(t, export.ProtocolGRPC, nil)
	const limit = 100 << 20
	e, err := New(export.Config{Endpoint: rc.Endpoint()}, engine.WithMemoryLimit(limit))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	xs, _ := ExporterStats(e)
	if xs.QueueBytes != limit/8 {
		t.Errorf("queue bytes %d, want %d", xs.QueueBytes, limit/8)
	}
	sink, _ := OTLPSink(e)
	if s, off := e.Stats(), sink.Offloader().MemoryBytes(); off != 2*(limit/16) || s.MemoryLimit != limit-2*xs.QueueBytes-off {
		t.Errorf("engine limit %d, want %d less twice the queue %d and the offloader's %d", s.MemoryLimit, limit, xs.QueueBytes, off)
	}
	// A queue set by hand counts too, and one larger than the limit is
	// refused at construction.
	if _, err := New(export.Config{Endpoint: rc.Endpoint(), QueueBytes: limit}, engine.WithMemoryLimit(limit)); !errors.Is(err, engine.ErrMemoryLimit) {
		t.Errorf("a queue larger than the memory limit: %v", err)
	}
}

// silentEngine returns an engine exporting with cfg to a receiver that
// never answers (it honours the request's context), which has captured
// runs runs of 9 nodes: 10 spans each.
func silentEngine(t *testing.T, cfg export.Config, runs int) *engine.Engine {
	t.Helper()
	protocol := cfg.Protocol
	if protocol == "" {
		protocol = export.ProtocolGRPC
	}
	rc := otlptest.Start(t, protocol, func(otlptest.Call) otlptest.Reply {
		return otlptest.Reply{Sleep: time.Hour}
	})
	cfg.Endpoint = rc.Endpoint()
	e, err := New(cfg, engine.WithBatch(64, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	for range runs {
		r := e.StartRun(engine.RunInfo{FlowID: "f"})
		for range 9 {
			r.StartNode("a:1", "a", "a").End()
		}
		r.End(0, "")
	}
	return e
}
