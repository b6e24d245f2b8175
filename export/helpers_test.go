package export

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/bytebufferpool"
	"google.golang.org/protobuf/proto"

	"github.com/flowtel/flowtel/internal/otlptest"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// encodeBatch returns an encoded Export*ServiceRequest of sig with n items
// and the resource attribute batch=id, in a pooled buffer, as encode would
// hand it over.
func encodeBatch(t testing.TB, sig Signal, id string, n int) *bytebufferpool.ByteBuffer {
	res := &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
		{Key: "batch", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: id}}},
		{Key: "service.name", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "export-test"}}},
	}}
	var m proto.Message
	switch sig {
	case Traces:
		spans := make([]*tracepb.Span, n)
		for i := range spans {
			spans[i] = &tracepb.Span{TraceId: bytes.Repeat([]byte{1}, 16), SpanId: []byte{0, 0, 0, 0, 0, 0, 0, byte(i + 1)},
				Name: "run_node:llm:" + strconv.Itoa(i), StartTimeUnixNano: 1, EndTimeUnixNano: 2}
		}
		m = &coltrace.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{Resource: res, ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}}}}}
	case Metrics:
		dps := make([]*metricspb.NumberDataPoint, n)
		for i := range dps {
			dps[i] = &metricspb.NumberDataPoint{TimeUnixNano: 1, Value: &metricspb.NumberDataPoint_AsInt{AsInt: int64(i)}}
		}
		m = &colmetrics.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{Resource: res, ScopeMetrics: []*metricspb.ScopeMetrics{{
			Metrics: []*metricspb.Metric{{Name: "server_request_total", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: dps}}}}}}}}}
	case Logs:
		recs := make([]*logspb.LogRecord, n)
		for i := range recs {
			recs[i] = &logspb.LogRecord{TimeUnixNano: 1, Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "INFO LOG " + strconv.Itoa(i)}}}
		}
		m = &collogs.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{Resource: res, ScopeLogs: []*logspb.ScopeLogs{{LogRecords: recs}}}}}
	}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	buf := bytebufferpool.Get()
	buf.B = append(buf.B[:0], b...)
	return buf
}

// waitFor polls cond every few milliseconds; it fails the test if cond is
// still false after a generous bound (this is a liveness guard, not a
// timing assertion).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 6000; i++ {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// checkIdentity asserts the accounting identity for every signal.
func checkIdentity(t testing.TB, s Stats) {
	t.Helper()
	for sig := Signal(0); sig < NumSignals; sig++ {
		st := s.Signals[sig]
		if st.Enqueued != st.Exported+st.Rejected+st.Dropped+st.InFlight {
			t.Errorf("%s: enqueued %d != exported %d + rejected %d + dropped %d + in flight %d",
				sig, st.Enqueued, st.Exported, st.Rejected, st.Dropped, st.InFlight)
		}
	}
	if s.HeldBytes > s.QueueBytes || s.HeldBytes < 0 {
		t.Errorf("held bytes %d outside [0, %d]", s.HeldBytes, s.QueueBytes)
	}
}

// errorLog collects ErrorHandler calls.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

// newLogged returns an exporter of cfg whose errors go to the log it
// returns.
func newLogged(t testing.TB, cfg Config) (*Exporter, *errorLog) {
	t.Helper()
	log := &errorLog{}
	cfg.ErrorHandler = log.handle
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e, log
}

func (l *errorLog) handle(err error) {
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
}

func (l *errorLog) all() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

// fastRetry is a retry configuration for tests.
var fastRetry = RetryConfig{InitialInterval: 20 * time.Millisecond, MaxInterval: 100 * time.Millisecond, MaxElapsedTime: 30 * time.Second}

func testConfig(protocol, endpoint string) Config {
	return Config{Protocol: protocol, Endpoint: endpoint, Timeout: 5 * time.Second, Retry: fastRetry}
}

// oneBatchPerRequest turns coalescing off in cfg, for the tests that count
// requests or responses per batch.
func oneBatchPerRequest(cfg Config) Config {
	cfg.CoalesceBytes = -1
	return cfg
}

func shutdown(t testing.TB, e *Exporter) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// flush waits for e's batches; it fails on anything but a drop (ErrDropped),
// which the tests that use it check in Stats. flushOK wants none dropped.
func flush(t testing.TB, e *Exporter) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := e.ForceFlush(ctx); err != nil && !errors.Is(err, ErrDropped) {
		t.Fatalf("flush: %v", err)
	}
}

func flushOK(t testing.TB, e *Exporter) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := e.ForceFlush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

// flushChecked flushes e and returns its Stats, checked for the identity
// of the counts.
func flushChecked(t testing.TB, e *Exporter) Stats {
	t.Helper()
	flush(t, e)
	s := e.Stats()
	checkIdentity(t, s)
	return s
}

