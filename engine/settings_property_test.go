package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestSettingsProperty gives New random combinations of the values a
// careless configuration carries, in every setting at once: zero,
// negative, one, huge (1<<62, the type's extremes), just past each
// documented maximum, NaN and the infinities. Whatever the combination,
// New refuses it with an error naming what it refused (a sentinel of
// this package or ringbuf's, and a field or option name), or returns an
// engine that takes runs, flushes and shuts down, every span accounted
// for, and whose heap stays within what the memory limit and the up-front
// allocations allow. The values that would allocate a lot legitimately
// (the largest valid RunsInFlight, ring capacity) are left out: the
// limits' own tests check those.
func TestSettingsProperty(t *testing.T) {
	if testing.Short() {
		t.Skip("many engines")
	}
	r := rand.New(rand.NewPCG(14, 2026))
	// Each setting is left unset most of the time, so that a combination
	// holds a few hostile values, not one refused for the first of many.
	const unset = 6
	pickInt := func(def int, extra ...int) int {
		vals := append([]int{0, -1, 1, 2, 1 << 62, math.MaxInt, math.MinInt}, extra...)
		if k := r.IntN(len(vals) + 3*unset); k < len(vals) {
			return vals[k]
		}
		return def
	}
	pickDur := func(def time.Duration, extra ...time.Duration) time.Duration {
		vals := append([]time.Duration{0, -1, 1, time.Millisecond, time.Second, 1 << 62, math.MaxInt64, math.MinInt64}, extra...)
		if k := r.IntN(len(vals) + 3*unset); k < len(vals) {
			return vals[k]
		}
		return def
	}
	pickFloat := func() float64 {
		vals := []float64{math.Copysign(0, -1), 1e-300, 0.5, 1, math.Nextafter(1, 2), math.NaN(), math.Inf(1), math.Inf(-1), -0.5, math.MaxFloat64}
		if k := r.IntN(len(vals) + unset); k < len(vals) {
			return vals[k]
		}
		return 0
	}
	var accepted, refused int
	for i := range 1000 {
		var opts []Option
		var desc []string
		add := func(o Option, d string, args ...any) {
			opts = append(opts, o)
			desc = append(desc, fmt.Sprintf(d, args...))
		}
		if r.IntN(2) == 0 {
			l := Limits{RunsInFlight: pickInt(0, maxRunsInFlight+1, 64), NodesPerRun: pickInt(0, maxNodesPerRun+1, 4),
				Attrs: pickInt(0, maxAttrs+1), Events: pickInt(0, maxEvents+1), EventAttrs: pickInt(0, maxEventAttrs+1),
				ValueBytes: pickInt(0, maxValueBytes+1, 3), RunBytes: pickInt(0, maxRunBytes+1, 7)}
			add(WithLimits(l), "WithLimits(%+v)", l)
		}
		if r.IntN(3) == 0 {
			n := pickInt(0, 1024)
			add(WithShards(n), "WithShards(%d)", n)
		}
		if r.IntN(3) == 0 {
			n := pickInt(0, 3, 64, 1<<40)
			add(WithRingCapacity(n), "WithRingCapacity(%d)", n)
		}
		if r.IntN(3) == 0 {
			p, d := Policy(r.IntN(5)), pickDur(time.Millisecond, 2*time.Minute)
			add(WithOverflow(p, d), "WithOverflow(%d, %d)", p, d)
		}
		if r.IntN(2) == 0 {
			n, d := pickInt(DefaultBatchSpans, maxBatchSpans+1, 5), pickDur(DefaultFlushInterval)
			add(WithBatch(n, d), "WithBatch(%d, %d)", n, d)
		}
		if r.IntN(3) == 0 {
			d := pickDur(time.Minute)
			add(WithIdleTimeout(d), "WithIdleTimeout(%d)", d)
		}
		if r.IntN(3) == 0 {
			m := []int64{0, -1, 1, 1 << 20, 1 << 62, math.MaxInt64, math.MinInt64}[r.IntN(7)]
			add(WithMemoryLimit(m), "WithMemoryLimit(%d)", m)
		}
		if r.IntN(2) == 0 {
			mc := MetricsConfig{Interval: pickDur(0), ExponentialBuckets: pickInt(0, 1, 160, maxExponentialBuckets+1),
				Digits: pickInt(0, 5, 6), Highest: pickDur(0, 2*time.Microsecond), Limit: pickInt(0, maxMetricsLimit, maxMetricsLimit+1),
				LabelBytes: pickInt(0, maxLabelBytes+1), NoExport: true}
			switch r.IntN(6) {
			case 0:
				mc.Bounds = []float64{pickFloat(), pickFloat()}
			case 1:
				mc.Bounds = make([]float64, maxBounds+1)
				for k := range mc.Bounds {
					mc.Bounds[k] = float64(k + 1)
				}
			}
			add(WithMetrics(mc), "WithMetrics(%+v)", mc)
		}
		if r.IntN(2) == 0 {
			p := TailPolicy{KeepErrors: r.IntN(2) == 0, SlowerThan: pickDur(0), SlowestFraction: pickFloat(), Ratio: pickFloat(),
				MaxPerSecond: pickInt(0)}
			add(WithTailSampling(p), "WithTailSampling(%+v)", p)
		}
		if r.IntN(2) == 0 {
			p := pickFloat()
			if s, err := TraceIDRatio(p); err == nil {
				add(WithSampler(Independent(s)), "WithSampler(Independent(TraceIDRatio(%v)))", p)
			} else if !errors.Is(err, ErrInvalidSampler) {
				t.Fatalf("TraceIDRatio(%v): %v does not wrap ErrInvalidSampler", p, err)
			}
		}
		sink := &MemorySink{}
		opts = append(opts, WithSink(sink))
		e, err := New(opts...)
		if err != nil {
			refused++
			msg := err.Error()
			if !strings.HasPrefix(msg, "engine: ") && !strings.HasPrefix(msg, "ringbuf: ") {
				t.Errorf("%d %.300s: error %.300q does not start with its package", i, strings.Join(desc, ", "), msg)
			}
			if strings.Contains(msg, "engine: engine: ") {
				t.Errorf("%d %.300s: error %.300q has a second prefix", i, strings.Join(desc, ", "), msg)
			}
			continue
		}
		accepted++
		checkAcceptedEngine(t, e, strings.Join(desc, ", "))
	}
	t.Logf("%d combinations accepted, %d refused", accepted, refused)
	if accepted < 20 || refused < 20 {
		t.Fatalf("%d accepted, %d refused: the generator no longer covers both sides", accepted, refused)
	}
}

// checkAcceptedEngine drives an engine New accepted: runs with nodes,
// attributes and errors, a flush, a shutdown, and the accounting.
func checkAcceptedEngine(t *testing.T, e *Engine, desc string) {
	t.Helper()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for k := range 20 {
		run := e.StartRun(RunInfo{FlowID: "f", AppID: "a", SID: strings.Repeat("s", k)})
		for j := range 3 {
			n := run.StartNode("llm:1", "llm", "LLM")
			n.Input(String("q", strings.Repeat("x", 100*j)), Int64("i", int64(j)))
			if j == 2 {
				n.RecordError(errors.New("boom"))
			}
			n.End()
		}
		run.End(k%3, "")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.ForceFlush(ctx); err != nil {
		t.Errorf("%s: ForceFlush: %v", desc, err)
	}
	if err := e.Shutdown(ctx); err != nil {
		t.Errorf("%s: Shutdown: %v", desc, err)
	}
	s := e.Stats()
	if s.Accepted != s.Exported+s.Dropped+s.SampledOut || s.InFlight != 0 {
		t.Errorf("%s: accounting after shutdown: %+v", desc, s)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 256<<20 {
		t.Errorf("%s: 20 small runs grew the heap by %d bytes", desc, grew)
	}
}
