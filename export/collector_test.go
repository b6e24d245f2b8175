package export

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/valyala/bytebufferpool"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// raceEnabled is set by race_test.go under -race.
var raceEnabled bool

// reply is what the test collector answers to one request.
type reply struct {
	code       codes.Code    // OK, or the gRPC code (mapped to an HTTP status)
	httpStatus int           // overrides the mapping when not 0
	rejected   int64         // partial success
	msg        string        // partial success or error message
	retryInfo  time.Duration // gRPC: attach RetryInfo with this delay when > 0
	retryAfter string        // HTTP: Retry-After header
	sleep      time.Duration // delay the answer (honouring the request context)
}

// call describes one request to the behaviour.
type call struct {
	n       int // index of the request at this collector
	batch   string
	attempt int // index of the request for this batch
	sig     Signal
}

// collector is a real OTLP receiver on loopback: the official gRPC services
// or an HTTP handler, decoding with the official types.
type collector struct {
	t      testing.TB
	proto  string
	addr   string
	behave func(call) reply

	mu       sync.Mutex
	calls    int
	attempts map[string]int
	arrivals map[string][]time.Time
	accepted map[string]int64 // batch -> items accepted (once per batch)
	items    [NumSignals]int64
	header   string // last x-token seen

	tls *tls.Config // serve TLS when set
	// discard answers OK without decoding (throughput benchmarks only).
	discard bool

	lis net.Listener
	gs  *grpc.Server
	hs  *http.Server
	wg  sync.WaitGroup
}

func newCollector(t testing.TB, protocol string, behave func(call) reply) *collector {
	if behave == nil {
		behave = func(call) reply { return reply{} }
	}
	return &collector{t: t, proto: protocol, behave: behave, addr: "127.0.0.1:0",
		attempts: map[string]int{}, arrivals: map[string][]time.Time{}, accepted: map[string]int64{}}
}

// reserveAddr returns a loopback address nobody listens on (yet).
func reserveAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// start listens on c.addr (bounded retries: the port may still be held by
// the previous incarnation) and serves.
func (c *collector) start() {
	c.t.Helper()
	var l net.Listener
	var err error
	for i := 0; i < 200; i++ {
		if l, err = net.Listen("tcp", c.addr); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		c.t.Fatalf("listen %s: %v", c.addr, err)
	}
	c.addr = l.Addr().String()
	if c.tls != nil {
		cfg := c.tls.Clone()
		cfg.NextProtos = []string{"h2"}
		if c.proto != ProtocolGRPC {
			cfg.NextProtos = []string{"http/1.1"}
		}
		l = tls.NewListener(l, cfg)
	}
	c.lis = l
	c.wg.Add(1)
	if c.proto == ProtocolGRPC {
		var opts []grpc.ServerOption
		if c.discard {
			opts = append(opts, grpc.ForceServerCodecV2(discardCodec{}), grpc.UnknownServiceHandler(func(_ any, ss grpc.ServerStream) error {
				var m discardMsg
				if err := ss.RecvMsg(&m); err != nil {
					return err
				}
				return ss.SendMsg(&m)
			}))
		}
		gs := grpc.NewServer(opts...)
		coltrace.RegisterTraceServiceServer(gs, traceSrv{c: c})
		colmetrics.RegisterMetricsServiceServer(gs, metricsSrv{c: c})
		collogs.RegisterLogsServiceServer(gs, logsSrv{c: c})
		c.gs = gs
		go func() { defer c.wg.Done(); _ = gs.Serve(l) }()
		return
	}
	mux := http.NewServeMux()
	for sig := Signal(0); sig < NumSignals; sig++ {
		mux.HandleFunc("POST "+sig.httpPath(), func(w http.ResponseWriter, r *http.Request) {
			if c.discard {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/x-protobuf")
				return
			}
			c.serveHTTP(sig, w, r)
		})
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	c.hs = hs
	go func() { defer c.wg.Done(); _ = hs.Serve(l) }()
}

// stop kills the collector: connections are closed mid-request.
func (c *collector) stop() {
	if c.gs != nil {
		c.gs.Stop()
		c.gs = nil
	}
	if c.hs != nil {
		_ = c.hs.Close()
		c.hs = nil
	}
	c.wg.Wait()
}

// endpoint is the Config.Endpoint for this collector.
func (c *collector) endpoint() string { return "http://" + c.addr }

// record runs the behaviour for one decoded request and records it.
func (c *collector) record(ctx context.Context, sig Signal, batch string, items int64, token string) reply {
	c.mu.Lock()
	cl := call{n: c.calls, batch: batch, attempt: c.attempts[batch], sig: sig}
	c.calls++
	c.attempts[batch]++
	c.arrivals[batch] = append(c.arrivals[batch], time.Now())
	c.header = token
	c.mu.Unlock()
	r := c.behave(cl)
	if r.sleep > 0 {
		t := time.NewTimer(r.sleep)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return reply{code: codes.Canceled}
		}
	}
	if r.code == codes.OK && (r.httpStatus == 0 || r.httpStatus/100 == 2) {
		c.mu.Lock()
		if _, dup := c.accepted[batch]; !dup {
			acc := items - min(r.rejected, items)
			c.accepted[batch] = acc
			c.items[sig] += acc
		}
		c.mu.Unlock()
	}
	return r
}

