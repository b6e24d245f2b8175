package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/proto"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/testkit"
)

// point is one decoded OTLP data point of any kind, with its attributes
// as strings.
type point struct {
	attrs    map[string]string
	value    int64
	count    uint64
	sum      float64
	min, max float64
	buckets  []uint64
	bounds   []float64
	expo     *metricspb.ExponentialHistogramDataPoint
}

// decoded is a decoded ExportMetricsServiceRequest, points by metric name.
type decoded struct {
	req    *colmetrics.ExportMetricsServiceRequest
	points map[string][]point
	units  map[string]string
	temp   map[string]metricspb.AggregationTemporality
}

func anyString(v *commonpb.AnyValue) string {
	switch x := v.Value.(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	}
	return fmt.Sprint(v)
}

func attrMap(kvs []*commonpb.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[kv.Key] = anyString(kv.Value)
	}
	return m
}

// decodeMetrics decodes an OTLP request with the official types.
func decodeMetrics(t testing.TB, b []byte) *decoded {
	t.Helper()
	req := &colmetrics.ExportMetricsServiceRequest{}
	if err := proto.Unmarshal(b, req); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return fromRequest(req)
}

func fromRequest(req *colmetrics.ExportMetricsServiceRequest) *decoded {
	d := &decoded{req: req, points: map[string][]point{}, units: map[string]string{}, temp: map[string]metricspb.AggregationTemporality{}}
	for _, rm := range req.ResourceMetrics {
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				d.units[m.Name] = m.Unit
				var ps []point
				switch x := m.Data.(type) {
				case *metricspb.Metric_Sum:
					d.temp[m.Name] = x.Sum.AggregationTemporality
					for _, p := range x.Sum.DataPoints {
						ps = append(ps, point{attrs: attrMap(p.Attributes), value: p.GetAsInt()})
					}
				case *metricspb.Metric_Gauge:
					for _, p := range x.Gauge.DataPoints {
						ps = append(ps, point{attrs: attrMap(p.Attributes), value: p.GetAsInt()})
					}
				case *metricspb.Metric_Histogram:
					d.temp[m.Name] = x.Histogram.AggregationTemporality
					for _, p := range x.Histogram.DataPoints {
						ps = append(ps, point{attrs: attrMap(p.Attributes), count: p.Count, sum: p.GetSum(),
							min: p.GetMin(), max: p.GetMax(), buckets: p.BucketCounts, bounds: p.ExplicitBounds})
					}
				case *metricspb.Metric_ExponentialHistogram:
					d.temp[m.Name] = x.ExponentialHistogram.AggregationTemporality
					for _, p := range x.ExponentialHistogram.DataPoints {
						ps = append(ps, point{attrs: attrMap(p.Attributes), count: p.Count, sum: p.GetSum(),
							min: p.GetMin(), max: p.GetMax(), expo: p})
					}
				}
				d.points[m.Name] = append(d.points[m.Name], ps...)
			}
		}
	}
	return d
}

// collectOTLP takes one OTLP collection of e, encodes it and decodes it.
func collectOTLP(t testing.TB, e *Engine) *decoded {
	t.Helper()
	m := e.metrics
	m.mu.Lock()
	ms, n := m.col.collect(true, time.Now().UnixNano())
	b := encode.AppendMetrics(nil, &e.cfg.resource, ms)
	m.mu.Unlock()
	d := decodeMetrics(t, b)
	got := 0
	for _, ps := range d.points {
		got += len(ps)
	}
	if got != n {
		t.Errorf("collect said %d points, decoded %d", n, got)
	}
	return d
}

// find returns the points of name whose attributes include want.
func (d *decoded) find(name string, want map[string]string) []point {
	var out []point
	for _, p := range d.points[name] {
		ok := true
		for k, v := range want {
			ok = ok && p.attrs[k] == v
		}
		if ok {
			out = append(out, p)
		}
	}
	return out
}