// newReceiver returns a loopback OTLP receiver (not started).
func newReceiver(t testing.TB, protocol string, behave func(otlptest.Call) otlptest.Reply) *otlptest.Receiver {
	return otlptest.New(t, protocol, behave)
}

// received returns the items the receiver accepted, indexed by Signal.
func received(r *otlptest.Receiver) [NumSignals]int64 {
	var out [NumSignals]int64
	got := r.Items()
	for sig := Signal(0); sig < NumSignals; sig++ {
		out[sig] = got[otlptest.Signal(sig)]
	}
	return out
}

// strAttr returns a string attribute of the requests the split tests cut.
func strAttr(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

// bigRequest builds a request of sig with several resources and scopes
// (and for metrics every metric type), whose items are named by their
// position and padded to random sizes up to pad bytes. It returns the
// request and the names of its items, each prefixed by its resource and
// scope (and metric).
func bigRequest(sig Signal, rng *rand.Rand, pad int) (proto.Message, []string) {
	var names []string
	item := func(r, s, i int) string {
		return fmt.Sprintf("r%d/s%d/i%d/%s", r, s, i, strings.Repeat("x", rng.IntN(pad+1)))
	}
	res := func(r int) *resourcepb.Resource {
		return &resourcepb.Resource{Attributes: []*commonpb.KeyValue{strAttr("service.name", fmt.Sprint("svc", r))}}
	}
	scope := func(s int) *commonpb.InstrumentationScope {
		return &commonpb.InstrumentationScope{Name: fmt.Sprint("scope", s), Version: "1"}
	}
	switch sig {
	case Traces:
		req := &coltrace.ExportTraceServiceRequest{}
		for r := 0; r < 3; r++ {
			rs := &tracepb.ResourceSpans{Resource: res(r), SchemaUrl: "https://schema/r"}
			for s := 0; s < 2; s++ {
				ss := &tracepb.ScopeSpans{Scope: scope(s), SchemaUrl: "https://schema/s"}
				for i := 0; i < 40; i++ {
					n := item(r, s, i)
					names = append(names, n)
					ss.Spans = append(ss.Spans, &tracepb.Span{Name: n, TraceId: make([]byte, 16), SpanId: make([]byte, 8), StartTimeUnixNano: 1})
				}
				rs.ScopeSpans = append(rs.ScopeSpans, ss)
			}
			req.ResourceSpans = append(req.ResourceSpans, rs)
		}
		return req, names
	case Logs:
		req := &collogs.ExportLogsServiceRequest{}
		for r := 0; r < 3; r++ {
			rl := &logspb.ResourceLogs{Resource: res(r)}
			for s := 0; s < 2; s++ {
				sl := &logspb.ScopeLogs{Scope: scope(s)}
				for i := 0; i < 40; i++ {
					n := item(r, s, i)
					names = append(names, n)
					sl.LogRecords = append(sl.LogRecords, &logspb.LogRecord{TimeUnixNano: 1, Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: n}}})
				}
				rl.ScopeLogs = append(rl.ScopeLogs, sl)
			}
			req.ResourceLogs = append(req.ResourceLogs, rl)
		}
		return req, names
	}
	req := &colmetrics.ExportMetricsServiceRequest{}
	for r := 0; r < 2; r++ {
		rm := &metricspb.ResourceMetrics{Resource: res(r)}
		for s := 0; s < 2; s++ {
			sm := &metricspb.ScopeMetrics{Scope: scope(s)}
			for k := 0; k < 5; k++ {
				m := &metricspb.Metric{Name: fmt.Sprint("m", k), Unit: "1", Description: "d"}
				attrs := func(i int) []*commonpb.KeyValue {
					n := item(r, s, k*100+i)
					names = append(names, n)
					return []*commonpb.KeyValue{strAttr("name", n)}
				}
				const points = 12
				switch k {
				case 0:
					g := &metricspb.Gauge{}
					for i := 0; i < points; i++ {
						g.DataPoints = append(g.DataPoints, &metricspb.NumberDataPoint{Attributes: attrs(i), Value: &metricspb.NumberDataPoint_AsInt{AsInt: 1}})
					}
					m.Data = &metricspb.Metric_Gauge{Gauge: g}
				case 1:
					sum := &metricspb.Sum{IsMonotonic: true, AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE}
					for i := 0; i < points; i++ {
						sum.DataPoints = append(sum.DataPoints, &metricspb.NumberDataPoint{Attributes: attrs(i), Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: 1}})
					}
					m.Data = &metricspb.Metric_Sum{Sum: sum}
				case 2:
					h := &metricspb.Histogram{AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA}
					for i := 0; i < points; i++ {
						h.DataPoints = append(h.DataPoints, &metricspb.HistogramDataPoint{Attributes: attrs(i), Count: 1, BucketCounts: []uint64{1}})
					}
					m.Data = &metricspb.Metric_Histogram{Histogram: h}
				case 3:
					e := &metricspb.ExponentialHistogram{}
					for i := 0; i < points; i++ {
						e.DataPoints = append(e.DataPoints, &metricspb.ExponentialHistogramDataPoint{Attributes: attrs(i), Count: 1})
					}
					m.Data = &metricspb.Metric_ExponentialHistogram{ExponentialHistogram: e}
				case 4:
					su := &metricspb.Summary{}
					for i := 0; i < points; i++ {
						su.DataPoints = append(su.DataPoints, &metricspb.SummaryDataPoint{Attributes: attrs(i), Count: 1})
					}
					m.Data = &metricspb.Metric_Summary{Summary: su}
				}
				sm.Metrics = append(sm.Metrics, m)
			}
			rm.ScopeMetrics = append(rm.ScopeMetrics, sm)
		}
		req.ResourceMetrics = append(req.ResourceMetrics, rm)
	}
	return req, names
}

