package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/flowtel/flowtel/ringbuf"
	"github.com/flowtel/flowtel/sid"
)

// TestOptionsProperty drives random settings, most of them at or past
// their edges (zero, negative, the largest accepted and one past it,
// math.MaxInt, NaN and infinite ratios and bounds), through New and, when
// New accepts them, a short run that touches every limit (nodes, a child,
// attributes, events, an event's attributes, an error, a long value) and
// ForceFlush and Shutdown. A setting that would break later must be
// refused by New with an error wrapping one of the package's sentinels
// and naming the setting; an accepted one must run without a panic, and
// every wait ends (the contexts bound a hang; no duration is asserted).
// The values that make New allocate its largest rings or arena up front
// (1 GiB) are left to TestSettingsBounds-style tests: the property here
// is the arithmetic of the rest.
func TestOptionsProperty(t *testing.T) {
	iters := 300
	if testing.Short() {
		iters = 60
	}
	seed := rand.Uint64() // logged: a failure replays with rand.NewPCG(7, seed)
	r := rand.New(rand.NewPCG(7, seed))
	t.Logf("seed %d", seed)
	accepted := 0
	for i := range iters {
		opts, desc := randomOptions(r)
		e, err := New(opts...)
		if err != nil {
			if !knownSettingError(err) {
				t.Fatalf("#%d %s: New: %v, an error wrapping none of the sentinels", i, desc, err)
			}
			continue
		}
		accepted++
		shortRun(t, fmt.Sprintf("#%d %s", i, desc), e)
	}
	if accepted == 0 || accepted == iters {
		t.Fatalf("%d of %d settings accepted: the generator exercises one side only", accepted, iters)
	}
	t.Logf("%d of %d settings accepted", accepted, iters)
}

// knownSettingError reports whether err wraps a sentinel New documents
// (or, for WithSID, names it).
func knownSettingError(err error) bool {
	if strings.HasPrefix(err.Error(), "engine: SID configuration: ") {
		return true
	}
	for _, s := range []error{ErrCapacityNotPowerOfTwo, ErrCapacityRange, ErrInvalidShards, ErrBlockTimeout, ErrInvalidPolicy,
		ErrInvalidBatch, ErrInvalidLimit, ErrInvalidIdleTimeout, ErrMemoryLimit, ErrInvalidSampler, ErrInvalidMetrics,
		ErrNilSink, sid.ErrSub, sid.ErrLocation, sid.ErrIP, sid.ErrPort, sid.ErrPID} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// shortRun runs one run through e and shuts it down; a wait that does not
// end within its context is a hang.
func shortRun(t *testing.T, what string, e *Engine) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("%s: panic: %v", what, p)
		}
	}()
	run := e.StartRun(RunInfo{FlowID: "f", AppID: "a", Parent: SpanContext{TraceID: [16]byte{1}, SpanID: [8]byte{2}, TraceState: "a=1,b=2", Sampled: true}})
	run.Srv("k", "v")
	long := strings.Repeat("x", 300)
	for k := range 3 {
		n := run.StartNode(fmt.Sprint("llm:", k), "llm", "LLM")
		n.Input(String("q", long), Int64("i", 1), Float64("f", math.NaN()), Bool("b", true))
		n.InfoEvent(String("a", "1"), String("b", "2"), String("c", "3"))
		n.Info("info")
		c := n.StartChild("tool:1", "tool", "T")
		c.RecordError(errors.New("boom"))
		_ = c.SpanContext()
		n.End()
	}
	run.End(0, "ok")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.ForceFlush(ctx); err != nil {
		t.Fatalf("%s: ForceFlush: %v", what, err)
	}
	if err := e.Shutdown(ctx); err != nil {
		t.Fatalf("%s: Shutdown: %v", what, err)
	}
	checkIdentity(t, e.Stats())
}

