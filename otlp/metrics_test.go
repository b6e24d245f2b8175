package otlp

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
)

// newOTLPMetricsEngine returns an engine made by New that sends to ep
// over gRPC, with mc.
func newOTLPMetricsEngine(t *testing.T, ep string, mc engine.MetricsConfig) *engine.Engine {
	t.Helper()
	e, err := New(export.Config{Endpoint: ep, Insecure: true},
		engine.WithBatch(100, 10*time.Millisecond), engine.WithMetrics(mc))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Shutdown(context.Background()) })
	return e
}

// TestMetricsOTLPExport runs the periodic export against a real gRPC
// receiver: requests arrive while the engine runs, and the final export
// at Shutdown holds every run and node, with the exporter's own families.
func TestMetricsOTLPExport(t *testing.T) {
	for _, delta := range []bool{false, true} {
		name := "cumulative"
		if delta {
			name = "delta"
		}
		t.Run(name, func(t *testing.T) {
			rc := startReceiver(t, otlptest.GRPC)
			e := newOTLPMetricsEngine(t, rc.Endpoint(), engine.MetricsConfig{Interval: 20 * time.Millisecond, Delta: delta})
			const runs = 25
			for range runs {
				run := e.StartRun(engine.RunInfo{AppID: "app", FlowID: "flow"})
				run.StartNode("llm:1", "llm", "LLM").End()
				run.End(0, "")
			}
			// Wait (bounded) for a periodic export that saw the runs.
			deadline := time.Now().Add(30 * time.Second)
			for len(rc.Metrics()) < 2 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if err := e.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			reqs := rc.Metrics()
			if len(reqs) < 2 {
				t.Fatalf("%d metric exports, want periodic ones and a final one", len(reqs))
			}
			var total, nodes int64
			var hist uint64
			for _, req := range reqs {
				d := fromRequest(req)
				if delta {
					for _, p := range d.points[engine.MetricRequests] {
						total += p.value
					}
					for _, p := range d.points[engine.MetricNodeExecutions] {
						nodes += p.value
					}
					for _, p := range d.points[engine.MetricRequestTime] {
						hist += p.count
					}
				} else if req == reqs[len(reqs)-1] {
					total = d.one(t, engine.MetricRequests, map[string]string{"ret": "0"}).value
					nodes = d.one(t, engine.MetricNodeExecutions, map[string]string{"node_type": "llm", "status": "ok"}).value
					hist = d.one(t, engine.MetricRequestTime, nil).count
					if p := d.one(t, MetricExportItems, map[string]string{"signal": "traces", "result": "exported"}); p.value != 2*runs {
						t.Errorf("traces exported %d, want %d", p.value, 2*runs)
					}
					if len(d.points[MetricExportLatency]) != export.NumSignals || len(d.points[MetricExportQueueBytes]) != 1 {
						t.Errorf("export families: %v", d.points[MetricExportLatency])
					}
				}
			}
			if total != runs || nodes != runs || hist != runs {
				t.Errorf("requests %d, nodes %d, histogram count %d; want %d", total, nodes, hist, runs)
			}
			xs, _ := ExporterStats(e)
			if m := xs.Signals[export.Metrics]; m.Exported == 0 || m.DroppedTotal() != 0 || m.InFlight != 0 {
				t.Errorf("metrics signal: %+v", m)
			}
		})
	}
}

// The decoding below is engine/metrics_test.go's, for the requests the
// receiver gets.

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

// TestMetricsHandlerPromtool runs the real `promtool check metrics` on the
// handler's output, with exporter families and an overflow series
// included. The only finding tolerated is promtool's advice to use base
// units on "_microseconds" names: flowtel keeps the original's
// server_request_time_microseconds so that its dashboards keep working,
// and the node and export latencies follow it for consistency (see
// docs/original.md).
func TestMetricsHandlerPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (apt-get install prometheus)")
	}
	rc := startReceiver(t, otlptest.GRPC)
	e := newOTLPMetricsEngine(t, rc.Endpoint(), engine.MetricsConfig{Limit: 2, NoExport: true})
	for i := range 40 {
		run := e.StartRun(engine.RunInfo{AppID: "app", FlowID: "flow-" + strconv.Itoa(i%3)})
		run.StartNode("llm:1", "llm", "LLM").End()
		run.End(0, "")
	}
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	// What promhttp.Handler serves (its own tests cover the HTTP side).
	text := string(e.AppendPrometheus(nil))
	for _, want := range []string{`otel_metric_overflow="true"`, "# TYPE flowtel_export_items_total counter", "flowtel_export_latency_microseconds_count"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %s", want)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader([]byte(text))
	out, err := cmd.CombinedOutput()
	allowed := regexp.MustCompile(`^\S+_microseconds use base unit "seconds" instead of "microseconds"$`)
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line != "" && !allowed.MatchString(line) {
			t.Errorf("promtool: %s", line)
		}
	}
	if err != nil && strings.TrimSpace(string(out)) == "" {
		t.Errorf("promtool failed with no output: %v", err)
	}
}
