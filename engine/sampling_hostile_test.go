package engine

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/w3c"
)

// TestSamplerRatioEdges gives TraceIDRatio the values a configuration
// file or an environment variable can carry: what is not a probability
// is refused, the smallest positive ratios still sample something
// (clamped to the smallest threshold), and 1 samples everything.
func TestSamplerRatioEdges(t *testing.T) {
	for _, p := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), -0.0000001, 1.0000001, -1, math.MaxFloat64} {
		if _, err := TraceIDRatio(p); err == nil {
			t.Errorf("TraceIDRatio(%v) accepted", p)
		}
	}
	for _, p := range []float64{math.SmallestNonzeroFloat64, 1e-300, 1e-17, 0.5, math.Nextafter(1, 0), 1} {
		s, err := TraceIDRatio(p)
		if err != nil {
			t.Fatalf("TraceIDRatio(%v): %v", p, err)
		}
		e, err := New(WithSink(&MemorySink{}), WithSampler(s))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 100; i++ {
			r := e.StartRun(RunInfo{})
			sc := r.SpanContext()
			if _, err := w3c.ParseTraceState(sc.TraceState); err != nil {
				t.Errorf("TraceIDRatio(%v): tracestate %q: %v", p, sc.TraceState, err)
			}
			if p == 1 && !sc.Sampled {
				t.Errorf("TraceIDRatio(1) left a run out")
			}
			r.End(0, "")
		}
		if err := e.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		checkIdentity(t, e.Stats())
	}
}

// FuzzStartRunTraceState joins runs to callers with arbitrary tracestates
// and flags under every kind of head sampler: StartRun must not panic, and
// the tracestate the run passes on must be a valid header (a member
// holding a control character would make net/http refuse the outgoing
// request it is injected into), whatever Limits.ValueBytes.
func FuzzStartRunTraceState(f *testing.F) {
	for _, s := range []string{
		"ot=th:8;rv:00000000000001", "ot=th:0", "ot=th:fffffffffffffff", "ot=rv:zz;th:", "ot=th:8,ot=th:4",
		"a=1,ot=th:c", strings.Repeat("k=v,", 40) + "ot=th:1", "ot=" + strings.Repeat("x", 300), "ot=th:8\x00", "",
	} {
		f.Add(s, uint8(3), uint64(1), uint64(2))
	}
	samplers := []Sampler{ParentBased(AlwaysOn()), Independent(AlwaysOn()), AlwaysOff()}
	for _, p := range []float64{0.5, 1e-9, 1} {
		s, err := TraceIDRatio(p)
		if err != nil {
			f.Fatal(err)
		}
		samplers = append(samplers, ParentBased(s), Independent(s))
	}
	engines := make([]*Engine, len(samplers))
	for i, s := range samplers {
		e, err := New(WithSink(&MemorySink{}), WithSampler(s), WithLimits(Limits{ValueBytes: 64}), WithBatch(512, time.Second))
		if err != nil {
			f.Fatal(err)
		}
		engines[i] = e
	}
	f.Cleanup(func() {
		for _, e := range engines {
			_ = e.Shutdown(context.Background())
		}
	})
	f.Fuzz(func(t *testing.T, ts string, flags uint8, hi, lo uint64) {
		var id encode.TraceID
		for i := 0; i < 8; i++ {
			id[i], id[8+i] = byte(hi>>(8*i)), byte(lo>>(8*i))
		}
		parent := SpanContext{TraceID: id, SpanID: encode.SpanID{1}, TraceState: ts, Sampled: flags&1 != 0, Random: flags&2 != 0}
		for i, e := range engines {
			r := e.StartRun(RunInfo{Parent: parent})
			for _, sc := range []SpanContext{r.SpanContext(), r.StartNode("n", "n", "n").SpanContext()} {
				if sc.TraceState == "" {
					continue
				}
				if len(sc.TraceState) > w3c.MaxTraceStateBytes {
					t.Fatalf("sampler %d (%v): tracestate of %d bytes", i, samplers[i], len(sc.TraceState))
				}
				if _, err := w3c.ParseTraceState(sc.TraceState); err != nil {
					t.Fatalf("sampler %d (%v): parent %q: passes on %q: %v", i, samplers[i], ts, sc.TraceState, err)
				}
			}
			r.End(0, "")
		}
	})
}
