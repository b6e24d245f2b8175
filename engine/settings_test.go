package engine

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/race"
	"github.com/flowtel/flowtel/sid"
)

// setting is one engine setting the property test varies: an Option
// built from a random value, and the words an error refusing it must
// contain (any one of them, case-insensitive).
type setting struct {
	names []string
	opt   func(v int64, s string) Option
}

func dur(v int64) time.Duration { return time.Duration(v) }

// frac turns v into a fraction to try: NaN, infinities, negative, above 1.
func frac(v int64) float64 {
	switch v {
	case math.MinInt64:
		return math.NaN()
	case math.MaxInt64:
		return math.Inf(1)
	}
	return float64(v) / 1000
}

var engineSettings = []setting{
	{[]string{"shard"}, func(v int64, _ string) Option { return WithShards(int(v)) }},
	{[]string{"capacity", "power of two", "WithRingCapacity"}, func(v int64, _ string) Option { return WithRingCapacity(int(v)) }},
	{[]string{"policy"}, func(v int64, _ string) Option { return WithOverflow(Policy(v), time.Millisecond) }},
	{[]string{"timeout"}, func(v int64, _ string) Option { return WithOverflow(Block, dur(v)) }},
	{[]string{"batch"}, func(v int64, _ string) Option { return WithBatch(int(v), 10*time.Millisecond) }},
	{[]string{"interval", "batch"}, func(v int64, _ string) Option { return WithBatch(64, dur(v)) }},
	{[]string{"idle timeout"}, func(v int64, _ string) Option { return WithIdleTimeout(dur(v)) }},
	{[]string{"RunsInFlight", "WithMemoryLimit", "rings and arena"}, func(v int64, _ string) Option { return WithLimits(Limits{RunsInFlight: int(v)}) }},
	{[]string{"NodesPerRun"}, func(v int64, _ string) Option { return WithLimits(Limits{NodesPerRun: int(v)}) }},
	{[]string{"Attrs"}, func(v int64, _ string) Option { return WithLimits(Limits{Attrs: int(v)}) }},
	{[]string{"Events"}, func(v int64, _ string) Option { return WithLimits(Limits{Events: int(v)}) }},
	{[]string{"ValueBytes"}, func(v int64, _ string) Option { return WithLimits(Limits{ValueBytes: int(v)}) }},
	{[]string{"EventAttrs"}, func(v int64, _ string) Option { return WithLimits(Limits{EventAttrs: int(v)}) }},
	{[]string{"RunBytes"}, func(v int64, _ string) Option { return WithLimits(Limits{RunBytes: int(v)}) }},
	{[]string{"WithMemoryLimit"}, func(v int64, _ string) Option { return WithMemoryLimit(v) }},
	{[]string{"Interval"}, func(v int64, _ string) Option { return WithMetrics(MetricsConfig{Interval: dur(v)}) }},
	{[]string{"ExponentialBuckets"}, func(v int64, _ string) Option { return WithMetrics(MetricsConfig{ExponentialBuckets: int(v)}) }},
	{[]string{"Digits"}, func(v int64, _ string) Option { return WithMetrics(MetricsConfig{Digits: int(v)}) }},
	{[]string{"Highest"}, func(v int64, _ string) Option { return WithMetrics(MetricsConfig{Highest: dur(v)}) }},
	{[]string{"Limit"}, func(v int64, _ string) Option { return WithMetrics(MetricsConfig{Limit: int(v)}) }},
	{[]string{"LabelBytes"}, func(v int64, _ string) Option { return WithMetrics(MetricsConfig{LabelBytes: int(v)}) }},
	{[]string{"Bounds"}, func(v int64, _ string) Option {
		return WithMetrics(MetricsConfig{Bounds: []float64{float64(v), float64(v) * 2, math.Inf(1)}[:1+int(uint64(v)%3)]})
	}},
	{[]string{"Bounds"}, func(v int64, _ string) Option { return WithMetrics(MetricsConfig{Bounds: []float64{1, float64(v)}}) }},
	{[]string{"Bounds"}, func(v int64, _ string) Option {
		b := make([]float64, min(uint64(v), 1<<16))
		for i := range b {
			b[i] = float64(i + 1)
		}
		return WithMetrics(MetricsConfig{Bounds: b})
	}},
	{[]string{"DC", "server"}, func(_ int64, s string) Option {
		return WithMetrics(MetricsConfig{DC: s, ServerHost: s, ServerName: s, PID: s})
	}},
	{[]string{"resource"}, func(_ int64, s string) Option {
		return WithResource(encode.Resource{ServiceName: s, HostIP: s})
	}},
	{[]string{"SID"}, func(v int64, s string) Option {
		return WithSID(sid.Config{Sub: s, Location: s, IP: s, Port: s, PID: int(v)})
	}},
	{[]string{"stack"}, func(v int64, _ string) Option { return WithStackTraces(v%2 == 0) }},
	{[]string{"sink"}, func(v int64, _ string) Option {
		if v%2 == 0 {
			return WithSink(nil)
		}
		return WithSink(&MemorySink{})
	}},
	{[]string{"handler"}, func(int64, string) Option { return WithErrorHandler(nil) }},
	{[]string{"sampler", "ratio"}, func(v int64, _ string) Option {
		s, err := TraceIDRatio(frac(v))
		if err != nil {
			s = AlwaysOff() // refused by its constructor; try the zero-rate sampler
		}
		return WithSampler(ParentBased(s))
	}},
	{[]string{"SlowerThan"}, func(v int64, _ string) Option { return WithTailSampling(TailPolicy{SlowerThan: dur(v)}) }},
	{[]string{"SlowestFraction"}, func(v int64, _ string) Option { return WithTailSampling(TailPolicy{SlowestFraction: frac(v)}) }},
	{[]string{"Ratio"}, func(v int64, _ string) Option {
		return WithTailSampling(TailPolicy{Ratio: frac(v), KeepErrors: v%2 == 0})
	}},
	{[]string{"MaxPerSecond"}, func(v int64, _ string) Option { return WithTailSampling(TailPolicy{MaxPerSecond: int(v)}) }},
	{[]string{"exporter"}, func(int64, string) Option { return WithMetricsExporter(nil) }},
	{[]string{"metrics"}, func(v int64, _ string) Option {
		return WithMetrics(MetricsConfig{Delta: v%2 == 0, Exponential: v%3 != 0, SkipRunRequests: v%5 == 0, NoExport: v%7 == 0})
	}},
}