// accepted returns the items accepted per signal (each batch once).
func (c *collector) acceptedItems() [NumSignals]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.items
}

func (c *collector) arrivalsOf(batch string) []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.arrivals[batch]...)
}

func (c *collector) lastToken() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.header
}

func grpcErr(r reply) error {
	if r.code == codes.OK {
		return nil
	}
	st := status.New(r.code, r.msg)
	if r.retryInfo > 0 {
		st, _ = st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(r.retryInfo)})
	}
	return st.Err()
}

func token(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("x-token"); len(v) > 0 {
		return v[0]
	}
	return ""
}

type traceSrv struct {
	coltrace.UnimplementedTraceServiceServer
	c *collector
}

func (s traceSrv) Export(ctx context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	batch, n := traceBatch(req)
	r := s.c.record(ctx, Traces, batch, n, token(ctx))
	if err := grpcErr(r); err != nil {
		return nil, err
	}
	resp := &coltrace.ExportTraceServiceResponse{}
	if r.rejected != 0 || r.msg != "" {
		resp.PartialSuccess = &coltrace.ExportTracePartialSuccess{RejectedSpans: r.rejected, ErrorMessage: r.msg}
	}
	return resp, nil
}

type metricsSrv struct {
	colmetrics.UnimplementedMetricsServiceServer
	c *collector
}

func (s metricsSrv) Export(ctx context.Context, req *colmetrics.ExportMetricsServiceRequest) (*colmetrics.ExportMetricsServiceResponse, error) {
	batch, n := metricsBatch(req)
	r := s.c.record(ctx, Metrics, batch, n, token(ctx))
	if err := grpcErr(r); err != nil {
		return nil, err
	}
	resp := &colmetrics.ExportMetricsServiceResponse{}
	if r.rejected != 0 || r.msg != "" {
		resp.PartialSuccess = &colmetrics.ExportMetricsPartialSuccess{RejectedDataPoints: r.rejected, ErrorMessage: r.msg}
	}
	return resp, nil
}

type logsSrv struct {
	collogs.UnimplementedLogsServiceServer
	c *collector
}

func (s logsSrv) Export(ctx context.Context, req *collogs.ExportLogsServiceRequest) (*collogs.ExportLogsServiceResponse, error) {
	batch, n := logsBatch(req)
	r := s.c.record(ctx, Logs, batch, n, token(ctx))
	if err := grpcErr(r); err != nil {
		return nil, err
	}
	resp := &collogs.ExportLogsServiceResponse{}
	if r.rejected != 0 || r.msg != "" {
		resp.PartialSuccess = &collogs.ExportLogsPartialSuccess{RejectedLogRecords: r.rejected, ErrorMessage: r.msg}
	}
	return resp, nil
}