// one returns the single point of name with attributes want.
func (d *decoded) one(t testing.TB, name string, want map[string]string) point {
	t.Helper()
	ps := d.find(name, want)
	if len(ps) != 1 {
		t.Fatalf("%s%v: %d points, want 1 (all: %+v)", name, want, len(ps), d.points[name])
	}
	return ps[0]
}

func newMetricsEngine(t testing.TB, opts ...Option) *Engine {
	t.Helper()
	e, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Shutdown(context.Background()) })
	return e
}

// TestMetricsFromRuns checks the request and node families against the
// runs that produced them: counts by ret, node status (failed and never
// ended count as error), static labels, and units.
func TestMetricsFromRuns(t *testing.T) {
	e := newMetricsEngine(t, WithMetrics(MetricsConfig{DC: "hf", ServerHost: "10.0.0.1", ServerName: "agent", PID: "42"}))
	const runs = 30
	for i := range runs {
		run := e.StartRun(RunInfo{AppID: "app", FlowID: "flow"})
		run.StartNode("start:1", "start", "Start").End()
		llm := run.StartNode("llm:1", "llm", "LLM")
		if i%3 == 0 {
			llm.RecordError(errors.New("model overloaded"))
		}
		llm.End()
		if i%5 == 0 {
			run.StartNode("code:1", "code", "Code") // never ended: incomplete
		}
		code := 0
		if i%10 == 0 {
			code = 10001
		}
		run.End(code, "")
	}
	flush(t, e)
	d := collectOTLP(t, e)

	static := map[string]string{"dc": "hf", "server_host": "10.0.0.1", "server_name": "agent", "pid": "42", "app_id": "app", "func": "flow"}
	with := func(k, v string) map[string]string {
		m := map[string]string{k: v}
		for a, b := range static {
			m[a] = b
		}
		return m
	}
	if p := d.one(t, MetricRequests, with("ret", "0")); p.value != runs-3 {
		t.Errorf("ret=0: %d, want %d", p.value, runs-3)
	}
	if p := d.one(t, MetricRequests, with("ret", "10001")); p.value != 3 {
		t.Errorf("ret=10001: %d, want 3", p.value)
	}
	h := d.one(t, MetricRequestTime, static)
	if h.count != runs || len(h.buckets) != len(DefaultLatencyBounds)+1 {
		t.Errorf("request time: count %d, %d buckets", h.count, len(h.buckets))
	}
	if _, ok := h.attrs["ret"]; ok {
		t.Error("request time has a ret label")
	}
	wantNodes := []struct {
		typ     string
		ok, err int64
	}{{"start", runs, 0}, {"llm", runs - 10, 10}, {"code", 0, 6}}
	for _, w := range wantNodes {
		ok := d.one(t, MetricNodeExecutions, map[string]string{"node_type": w.typ, "status": NodeStatusOK})
		bad := d.one(t, MetricNodeExecutions, map[string]string{"node_type": w.typ, "status": NodeStatusError})
		if ok.value != w.ok || bad.value != w.err {
			t.Errorf("%s: ok %d error %d, want %d and %d", w.typ, ok.value, bad.value, w.ok, w.err)
		}
		if h := d.one(t, MetricNodeDuration, map[string]string{"node_type": w.typ}); int64(h.count) != w.ok+w.err {
			t.Errorf("%s duration count %d", w.typ, h.count)
		}
	}
	for name, unit := range map[string]string{MetricRequests: "{request}", MetricRequestTime: "us", MetricNodeDuration: "us", MetricNodeExecutions: "{execution}"} {
		if d.units[name] != unit {
			t.Errorf("%s unit %q, want %q", name, d.units[name], unit)
		}
		if d.temp[name] != metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE {
			t.Errorf("%s temporality %v", name, d.temp[name])
		}
	}
}