// itemNames decodes a request of sig with the official types and returns
// the names of its items, each checked to sit under the resource, scope
// (and metric) its name says, with their other fields intact.
func itemNames(t *testing.T, sig Signal, b []byte) []string {
	t.Helper()
	var names []string
	check := func(name string, res *resourcepb.Resource, scope *commonpb.InstrumentationScope, metric string) {
		var r, s, i int
		if _, err := fmt.Sscanf(name, "r%d/s%d/i%d/", &r, &s, &i); err != nil {
			t.Fatalf("item %q: %v", name, err)
		}
		if res.GetAttributes()[0].GetValue().GetStringValue() != fmt.Sprint("svc", r) || scope.GetName() != fmt.Sprint("scope", s) || scope.GetVersion() != "1" {
			t.Errorf("item %q under resource %v scope %v", name, res, scope)
		}
		if metric != "" && metric != fmt.Sprint("m", i/100) {
			t.Errorf("point %q under metric %q", name, metric)
		}
		names = append(names, name)
	}
	switch sig {
	case Traces:
		var req coltrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			t.Fatal(err)
		}
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				if rs.SchemaUrl != "https://schema/r" || ss.SchemaUrl != "https://schema/s" {
					t.Errorf("schema URLs lost: %q %q", rs.SchemaUrl, ss.SchemaUrl)
				}
				for _, sp := range ss.Spans {
					check(sp.Name, rs.Resource, ss.Scope, "")
				}
			}
		}
	case Logs:
		var req collogs.ExportLogsServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			t.Fatal(err)
		}
		for _, rl := range req.ResourceLogs {
			for _, sl := range rl.ScopeLogs {
				for _, lr := range sl.LogRecords {
					check(lr.Body.GetStringValue(), rl.Resource, sl.Scope, "")
				}
			}
		}
	case Metrics:
		var req colmetrics.ExportMetricsServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			t.Fatal(err)
		}
		for _, rm := range req.ResourceMetrics {
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					if m.Unit != "1" || m.Description != "d" {
						t.Errorf("metric %q lost its unit or description", m.Name)
					}
					var attrs [][]*commonpb.KeyValue
					switch d := m.Data.(type) {
					case *metricspb.Metric_Gauge:
						for _, p := range d.Gauge.DataPoints {
							attrs = append(attrs, p.Attributes)
						}
					case *metricspb.Metric_Sum:
						if !d.Sum.IsMonotonic || d.Sum.AggregationTemporality != metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE {
							t.Errorf("sum %q lost its fields", m.Name)
						}
						for _, p := range d.Sum.DataPoints {
							attrs = append(attrs, p.Attributes)
						}
					case *metricspb.Metric_Histogram:
						if d.Histogram.AggregationTemporality != metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA {
							t.Errorf("histogram %q lost its temporality", m.Name)
						}
						for _, p := range d.Histogram.DataPoints {
							attrs = append(attrs, p.Attributes)
						}
					case *metricspb.Metric_ExponentialHistogram:
						for _, p := range d.ExponentialHistogram.DataPoints {
							attrs = append(attrs, p.Attributes)
						}
					case *metricspb.Metric_Summary:
						for _, p := range d.Summary.DataPoints {
							attrs = append(attrs, p.Attributes)
						}
					default:
						t.Errorf("metric %q without data", m.Name)
					}
					for _, a := range attrs {
						check(a[0].GetValue().GetStringValue(), rm.Resource, sm.Scope, m.Name)
					}
				}
			}
		}
	}
	return names
}
