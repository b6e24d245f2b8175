package otlp

import (
	"context"
	"iter"
	"os/exec"
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
	"github.com/flowtel/flowtel/internal/testkit"
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
			rc := otlptest.StartKeeping(t, otlptest.GRPC)
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
				if delta {
					for _, p := range samples(req, engine.MetricRequests, nil) {
						total += p.value
					}
					for _, p := range samples(req, engine.MetricNodeExecutions, nil) {
						nodes += p.value
					}
					for _, p := range samples(req, engine.MetricRequestTime, nil) {
						hist += p.count
					}
				} else if req == reqs[len(reqs)-1] {
					// The final export's points are the last of the request:
					// a periodic export still queued is sent in the same one
					// (the exporter coalesces a signal's queued batches).
					total = lastSample(t, req, engine.MetricRequests, map[string]string{"ret": "0"}).value
					nodes = lastSample(t, req, engine.MetricNodeExecutions, map[string]string{"node_type": "llm", "status": "ok"}).value
					hist = lastSample(t, req, engine.MetricRequestTime, nil).count
					if p := lastSample(t, req, MetricExportItems, map[string]string{"signal": "traces", "result": "exported"}); p.value != 2*runs {
						t.Errorf("traces exported %d, want %d", p.value, 2*runs)
					}
					if lat, q := samples(req, MetricExportLatency, nil), samples(req, MetricExportQueueBytes, nil); len(lat) == 0 || len(lat)%export.NumSignals != 0 || len(lat)/export.NumSignals != len(q) {
						t.Errorf("export families: %d latency points, %d queue points", len(lat), len(q))
					}
				}
			}
			if total != runs || nodes != runs || hist != runs {
				t.Errorf("requests %d, nodes %d, histogram count %d; want %d", total, nodes, hist, runs)
			}
			xs, _ := ExporterStats(e)
			if m := xs.Signals[export.Metrics]; m.Exported == 0 || m.Dropped != 0 || m.InFlight != 0 {
				t.Errorf("metrics signal: %+v", m)
			}
		})
	}
}

// sample is a data point as these tests read it: its string attributes,
// and a sum's or a gauge's integer value, or a histogram's count.
type sample struct {
	attrs map[string]string
	value int64
	count uint64
}

// samples returns the data points of the metric name in req whose string
// attributes include want, decoded with the official types.
func samples(req *colmetrics.ExportMetricsServiceRequest, name string, want map[string]string) []sample {
	var out []sample
	add := func(kvs []*commonpb.KeyValue, s sample) {
		s.attrs = stringAttrs(kvs)
		for k, v := range want {
			if s.attrs[k] != v {
				return
			}
		}
		out = append(out, s)
	}
	for m := range metricsNamed(req, name) {
		for _, p := range m.GetSum().GetDataPoints() {
			add(p.Attributes, sample{value: p.GetAsInt()})
		}
		for _, p := range m.GetGauge().GetDataPoints() {
			add(p.Attributes, sample{value: p.GetAsInt()})
		}
		for _, p := range m.GetHistogram().GetDataPoints() {
			add(p.Attributes, sample{count: p.Count})
		}
		for _, p := range m.GetExponentialHistogram().GetDataPoints() {
			add(p.Attributes, sample{count: p.Count})
		}
	}
	return out
}

// metricsNamed yields the metrics of req called name, in every resource
// and scope.
func metricsNamed(req *colmetrics.ExportMetricsServiceRequest, name string) iter.Seq[*metricspb.Metric] {
	return func(yield func(*metricspb.Metric) bool) {
		for _, rm := range req.ResourceMetrics {
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					if m.Name == name && !yield(m) {
						return
					}
				}
			}
		}
	}
}

// stringAttrs returns a data point's attributes as strings (the empty
// string for a value of another type).
func stringAttrs(kvs []*commonpb.KeyValue) map[string]string {
	attrs := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		attrs[kv.Key] = kv.Value.GetStringValue()
	}
	return attrs
}

// oneSample returns the single data point samples finds.
// lastSample returns the last data point of the metric name in req whose
// string attributes include want, failing t when there is none.
func lastSample(t *testing.T, req *colmetrics.ExportMetricsServiceRequest, name string, want map[string]string) sample {
	t.Helper()
	ps := samples(req, name, want)
	if len(ps) == 0 {
		t.Fatalf("%s%v: no point", name, want)
	}
	return ps[len(ps)-1]
}

func oneSample(t *testing.T, req *colmetrics.ExportMetricsServiceRequest, name string, want map[string]string) sample {
	t.Helper()
	ps := samples(req, name, want)
	if len(ps) != 1 {
		t.Fatalf("%s%v: %d points, want 1", name, want, len(ps))
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
	if _, err := exec.LookPath("promtool"); err != nil {
		t.Skip("promtool is not installed (apt-get install prometheus)")
	}
	rc := otlptest.StartKeeping(t, otlptest.GRPC)
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
	testkit.Promtool(t, []byte(text))
}
