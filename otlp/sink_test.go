package otlp

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
)

// receivedSpans returns every span the receiver kept.
func receivedSpans(rc *otlptest.Receiver) []*tracepb.Span {
	var spans []*tracepb.Span
	for _, req := range rc.Traces() {
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				spans = append(spans, ss.Spans...)
			}
		}
	}
	return spans
}

// TestOTLPEndToEnd sends runs through the real encoder and exporter to a
// real receiver and checks every span arrives once, with its parent: in
// batches the sink encodes whole and in batches it splits across its
// encoders.
func TestOTLPEndToEnd(t *testing.T) {
	for _, tc := range []struct {
		proto string
		batch int
	}{{"grpc", 100}, {"http/protobuf", 100}, {"grpc", 1000}, {"http/protobuf", 1000}} {
		proto := tc.proto
		t.Run(fmt.Sprintf("%s/batch%d", proto, tc.batch), func(t *testing.T) {
			rc := otlptest.StartKeeping(t, proto)
			e, err := New(export.Config{Protocol: proto, Endpoint: rc.Endpoint(), Insecure: true}, engine.WithBatch(tc.batch, 10*time.Millisecond), engine.WithMetrics(engine.MetricsConfig{NoExport: true}))
			if err != nil {
				t.Fatal(err)
			}
			const runs, nodes = 500, 4
			for i := 0; i < runs; i++ {
				run := e.StartRun(engine.RunInfo{FlowID: "flow", AppID: "app", UID: "u", ChatID: "c", SID: "sid"})
				for k := 0; k < nodes; k++ {
					n := run.StartNode("llm:1", "llm", "LLM")
					n.Input(engine.String("q", "hello"))
					n.End()
				}
				run.End(0, "ok")
			}
			if err := e.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			s := e.Stats()
			checkIdentity(t, s)
			xs, _ := ExporterStats(e)
			tr := xs.Signals[export.Traces]
			if s.Exported != runs*(nodes+1) || tr.Exported != s.Exported || tr.InFlight != 0 {
				t.Fatalf("engine %+v exporter %+v", s, tr)
			}
			spans, logs := receivedSpans(rc), rc.Items()[otlptest.Logs]
			if len(spans) != runs*(nodes+1) || logs != runs {
				t.Fatalf("received %d spans %d logs, want %d and %d", len(spans), logs, runs*(nodes+1), runs)
			}
			roots := map[string]bool{}
			seen := map[string]bool{}
			for _, sp := range spans {
				if seen[string(sp.SpanId)] {
					t.Fatalf("span %q arrived twice", sp.Name)
				}
				seen[string(sp.SpanId)] = true
				if len(sp.ParentSpanId) == 0 {
					roots[string(sp.SpanId)] = true
				}
			}
			for _, sp := range spans {
				if len(sp.ParentSpanId) != 0 && !roots[string(sp.ParentSpanId)] {
					t.Fatalf("span %q has a parent that never arrived", sp.Name)
				}
			}
			if len(roots) != runs {
				t.Fatalf("%d root spans, want %d", len(roots), runs)
			}
		})
	}
}

// TestOTLPSplitsLargeBatches sends a batch whose encoding is larger than a
// gRPC receiver's default 4 MiB limit: the sink splits it and every span
// arrives.
func TestOTLPSplitsLargeBatches(t *testing.T) {
	rc := otlptest.StartKeeping(t, otlptest.GRPC)
	e, err := New(export.Config{Endpoint: rc.Endpoint(), Insecure: true}, engine.WithBatch(10000, time.Hour), engine.WithMetrics(engine.MetricsConfig{NoExport: true}), engine.WithLimits(engine.Limits{ValueBytes: 1 << 20}))
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("a", 500<<10)
	const runs = 40 // 40 runs x 500 KiB = 20 MiB of traces
	for i := 0; i < runs; i++ {
		run := e.StartRun(engine.RunInfo{})
		n := run.StartNode("llm:1", "llm", "LLM")
		n.Input(engine.String("prompt", big))
		n.End()
		run.End(0, "")
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	xs, _ := ExporterStats(e)
	tr := xs.Signals[export.Traces]
	if tr.Exported != runs*2 || tr.DroppedTotal() != 0 || tr.ExportedBatches < 5 {
		t.Fatalf("exporter %+v", tr)
	}
	if spans := receivedSpans(rc); len(spans) != runs*2 {
		t.Fatalf("received %d spans, want %d", len(spans), runs*2)
	}
}

// checkIdentity checks the engine's accounting identity.
// captureShutdown starts runs runs of info, each with nodes ended LLM
// nodes, ends them, shuts e down and returns its Stats, which it checks
// with checkIdentity.
func captureShutdown(t testing.TB, e *engine.Engine, info engine.RunInfo, runs, nodes int) engine.Stats {
	t.Helper()
	for range runs {
		r := e.StartRun(info)
		for range nodes {
			r.StartNode("llm:1", "llm", "LLM").End()
		}
		r.End(0, "")
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := e.Stats()
	checkIdentity(t, s)
	return s
}

func checkIdentity(t testing.TB, s engine.Stats) {
	t.Helper()
	if s.Accepted != s.Exported+s.Dropped+s.InFlight {
		t.Fatalf("accounting: accepted %d != exported %d + dropped %d + in flight %d", s.Accepted, s.Exported, s.Dropped, s.InFlight)
	}
}