// TestMetricsRealMicroseconds records known durations and checks that the
// histogram holds microseconds (the original recorded milliseconds), with
// exact count, sum, min and max, and buckets placed by the bounds.
func TestMetricsRealMicroseconds(t *testing.T) {
	e := newMetricsEngine(t)
	r := rand.New(rand.NewPCG(1, 2))
	var sum, lo, hi int64
	const n = 2000
	want := make([]uint64, len(DefaultLatencyBounds)+1)
	for i := range n {
		us := r.Int64N(20_000_000) // up to 20 s
		if i == 0 {
			us = 5_000_000 // exactly on a bound: counted at or below it
		}
		e.RecordRequest("a", "f", 0, time.Duration(us)*time.Microsecond)
		sum += us
		if i == 0 || us < lo {
			lo = us
		}
		hi = max(hi, us)
		k := 0
		for k < len(DefaultLatencyBounds) && float64(us) > DefaultLatencyBounds[k] {
			k++
		}
		want[k]++
	}
	d := collectOTLP(t, e)
	p := d.one(t, MetricRequestTime, map[string]string{"app_id": "a"})
	if p.count != n || int64(p.sum) != sum || int64(p.min) != lo || int64(p.max) != hi {
		t.Fatalf("count %d sum %v min %v max %v, want %d %d %d %d", p.count, p.sum, p.min, p.max, n, sum, lo, hi)
	}
	// HDR places a value by its bucket's lowest value, within 1/1024: a
	// value just above a bound may be counted below it. Allow exactly that.
	for k := range want {
		if diff := int64(p.buckets[k]) - int64(want[k]); diff < -2 || diff > 2 {
			t.Errorf("bucket %d: %d, want %d", k, p.buckets[k], want[k])
		}
	}
}

// TestMetricsConcurrentRunsOwnLabels runs goroutines at once, each with
// its own app_id, func, ret, node type, node status and latency, both
// through runs and through RecordRequest, and checks that every series
// holds exactly its own goroutine's measurements: no label leaks between
// concurrent requests (the original shared one label map).
func TestMetricsConcurrentRunsOwnLabels(t *testing.T) {
	const workers, per = 8, 200
	// Block: every run must reach the metrics, none dropped by a full ring.
	e := newMetricsEngine(t, WithOverflow(Block, time.Minute))
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			app, flow, typ := fmt.Sprint("app-", g), fmt.Sprint("flow-", g), fmt.Sprint("type-", g)
			series := e.RequestSeries("rec-"+app, flow, int64(g))
			for i := range per {
				run := e.StartRun(RunInfo{AppID: app, FlowID: flow})
				n := run.StartNode(typ+":1", typ, "node")
				if g%2 == 1 {
					n.RecordError(errors.New("boom"))
				}
				n.End()
				run.End(g, "")
				d := time.Duration(g+1) * time.Millisecond
				if i%2 == 0 {
					series.Record(d)
				} else {
					e.RecordRequest("rec-"+app, flow, int64(g), d)
				}
			}
		})
	}
	wg.Wait()
	flush(t, e)
	d := collectOTLP(t, e)
	if got := len(d.points[MetricRequests]); got != 2*workers {
		t.Fatalf("%d request series, want %d", got, 2*workers)
	}
	for _, p := range d.points[MetricRequests] {
		var g int
		app := p.attrs["app_id"]
		if _, err := fmt.Sscanf(app[len(app)-1:], "%d", &g); err != nil {
			t.Fatalf("app_id %q", app)
		}
		if p.attrs["func"] != fmt.Sprint("flow-", g) || p.attrs["ret"] != strconv.Itoa(g) || p.value != per {
			t.Errorf("series %v = %d: labels of another request", p.attrs, p.value)
		}
	}
	for g := range workers {
		h := d.one(t, MetricRequestTime, map[string]string{"app_id": fmt.Sprint("rec-app-", g)})
		us := float64((g + 1) * 1000)
		if h.count != per || h.min != us || h.max != us || h.attrs["func"] != fmt.Sprint("flow-", g) {
			t.Errorf("worker %d: %+v, want %d values of %v µs", g, h, per, us)
		}
		status, other := NodeStatusOK, NodeStatusError
		if g%2 == 1 {
			status, other = other, status
		}
		typ := fmt.Sprint("type-", g)
		if p := d.one(t, MetricNodeExecutions, map[string]string{"node_type": typ, "status": status}); p.value != per {
			t.Errorf("%s %s: %d", typ, status, p.value)
		}
		if p := d.one(t, MetricNodeExecutions, map[string]string{"node_type": typ, "status": other}); p.value != 0 {
			t.Errorf("%s %s: %d", typ, other, p.value)
		}
	}
}