// httpStatusOf maps the gRPC codes the tests use to HTTP statuses.
func httpStatusOf(r reply) int {
	if r.httpStatus != 0 {
		return r.httpStatus
	}
	switch r.code {
	case codes.OK:
		return http.StatusOK
	case codes.Unavailable, codes.Canceled:
		return http.StatusServiceUnavailable
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.InvalidArgument:
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func (c *collector) serveHTTP(sig Signal, w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		http.Error(w, "bad content type "+ct, http.StatusUnsupportedMediaType)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		return
	}
	var batch string
	var n int64
	var resp proto.Message
	switch sig {
	case Traces:
		var req coltrace.ExportTraceServiceRequest
		err = proto.Unmarshal(raw, &req)
		batch, n = traceBatch(&req)
	case Metrics:
		var req colmetrics.ExportMetricsServiceRequest
		err = proto.Unmarshal(raw, &req)
		batch, n = metricsBatch(&req)
	case Logs:
		var req collogs.ExportLogsServiceRequest
		err = proto.Unmarshal(raw, &req)
		batch, n = logsBatch(&req)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rep := c.record(r.Context(), sig, batch, n, r.Header.Get("X-Token"))
	code := httpStatusOf(rep)
	if rep.retryAfter != "" {
		w.Header().Set("Retry-After", rep.retryAfter)
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	if code/100 != 2 {
		b, _ := proto.Marshal(&spb.Status{Code: int32(rep.code), Message: rep.msg})
		w.WriteHeader(code)
		_, _ = w.Write(b)
		return
	}
	switch sig {
	case Traces:
		resp = &coltrace.ExportTraceServiceResponse{PartialSuccess: &coltrace.ExportTracePartialSuccess{RejectedSpans: rep.rejected, ErrorMessage: rep.msg}}
	case Metrics:
		resp = &colmetrics.ExportMetricsServiceResponse{PartialSuccess: &colmetrics.ExportMetricsPartialSuccess{RejectedDataPoints: rep.rejected, ErrorMessage: rep.msg}}
	case Logs:
		resp = &collogs.ExportLogsServiceResponse{PartialSuccess: &collogs.ExportLogsPartialSuccess{RejectedLogRecords: rep.rejected, ErrorMessage: rep.msg}}
	}
	b, _ := proto.Marshal(resp)
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

func batchID(res *resourcepb.Resource) string {
	for _, kv := range res.GetAttributes() {
		if kv.Key == "batch" {
			return kv.GetValue().GetStringValue()
		}
	}
	return ""
}

func traceBatch(req *coltrace.ExportTraceServiceRequest) (string, int64) {
	var n int64
	id := ""
	for _, rs := range req.ResourceSpans {
		id = batchID(rs.Resource)
		for _, ss := range rs.ScopeSpans {
			n += int64(len(ss.Spans))
		}
	}
	return id, n
}

func metricsBatch(req *colmetrics.ExportMetricsServiceRequest) (string, int64) {
	var n int64
	id := ""
	for _, rm := range req.ResourceMetrics {
		id = batchID(rm.Resource)
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				n += int64(len(m.GetGauge().GetDataPoints()))
			}
		}
	}
	return id, n
}

func logsBatch(req *collogs.ExportLogsServiceRequest) (string, int64) {
	var n int64
	id := ""
	for _, rl := range req.ResourceLogs {
		id = batchID(rl.Resource)
		for _, sl := range rl.ScopeLogs {
			n += int64(len(sl.LogRecords))
		}
	}
	return id, n
}

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

// discardMsg and discardCodec let the benchmark collector skip decoding:
// the request is read off the wire and an empty response (a valid
// Export*ServiceResponse) is sent back.
type discardMsg struct{}

type discardCodec struct{}

func (discardCodec) Marshal(any) (mem.BufferSlice, error) { return nil, nil }
func (discardCodec) Unmarshal(mem.BufferSlice, any) error { return nil }
func (discardCodec) Name() string                         { return "proto" }