// randomOptions returns a random subset of the options, each with a value
// drawn from its valid range or, one time in five, from its edges and
// past them, and their description.
func randomOptions(r *rand.Rand) ([]Option, string) {
	edge := func() bool { return r.IntN(5) == 0 }
	// pick returns one of ok, or one of bad on an edge draw.
	pick := func(ok, bad []int) int {
		if edge() {
			return bad[r.IntN(len(bad))]
		}
		return ok[r.IntN(len(ok))]
	}
	dur := func(ok []time.Duration) time.Duration {
		bad := []time.Duration{0, -1, 1, time.Minute + 1, time.Hour, math.MaxInt64, math.MinInt64}
		if edge() {
			return bad[r.IntN(len(bad))]
		}
		return ok[r.IntN(len(ok))]
	}
	ratio := func() float64 {
		bad := []float64{1e-300, math.SmallestNonzeroFloat64, 1 + 1e-16, -1, 2, math.Copysign(0, -1), math.NaN(), math.Inf(1), math.Inf(-1)}
		if edge() {
			return bad[r.IntN(len(bad))]
		}
		return []float64{0, 0.01, 0.5, 0.999}[r.IntN(4)]
	}
	bad := []int{0, -1, math.MaxInt, math.MinInt, math.MaxInt32 + 1}
	limit := func(most int) int { return pick([]int{1, 2, 7, 100, most}, append(bad, most+1)) }
	var opts []Option
	var desc []string
	add := func(o Option, d string, args ...any) {
		opts = append(opts, o)
		desc = append(desc, fmt.Sprintf(d, args...))
	}
	if r.IntN(3) == 0 {
		n := pick([]int{0, 1, 2, 3, 16}, []int{-1, ringbuf.MaxShards, ringbuf.MaxShards + 1, math.MaxInt, math.MinInt})
		add(WithShards(n), "WithShards(%d)", n)
	}
	if r.IntN(3) == 0 {
		n := pick([]int{0, 2, 64, 4096}, []int{-1, 1, 3, ringbuf.MaxCapacity + 1, ringbuf.MaxCapacity * 2, math.MaxInt, math.MinInt})
		add(WithRingCapacity(n), "WithRingCapacity(%d)", n)
	}
	if r.IntN(4) == 0 {
		p := Policy(pick([]int{0, 1, 2}, []int{3, -1, 255}))
		d := dur([]time.Duration{time.Millisecond, time.Second, time.Minute})
		add(WithOverflow(p, d), "WithOverflow(%d, %v)", p, d)
	}
	if r.IntN(3) == 0 {
		n := pick([]int{1, 2, 512, maxBatchSpans}, append(bad, maxBatchSpans+1))
		d := dur([]time.Duration{time.Millisecond, 10 * time.Millisecond, time.Second, time.Hour})
		add(WithBatch(n, d), "WithBatch(%d, %v)", n, d)
	}
	if r.IntN(4) == 0 {
		d := dur([]time.Duration{1, time.Millisecond, time.Second, time.Hour})
		add(WithIdleTimeout(d), "WithIdleTimeout(%v)", d)
	}
	if r.IntN(2) == 0 {
		l := Limits{}
		if r.IntN(3) == 0 {
			// Not the largest: New would allocate 1 GiB up front.
			l.RunsInFlight = pick([]int{1, 2, 100, 4096}, append(bad, maxRunsInFlight+1))
		}
		for _, f := range []struct {
			p    *int
			most int
		}{{&l.NodesPerRun, maxNodesPerRun}, {&l.Attrs, maxAttrs}, {&l.Events, maxEvents}, {&l.EventAttrs, maxEventAttrs},
			{&l.ValueBytes, maxValueBytes}, {&l.RunBytes, maxRunBytes}} {
			if r.IntN(2) == 0 {
				*f.p = limit(f.most)
			}
		}
		add(WithLimits(l), "WithLimits(%+v)", l)
	}
	if r.IntN(4) == 0 {
		n := int64(pick([]int{64 << 20, 1 << 30, 1 << 40}, []int{0, -1, 1, 1 << 20, math.MaxInt64, math.MinInt64}))
		add(WithMemoryLimit(n), "WithMemoryLimit(%d)", n)
	}
	if r.IntN(4) == 0 {
		p := ratio()
		s, err := TraceIDRatio(p)
		if err == nil {
			if r.IntN(2) == 0 {
				s = Independent(s)
			}
			add(WithSampler(s), "WithSampler(%v)", s)
		} else if !errors.Is(err, ErrInvalidSampler) {
			panic(fmt.Sprintf("TraceIDRatio(%v): %v", p, err))
		}
	}
	if r.IntN(4) == 0 {
		tp := TailPolicy{KeepErrors: r.IntN(2) == 0, SlowerThan: dur([]time.Duration{0, time.Millisecond}), SlowestFraction: ratio(),
			Ratio: ratio(), MaxPerSecond: pick([]int{0, 1, 1000}, bad), RunLogAlways: r.IntN(2) == 0}
		if r.IntN(3) == 0 {
			tp.Rules = []TailRule{{AppID: "a", Policy: TailPolicy{Ratio: ratio(), SlowestFraction: ratio()}}}
		}
		add(WithTailSampling(tp), "WithTailSampling(%+v)", tp)
	}
	if r.IntN(3) == 0 {
		mc := MetricsConfig{Interval: dur([]time.Duration{10 * time.Millisecond, time.Second, time.Hour}),
			Digits: pick([]int{1, 3, 5}, []int{-1, 6, math.MaxInt}), Highest: dur([]time.Duration{time.Second, time.Hour}),
			Limit: pick([]int{1, 100, 10000}, bad), LabelBytes: pick([]int{1, 64, 1024}, bad),
			ExponentialBuckets: pick([]int{2, 160}, []int{-1, 1, 1 << 20, math.MaxInt}),
			Delta:              r.IntN(2) == 0, Exponential: r.IntN(2) == 0, NoExport: r.IntN(2) == 0}
		switch r.IntN(5) {
		case 0:
			mc.Bounds = []float64{ratio(), ratio()}
		case 1:
			mc.Bounds = make([]float64, pick([]int{1, 100}, []int{1 << 12, 1 << 16}))
			for i := range mc.Bounds {
				mc.Bounds[i] = float64(i + 1)
			}
		}
		add(WithMetrics(mc), "WithMetrics(%+v)", mc)
	}
	if r.IntN(5) == 0 {
		c := sid.Config{Sub: strings.Repeat("s", pick([]int{1, 3}, []int{0, 40})), Location: strings.Repeat("l", pick([]int{1, 8}, []int{0, 40})),
			IP: []string{"10.0.0.1", "10.0.0.1", "::1", "x"}[r.IntN(4)], Port: []string{"7860", "7860", "1", "99999"}[r.IntN(4)]}
		add(WithSID(c), "WithSID(%+v)", c)
	}
	if r.IntN(5) == 0 {
		add(WithStackTraces(true), "WithStackTraces(true)")
	}
	return opts, strings.Join(desc, ", ")
}
