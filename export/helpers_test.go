package export

import (
	"bytes"
	"context"
	"strconv"
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
		if st.Enqueued != st.Exported+st.Rejected+st.DroppedTotal()+st.InFlight {
			t.Errorf("%s: enqueued %d != exported %d + rejected %d + dropped %d + in flight %d",
				sig, st.Enqueued, st.Exported, st.Rejected, st.DroppedTotal(), st.InFlight)
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

func shutdown(t testing.TB, e *Exporter) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

func flush(t testing.TB, e *Exporter) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := e.ForceFlush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
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
