package otlp

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
)

// TestHostileWorkloadProperty drives otlp.New's engine, over a real
// loopback gRPC receiver, with random hostile runs (long ids, names, keys
// and next ids, large values and event attributes, nodes left open, small
// random RunBytes, Attrs and offload queues, a file store of a small
// budget), and checks that nothing is lost uncounted: the engine's
// Accepted == Exported + Dropped + SampledOut with nothing in flight after
// Shutdown, the receiver holds exactly the spans the engine exported and
// a run log per exported run, and every value the offloader queued is
// offloaded, failed or lost, none in flight.
func TestHostileWorkloadProperty(t *testing.T) {
	seeds := uint64(8)
	if testing.Short() {
		seeds = 2
	}
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(seed, 11))
		rc := otlptest.StartKeeping(t, otlptest.GRPC)
		limits := engine.Limits{RunBytes: 1 + rng.IntN(256<<10), Attrs: 1 + rng.IntN(64), ValueBytes: 1 + rng.IntN(64<<10)}
		cfg := export.Config{Endpoint: rc.Endpoint(), Insecure: true, Protocol: "grpc"}
		cfg.LargeFields.Dir = t.TempDir()
		cfg.LargeFields.MaxBytes = export.MinLargeFieldQueueBytes
		cfg.LargeFields.QueueBytes = export.MinLargeFieldQueueBytes
		e, err := New(cfg, engine.WithLimits(limits), engine.WithBatch(1+rng.IntN(64), time.Millisecond))
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		long := func() string { return strings.Repeat("é", rng.IntN(3000)) }
		big := strings.Repeat("v", 12<<10)
		for range 1 + rng.IntN(20) {
			r := e.StartRun(engine.RunInfo{FlowID: "f" + long(), SID: "s" + long(), AppID: long(), Question: big[:rng.IntN(len(big))]})
			for range rng.IntN(40) {
				n := r.StartNode("n"+long(), "t"+long(), long())
				for k := range rng.IntN(80) {
					n.Input(engine.String(long()+string(rune('a'+k%26)), big[:rng.IntN(len(big))]))
				}
				n.Next(long(), long(), "x")
				if rng.IntN(2) == 0 {
					n.InfoEvent(engine.String("k"+long(), big))
				}
				if rng.IntN(3) == 0 {
					n.Info(big)
				}
				if rng.IntN(5) != 0 {
					n.End()
				}
			}
			r.End(0, big[:rng.IntN(len(big))])
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = e.Shutdown(ctx)
		cancel()
		if err != nil {
			t.Fatalf("seed %d: Shutdown: %v", seed, err)
		}
		st := e.Stats()
		if st.InFlight != 0 || st.Accepted != st.Exported+st.Dropped+st.SampledOut {
			t.Fatalf("seed %d: stats %+v", seed, st)
		}
		got := rc.Items()
		if uint64(got[otlptest.Traces]) != st.Exported {
			t.Errorf("seed %d: the receiver holds %d spans, the engine exported %d (dropped %v)", seed, got[otlptest.Traces], st.Exported, st.DroppedBy)
		}
		roots := 0
		for _, req := range rc.Traces() {
			for _, rs := range req.ResourceSpans {
				for _, ss := range rs.ScopeSpans {
					for _, sp := range ss.Spans {
						if len(sp.ParentSpanId) == 0 {
							roots++
						}
					}
				}
			}
		}
		if logs := len(runLogBodies(rc)); logs != roots {
			t.Errorf("seed %d: %d run logs for %d runs", seed, logs, roots)
		}
		s, _ := OTLPSink(e)
		ost := s.Offloader().Stats()
		if ost.InFlight != 0 || ost.Offloaded+ost.Failed+ost.Lost != ost.Enqueued {
			t.Errorf("seed %d: offloader %+v", seed, ost)
		}
	}
}