// TestMetricsCardinalityLimit checks that past the limit new label values
// go to one overflow series, marked otel.metric.overflow, and are counted.
func TestMetricsCardinalityLimit(t *testing.T) {
	const limit, apps = 3, 10
	e := newMetricsEngine(t, WithMetrics(MetricsConfig{Limit: limit}))
	for i := range apps {
		e.RecordRequest(fmt.Sprint("app", i), "f", 0, time.Millisecond)
		e.RecordRequest(fmt.Sprint("app", i), "f", 0, time.Millisecond)
	}
	d := collectOTLP(t, e)
	if got := len(d.points[MetricRequests]); got != limit+1 {
		t.Fatalf("%d series, want %d + overflow", got, limit)
	}
	over := d.one(t, MetricRequests, map[string]string{"otel.metric.overflow": "true"})
	if over.value != 2*(apps-limit) {
		t.Errorf("overflow series %d, want %d", over.value, 2*(apps-limit))
	}
	if _, ok := over.attrs["app_id"]; ok {
		t.Errorf("overflow series has app_id: %v", over.attrs)
	}
	if p := d.one(t, MetricRequestTime, map[string]string{"otel.metric.overflow": "true"}); p.count != 2*(apps-limit) {
		t.Errorf("overflow histogram count %d", p.count)
	}
	for _, name := range []string{MetricRequests, MetricRequestTime} {
		if p := d.one(t, MetricSeriesOverflow, map[string]string{"metric": name}); p.value != 2*(apps-limit) {
			t.Errorf("%s overflowed %d, want %d", name, p.value, 2*(apps-limit))
		}
	}
}

// TestMetricsHealth checks the engine's own families against Stats.
func TestMetricsHealth(t *testing.T) {
	e := newMetricsEngine(t, WithLimits(Limits{RunsInFlight: 4}))
	var held []Run
	for range 6 { // 2 past the limit: dropped as run_limit
		held = append(held, e.StartRun(RunInfo{}))
	}
	held[0].End(0, "")
	flush(t, e)
	st := e.Stats()
	d := collectOTLP(t, e)
	if p := d.one(t, MetricRecordsAccepted, nil); p.value != int64(st.Accepted) {
		t.Errorf("accepted %d, Stats %d", p.value, st.Accepted)
	}
	if p := d.one(t, MetricRecordsExported, nil); p.value != int64(st.Exported) || p.value != 1 {
		t.Errorf("exported %d, Stats %d", p.value, st.Exported)
	}
	if p := d.one(t, MetricRecordsInFlight, nil); p.value != 3 {
		t.Errorf("in flight %d, want 3", p.value)
	}
	if got := len(d.points[MetricRecordsDropped]); got != int(numDropReasons) {
		t.Errorf("%d drop reasons, want all %d (zeros included, so rate() has data)", got, numDropReasons)
	}
	if p := d.one(t, MetricRecordsDropped, map[string]string{"reason": "run_limit"}); p.value != 2 {
		t.Errorf("run_limit drops %d, want 2", p.value)
	}
	if _, ok := d.points["flowtel_export_items_total"]; ok {
		t.Error("export families without an exporter")
	}
	for _, r := range held[1:] {
		r.End(0, "")
	}
}

