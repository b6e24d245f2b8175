package export

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

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

// TestSplitRequest splits requests of every signal at several limits and
// checks with the official decoder that every part fits, keeps its items'
// resource, scope and metric, and that together they hold every item but
// the ones that alone exceed the limit.
func TestSplitRequest(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for sig := Signal(0); sig < NumSignals; sig++ {
		for _, max := range []int{300, 1000, 4000, 1 << 20} {
			req, want := bigRequest(sig, rng, 400)
			body, err := proto.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			parts, items := 0, 0
			tooLarge, ok := splitRequest(sig, body, max, func(b []byte, n int) {
				if len(b) > max {
					t.Errorf("%s max %d: a part of %d bytes", sig, max, len(b))
				}
				names := itemNames(t, sig, b)
				if len(names) != n {
					t.Errorf("%s max %d: a part said to hold %d items holds %d", sig, max, n, len(names))
				}
				got = append(got, names...)
				parts++
				items += n
			})
			if !ok {
				t.Fatalf("%s: not split", sig)
			}
			if items+tooLarge != len(want) || (max >= 1000 && tooLarge != 0) || (max == 1<<20 && parts != 1) {
				t.Errorf("%s max %d: %d parts, %d items, %d too large, of %d", sig, max, parts, items, tooLarge, len(want))
			}
			// Every item kept is one of the request's, in order.
			sort.Strings(want)
			for _, n := range got {
				if i := sort.SearchStrings(want, n); i == len(want) || want[i] != n {
					t.Errorf("%s: item %q not in the request", sig, n)
				}
			}
			if len(got) != items {
				t.Errorf("%s: %d names, %d items", sig, len(got), items)
			}
		}
	}
	if _, ok := splitRequest(Traces, []byte{0x0a, 0x80}, 100, func([]byte, int) { t.Error("emitted") }); ok {
		t.Error("a malformed request was split")
	}
}

// TestOversizeBatchSplit: batches of about 8 MiB go to a real gRPC server with
// gRPC's default 4 MiB limit: the exporter splits them, and every item
// arrives.
func TestOversizeBatchSplit(t *testing.T) {
	r := otlptest.Start(t, ProtocolGRPC, nil)
	e, log := newLogged(t, testConfig(ProtocolGRPC, r.Endpoint()))
	rng := rand.New(rand.NewPCG(5, 6))
	var produced [NumSignals]uint64
	for sig := Signal(0); sig < NumSignals; sig++ {
		req, names := bigRequest(sig, rng, 64<<10)
		body, _ := proto.Marshal(req)
		if len(body) < 4<<20 {
			t.Fatalf("%s request of %d bytes: want over 4 MiB", sig, len(body))
		}
		buf := bytebufferpool.Get()
		buf.B = append(buf.B[:0], body...)
		if !e.Enqueue(sig, buf, len(names)) {
			t.Errorf("%s: refused", sig)
		}
		produced[sig] = uint64(len(names))
	}
	flush(t, e)
	s := e.Stats()
	checkIdentity(t, s)
	got := received(r)
	for sig := Signal(0); sig < NumSignals; sig++ {
		st := s.Signals[sig]
		if st.Exported != produced[sig] || got[sig] != int64(produced[sig]) || st.ExportedBatches < 2 {
			t.Errorf("%s: %+v, received %d, want %d exported in 2 or more requests", sig, st, got[sig], produced[sig])
		}
	}
	if errs := log.all(); len(errs) != 0 {
		t.Errorf("errors: %v", errs)
	}
	shutdown(t, e)
}

// TestSplitCountMismatch: when the caller's item count differs from the
// items in an oversize batch, every item is still sent and the accounting
// identity holds in the caller's count.
func TestSplitCountMismatch(t *testing.T) {
	r := otlptest.Start(t, ProtocolHTTPProtobuf, nil)
	cfg := testConfig(ProtocolHTTPProtobuf, r.Endpoint())
	cfg.MaxRequestBytes = 4000
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	req, names := bigRequest(Metrics, rng, 100)
	body, _ := proto.Marshal(req)
	var said uint64
	for _, delta := range []int{-7, +7} {
		buf := bytebufferpool.Get()
		buf.B = append(buf.B[:0], body...)
		e.Enqueue(Metrics, buf, len(names)+delta)
		said += uint64(len(names) + delta)
	}
	flush(t, e)
	s := e.Stats()
	checkIdentity(t, s)
	if st := s.Signals[Metrics]; st.Enqueued != said || st.Exported != said || received(r)[Metrics] != 2*int64(len(names)) {
		t.Errorf("%+v, received %d: want %d exported and %d received", st, received(r)[Metrics], said, 2*len(names))
	}
	shutdown(t, e)
}