// randomValue returns one of the values settings break on: zero,
// negative, tiny, huge, the extremes, or a random one.
func randomValue(r *rand.Rand) int64 {
	special := []int64{0, -1, 1, 2, 3, 4, 1000, 1 << 10, 1 << 16, 1 << 20, 1 << 31, 1 << 40,
		math.MaxInt32, math.MaxInt64, math.MinInt64, math.MaxInt64 / 2, -(1 << 20)}
	if r.IntN(4) == 0 {
		return r.Int64N(1<<20) - 1<<10
	}
	return special[r.IntN(len(special))]
}

func randomString(r *rand.Rand) string {
	return []string{"", "x", "héllo", "日本", "\xff\xfe", strings.Repeat("y", 1<<16), "10.0.0.1", "8080", "a\nb\"c"}[r.IntN(9)]
}

// TestEverySettingCheckedAtNew is the property test of the settings: it
// feeds random values (zero, negative, huge, MaxInt64, non-ASCII) to one
// to three settings at a time. New either refuses them with an error that
// names one of them, or the engine then runs a workload without panicking,
// keeps its accounting, and holds no more than its memory limit.
func TestEverySettingCheckedAtNew(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	r := rand.New(rand.NewPCG(seed, 13))
	iters := 300
	if testing.Short() || race.Enabled {
		iters = 60
	}
	refused, ran := 0, 0
	for i := range iters {
		k := 1 + r.IntN(3)
		var opts []Option
		var names []string
		var desc []string
		for range k {
			s := engineSettings[r.IntN(len(engineSettings))]
			v, str := randomValue(r), randomString(r)
			opts = append(opts, s.opt(v, str))
			names = append(names, s.names...)
			desc = append(desc, fmt.Sprintf("%s(%d, %.10q)", s.names[0], v, str))
		}
		what := fmt.Sprintf("seed %d iteration %d: %s", seed, i, strings.Join(desc, ", "))
		e, err := New(opts...)
		if err != nil {
			refused++
			named := false
			for _, n := range names {
				named = named || strings.Contains(strings.ToLower(err.Error()), strings.ToLower(n))
			}
			if !named {
				t.Errorf("%s: the error does not name the setting: %v", what, err)
			}
			continue
		}
		ran++
		runWorkload(t, e, what)
	}
	t.Logf("seed %d: %d settings refused, %d ran the workload", seed, refused, ran)
}

// runWorkload drives e from a few goroutines with ordinary and hostile
// calls, then shuts it down, and checks what every engine must keep.
func runWorkload(t *testing.T, e *Engine, what string) {
	t.Helper()
	big := strings.Repeat("z", 1<<16)
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				run := e.StartRun(RunInfo{AppID: "app", FlowID: fmt.Sprint("flow", i%3), Question: big})
				for j := range 5 {
					n := run.StartNode("llm:1", "llm", "LLM")
					n.Input(String("q", big), Bytes("b", []byte(big)), Int("i", j))
					n.Info("x")
					n.InfoEvent(String("a", "1"), String("b", big), Float64("f", math.NaN()))
					c := n.StartChild("tool:1", "tool", "T")
					_ = c.SpanContext()
					c.End()
					if j == g {
						n.RecordError(fmt.Errorf("boom"))
					} else {
						n.End()
					}
				}
				e.RecordRequest("app\xff", "f", int64(i), time.Duration(i)*time.Millisecond)
				run.End(i%2, "done")
			}
		}()
	}
	wg.Wait()
	_ = e.metrics.appendPrometheus(nil)
	e.metrics.mu.Lock()
	e.metrics.col.collect(true, time.Now().UnixNano()) // an OTLP collection: delta, exponential as configured
	e.metrics.mu.Unlock()
	_ = e.Bottlenecks()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.ForceFlush(ctx); err != nil {
		t.Errorf("%s: ForceFlush: %v", what, err)
	}
	s := e.Stats()
	if s.HeldBytes > s.MemoryLimit {
		t.Errorf("%s: held %d bytes, above the limit %d", what, s.HeldBytes, s.MemoryLimit)
	}
	if err := e.Shutdown(ctx); err != nil {
		t.Errorf("%s: Shutdown: %v", what, err)
	}
	checkDrained(t, what, e.Stats())
}