// TestMetricsDelta checks delta temporality: each collection holds what
// happened since the previous one.
func TestMetricsDelta(t *testing.T) {
	e := newMetricsEngine(t, WithMetrics(MetricsConfig{Delta: true}))
	s := e.RequestSeries("a", "f", 0)
	for range 5 {
		s.Record(time.Millisecond)
	}
	d1 := collectOTLP(t, e)
	for range 2 {
		s.Record(3 * time.Millisecond)
	}
	d2 := collectOTLP(t, e)
	if p := d1.one(t, MetricRequests, nil); p.value != 5 {
		t.Errorf("first delta %d", p.value)
	}
	p2 := d2.one(t, MetricRequests, nil)
	h2 := d2.one(t, MetricRequestTime, nil)
	if p2.value != 2 || h2.count != 2 || h2.min != 3000 || h2.sum != 6000 {
		t.Errorf("second delta: counter %d, histogram %+v", p2.value, h2)
	}
	if d2.temp[MetricRequests] != metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA {
		t.Errorf("temporality %v", d2.temp[MetricRequests])
	}
	// /metrics stays cumulative.
	if got := string(e.metrics.appendPrometheus(nil)); !containsLine(got, `server_request_time_microseconds_count{`, " 7") {
		t.Errorf("cumulative count not 7 in:\n%s", got)
	}
}

// TestMetricsExponential checks exponential histograms: every value in a
// bucket, and bucket k holding values in (base^k, base^(k+1)].
func TestMetricsExponential(t *testing.T) {
	e := newMetricsEngine(t, WithMetrics(MetricsConfig{Exponential: true, ExponentialBuckets: 20}))
	r := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		e.RecordRequest("a", "f", 0, time.Duration(1+r.Int64N(10_000_000))*time.Microsecond)
	}
	d := collectOTLP(t, e)
	p := d.one(t, MetricRequestTime, nil)
	if p.expo == nil {
		t.Fatal("not an exponential histogram")
	}
	var n uint64
	for _, c := range p.expo.Positive.BucketCounts {
		n += c
	}
	if n+p.expo.ZeroCount != 1000 || len(p.expo.Positive.BucketCounts) > 20 {
		t.Errorf("buckets hold %d (+%d zero) in %d buckets", n, p.expo.ZeroCount, len(p.expo.Positive.BucketCounts))
	}
}

func TestMetricsConfigValidate(t *testing.T) {
	for _, c := range []MetricsConfig{
		{Interval: -1}, {Limit: -1}, {Digits: 6}, {Highest: time.Nanosecond}, {ExponentialBuckets: 1},
		{Bounds: []float64{10, 5}}, {Bounds: []float64{-1}}, {Bounds: []float64{1, 1}},
	} {
		cfg := defaultConfig()
		WithMetrics(c).apply(&cfg)
		if err := cfg.metrics.validate(); !errors.Is(err, ErrInvalidMetrics) {
			t.Errorf("%+v: %v", c, err)
		}
		if _, err := New(WithMetrics(c)); !errors.Is(err, ErrInvalidMetrics) {
			t.Errorf("%+v: New returned %v", c, err)
		}
	}
	cfg := defaultConfig()
	if err := cfg.metrics.validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

// TestMetricsAllocs asserts the hot budgets: observeRun (the pipeline's
// per-run call), RequestSeries.Record and RecordRequest allocate nothing
// once their series exist.
func TestMetricsAllocs(t *testing.T) {
	e := newMetricsEngine(t)
	run := &encode.Run{AppID: "app", FlowID: "flow", Code: 10001, StartUnixNano: 1, EndUnixNano: 5_000_000}
	for i, typ := range []string{"start", "llm", "code", "end"} {
		run.Nodes = append(run.Nodes, &encode.Node{NodeType: typ, StartUnixNano: 10, EndUnixNano: int64(i+1) * 1e6})
	}
	run.Nodes[2].Status = encode.StatusError
	s := e.RequestSeries("app", "flow", 0)
	e.RecordRequest("app", "flow", 20001, time.Millisecond)
	m := e.metrics
	t.Run("observeRun", func(t *testing.T) { testkit.WantAllocs(t, 0, func() { m.observeRun(run) }) })
	t.Run("RequestSeries.Record", func(t *testing.T) { testkit.WantAllocs(t, 0, func() { s.Record(time.Millisecond) }) })
	t.Run("RecordRequest", func(t *testing.T) {
		testkit.WantAllocs(t, 0, func() { e.RecordRequest("app", "flow", 20001, time.Millisecond) })
	})
	t.Run("overflow", func(t *testing.T) {
		e := newMetricsEngine(t, WithMetrics(MetricsConfig{Limit: 1}))
		e.RecordRequest("first", "f", 0, 0)
		testkit.WantAllocs(t, 0, func() { e.RecordRequest("other", "f", 0, time.Millisecond) })
	})
}

// TestMetricsNodeFoldExact checks that observeRun, which looks a type up
// once while the fold keeps it, across runs, keeps every count per node:
// executions by status and durations of each type, the lookups sent to the
// overflow series and the label cuts (Stats.ValuesTruncated).
func TestMetricsNodeFoldExact(t *testing.T) {
	e := newMetricsEngine(t, WithMetrics(MetricsConfig{Limit: 6 + foldKept, LabelBytes: 8}))
	const long = "toolongtype" // cut to "toolongt", the third series
	// More types than nodeFold keeps, g and h past the limit.
	types := []string{"a", "a", "b", "b", "b", "a", long, long, "a", "d", "e", "f"}
	for k := range 2 * foldKept {
		types = append(types, fmt.Sprintf("t%02d", k%foldKept))
	}
	types = append(types, "g", "f", "h", "b", "a", "e", "d", "t03", "t15", "t00")
	const runs = 2                // the fold keeps its series from one run to the next
	want := map[string][3]int64{} // by series: ok, error, cancelled
	run := &encode.Run{AppID: "app", FlowID: "f", EndUnixNano: 1}
	for i, typ := range types {
		n := &encode.Node{NodeType: typ, StartUnixNano: 1_000, EndUnixNano: 1_000 + int64(i+1)*1_000}
		series := typ
		switch typ {
		case long:
			series = long[:8]
		case "g", "h":
			series = "" // past the limit: the overflow series
		}
		w := want[series]
		switch i % 3 {
		case 1:
			n.Status = encode.StatusError
			w[1] += runs
		case 2:
			n.Status, n.Cancelled = encode.StatusError, true
			w[2] += runs
		default:
			w[0] += runs
		}
		want[series] = w
		run.Nodes = append(run.Nodes, n)
	}
	before := e.Stats().ValuesTruncated
	for range runs {
		e.metrics.observeRun(run)
	}
	if got := e.Stats().ValuesTruncated - before; got != 2*runs {
		t.Errorf("ValuesTruncated +%d, want %d: one per node of the long type", got, 2*runs)
	}
	d := collectOTLP(t, e)
	for series, w := range want {
		labels := map[string]string{"node_type": series}
		if series == "" {
			labels = map[string]string{"otel.metric.overflow": "true"}
		}
		for k, status := range []string{NodeStatusOK, NodeStatusError, NodeStatusCancelled} {
			labels["status"] = status
			if ps := d.find(MetricNodeExecutions, labels); w[k] != 0 && (len(ps) != 1 || ps[0].value != w[k]) {
				t.Errorf("%s %v: %+v, want %d", MetricNodeExecutions, labels, ps, w[k])
			}
		}
		delete(labels, "status")
		if p := d.one(t, MetricNodeDuration, labels); p.count != uint64(w[0]+w[1]+w[2]) {
			t.Errorf("%s %v: count %d, want %d", MetricNodeDuration, labels, p.count, w[0]+w[1]+w[2])
		}
	}
	for _, name := range []string{MetricNodeExecutions, MetricNodeDuration} {
		if p := d.one(t, MetricSeriesOverflow, map[string]string{"metric": name}); p.value != 2*runs {
			t.Errorf("%s overflowed %d, want %d: one per node of type g or h", name, p.value, 2*runs)
		}
	}
}
