package otlptest

import (
	"compress/gzip"
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // accept gzip-compressed requests
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
)

// The protocols a Receiver speaks (the OTEL_EXPORTER_OTLP_PROTOCOL values).
const (
	GRPC = "grpc"
	HTTP = "http/protobuf"
)

// Signal is one of the three OTLP signals.
type Signal uint8

// The signals, in the order Items lists them.
const (
	Traces Signal = iota
	Metrics
	Logs
	// NumSignals is the number of signals.
	NumSignals
)

// signalNames are the words OTLP uses for the signals in URL paths.
var signalNames = [NumSignals]string{Traces: "traces", Metrics: "metrics", Logs: "logs"}

// String returns "traces", "metrics" or "logs".
func (s Signal) String() string {
	if s < NumSignals {
		return signalNames[s]
	}
	return "invalid"
}

// Garbage is the body a Reply with Undecodable answers: a length-delimited
// field 1 whose length is cut short, which no protobuf decoder accepts.
var Garbage = []byte{0x0a, 0x80}

// Reply is what the receiver answers to one request. The zero Reply is a
// plain success.
type Reply struct {
	// Code is the gRPC status; over HTTP it is mapped to a status code
	// (Unavailable and Canceled 503, ResourceExhausted 429, InvalidArgument
	// 400, Unauthenticated 401, others 500) unless HTTPStatus is set.
	Code codes.Code
	// HTTPStatus overrides the HTTP status code when not 0.
	HTTPStatus int
	// Rejected and Message are a partial success when Code is OK, else
	// Message is the error message (a google.rpc.Status body over HTTP).
	Rejected int64
	Message  string
	// RetryDelay attaches google.rpc.RetryInfo to a gRPC error when > 0.
	RetryDelay time.Duration
	// RetryAfter is the HTTP Retry-After header.
	RetryAfter string
	// Sleep delays the answer, honouring the request's context.
	Sleep time.Duration
	// Undecodable answers success with Garbage as the response body (for
	// gRPC: as the response message).
	Undecodable bool
}

// Call describes one decoded request to the Behave function.
type Call struct {
	// N is the index of the request at this receiver, from 0.
	N int
	// Batch is the request's batch id (see Receiver); Attempt is the index
	// of this request among those with the same batch id.
	Batch   string
	Attempt int
	Signal  Signal
	// Items is the spans, data points or log records in the request.
	Items int64
	// Header holds the HTTP headers or the gRPC metadata (keys in
	// canonical form either way).
	Header http.Header
}

// Receiver is a real OTLP receiver on 127.0.0.1: the official gRPC
// collector services, or an HTTP server on /v1/{traces,metrics,logs},
// decoding every request with the official go.opentelemetry.io/proto/otlp
// types. It counts the items it accepts per signal.
//
// A request's batch id is the string value of the resource attribute
// "batch" of its first resource, if any. Items of a batch id are counted
// once, when first accepted, so that a retry of a batch the receiver
// already took (the client timed out) is not counted twice; requests
// without a batch id are counted every time.
//
// Set the exported fields before Start. Stop kills the server with its
// connections (requests in flight fail); Start may be called again.
type Receiver struct {
	// Protocol is GRPC or HTTP.
	Protocol string
	// Addr is the address to listen on: 127.0.0.1:0 by default, or a
	// fixed one (see ReserveAddr) to restart on the same port, or
	// "unix:path" for a Unix socket. Start sets it to the address listened
	// on.
	Addr string
	// TLS, when set, makes the receiver serve TLS.
	TLS *tls.Config
	// Behave chooses the Reply to each request; nil always succeeds.
	Behave func(Call) Reply
	// Discard answers success without decoding (throughput benchmarks):
	// nothing is counted.
	Discard bool
	// Keep keeps every decoded request (see Traces, Metrics, Logs).
	Keep bool

	t testing.TB

	mu       sync.Mutex
	calls    int
	attempts map[string]int
	arrivals map[string][]time.Time
	accepted map[string]bool
	items    [NumSignals]int64
	header   http.Header
	traces   []*coltrace.ExportTraceServiceRequest
	metrics  []*colmetrics.ExportMetricsServiceRequest
	logs     []*collogs.ExportLogsServiceRequest

	gs *grpc.Server
	hs *http.Server
	wg sync.WaitGroup
}

// New returns a receiver speaking protocol that answers with behave (nil:
// always success). Call Start.
func New(t testing.TB, protocol string, behave func(Call) Reply) *Receiver {
	return &Receiver{t: t, Protocol: protocol, Behave: behave, Addr: "127.0.0.1:0",
		attempts: map[string]int{}, arrivals: map[string][]time.Time{}, accepted: map[string]bool{}}
}

// Start creates a receiver with New and starts it; it is stopped when the
// test ends.
func Start(t testing.TB, protocol string, behave func(Call) Reply) *Receiver {
	r := New(t, protocol, behave)
	r.Start()
	return r
}

// StartKeeping starts a receiver speaking protocol that always succeeds and
// keeps every decoded request (Keep), stopped when t ends.
func StartKeeping(t testing.TB, protocol string) *Receiver {
	r := New(t, protocol, nil)
	r.Keep = true
	r.Start()
	return r
}

// ReserveAddr returns a loopback address nobody listens on (yet).
func ReserveAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// Endpoint is the receiver's URL: http:// or, with TLS, https://; a
// receiver on a Unix socket (Addr "unix:path") gives Addr.
func (r *Receiver) Endpoint() string {
	if strings.HasPrefix(r.Addr, "unix:") {
		return r.Addr
	}
	if r.TLS != nil {
		return "https://" + r.Addr
	}
	return "http://" + r.Addr
}

// Start listens on Addr (retrying for a while: the port may still be held
// by the previous incarnation) and serves until Stop or the test's end.
func (r *Receiver) Start() {
	r.t.Helper()
	var l net.Listener
	var err error
	network, addr := "tcp", r.Addr
	if path, ok := strings.CutPrefix(r.Addr, "unix:"); ok {
		network, addr = "unix", path
	}
	for i := 0; i < 200; i++ {
		if l, err = net.Listen(network, addr); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatalf("otlptest: listen %s: %v", r.Addr, err)
	}
	if network == "tcp" {
		r.Addr = l.Addr().String()
	}
	if r.TLS != nil {
		cfg := r.TLS.Clone()
		cfg.NextProtos = []string{"h2"}
		if r.Protocol != GRPC {
			cfg.NextProtos = []string{"http/1.1"}
		}
		l = tls.NewListener(l, cfg)
	}
	r.t.Cleanup(r.Stop)
	r.wg.Add(1)
	if r.Protocol == GRPC {
		var opts []grpc.ServerOption
		if r.Discard {
			opts = append(opts, grpc.ForceServerCodecV2(discardCodec{}), grpc.UnknownServiceHandler(func(_ any, ss grpc.ServerStream) error {
				var m struct{}
				if err := ss.RecvMsg(&m); err != nil {
					return err
				}
				return ss.SendMsg(&m)
			}))
		}
		gs := grpc.NewServer(opts...)
		coltrace.RegisterTraceServiceServer(gs, traceService{r: r})
		colmetrics.RegisterMetricsServiceServer(gs, metricsService{r: r})
		collogs.RegisterLogsServiceServer(gs, logsService{r: r})
		r.mu.Lock()
		r.gs = gs
		r.mu.Unlock()
		go func() { defer r.wg.Done(); _ = gs.Serve(l) }()
		return
	}
	mux := http.NewServeMux()
	for sig := Signal(0); sig < NumSignals; sig++ {
		mux.HandleFunc("POST /v1/"+sig.String(), func(w http.ResponseWriter, req *http.Request) {
			if r.Discard {
				_, _ = io.Copy(io.Discard, req.Body)
				w.Header().Set("Content-Type", "application/x-protobuf")
				return
			}
			r.serveHTTP(sig, w, req)
		})
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	r.mu.Lock()
	r.hs = hs
	r.mu.Unlock()
	go func() { defer r.wg.Done(); _ = hs.Serve(l) }()
}

// Stop kills the receiver: connections are closed, requests in flight
// fail. It is idempotent.
func (r *Receiver) Stop() {
	r.mu.Lock()
	gs, hs := r.gs, r.hs
	r.gs, r.hs = nil, nil
	r.mu.Unlock()
	if gs != nil {
		gs.Stop()
	}
	if hs != nil {
		_ = hs.Close()
	}
	r.wg.Wait()
}

// Items returns the items accepted per signal (each batch id once).
func (r *Receiver) Items() [NumSignals]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.items
}

// Calls returns the number of decoded requests so far.
func (r *Receiver) Calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

// Arrivals returns when each request of a batch id arrived.
func (r *Receiver) Arrivals(batch string) []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.arrivals[batch]...)
}

// Header returns the headers (or metadata) of the last decoded request.
func (r *Receiver) Header() http.Header {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.header.Clone()
}

// Traces returns the trace requests kept (Keep), in arrival order.
func (r *Receiver) Traces() []*coltrace.ExportTraceServiceRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*coltrace.ExportTraceServiceRequest(nil), r.traces...)
}

// Metrics returns the metrics requests kept (Keep), in arrival order.
func (r *Receiver) Metrics() []*colmetrics.ExportMetricsServiceRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*colmetrics.ExportMetricsServiceRequest(nil), r.metrics...)
}

// Logs returns the logs requests kept (Keep), in arrival order.
func (r *Receiver) Logs() []*collogs.ExportLogsServiceRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*collogs.ExportLogsServiceRequest(nil), r.logs...)
}

// handle runs Behave for one decoded request, records it, and returns the
// reply to send.
func (r *Receiver) handle(ctx context.Context, sig Signal, req proto.Message, hdr http.Header) Reply {
	batch, n := Batch(req)
	r.mu.Lock()
	cl := Call{N: r.calls, Batch: batch, Attempt: r.attempts[batch], Signal: sig, Items: n, Header: hdr}
	r.calls++
	r.attempts[batch]++
	r.arrivals[batch] = append(r.arrivals[batch], time.Now())
	r.header = hdr
	if r.Keep {
		switch m := req.(type) {
		case *coltrace.ExportTraceServiceRequest:
			r.traces = append(r.traces, m)
		case *colmetrics.ExportMetricsServiceRequest:
			r.metrics = append(r.metrics, m)
		case *collogs.ExportLogsServiceRequest:
			r.logs = append(r.logs, m)
		}
	}
	r.mu.Unlock()
	var rep Reply
	if r.Behave != nil {
		rep = r.Behave(cl)
	}
	if rep.Sleep > 0 {
		t := time.NewTimer(rep.Sleep)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return Reply{Code: codes.Canceled}
		}
	}
	if rep.Code == codes.OK && (rep.HTTPStatus == 0 || rep.HTTPStatus/100 == 2) {
		r.mu.Lock()
		if batch == "" || !r.accepted[batch] {
			if batch != "" {
				r.accepted[batch] = true
			}
			r.items[sig] += n - min(max(rep.Rejected, 0), n)
		}
		r.mu.Unlock()
	}
	return rep
}

// Batch returns the batch id of an Export*ServiceRequest and the items it
// holds (spans, data points of every metric type, log records).
func Batch(req proto.Message) (id string, items int64) {
	switch m := req.(type) {
	case *coltrace.ExportTraceServiceRequest:
		for i, rs := range m.ResourceSpans {
			if i == 0 {
				id = batchID(rs.Resource)
			}
			for _, ss := range rs.ScopeSpans {
				items += int64(len(ss.Spans))
			}
		}
	case *colmetrics.ExportMetricsServiceRequest:
		for i, rm := range m.ResourceMetrics {
			if i == 0 {
				id = batchID(rm.Resource)
			}
			for _, sm := range rm.ScopeMetrics {
				for _, mt := range sm.Metrics {
					items += int64(len(mt.GetGauge().GetDataPoints()) + len(mt.GetSum().GetDataPoints()) +
						len(mt.GetHistogram().GetDataPoints()) + len(mt.GetExponentialHistogram().GetDataPoints()) +
						len(mt.GetSummary().GetDataPoints()))
				}
			}
		}
	case *collogs.ExportLogsServiceRequest:
		for i, rl := range m.ResourceLogs {
			if i == 0 {
				id = batchID(rl.Resource)
			}
			for _, sl := range rl.ScopeLogs {
				items += int64(len(sl.LogRecords))
			}
		}
	}
	return id, items
}

func batchID(res *resourcepb.Resource) string {
	for _, kv := range res.GetAttributes() {
		if kv.Key == "batch" {
			return kv.GetValue().GetStringValue()
		}
	}
	return ""
}

// grpcError is the gRPC error of a Reply, nil for OK.
func grpcError(rep Reply) error {
	if rep.Code == codes.OK {
		return nil
	}
	st := status.New(rep.Code, rep.Message)
	if rep.RetryDelay > 0 {
		st, _ = st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(rep.RetryDelay)})
	}
	return st.Err()
}

// response fills resp (an Export*ServiceResponse) for a successful rep:
// its partial success, or Garbage as unknown fields when Undecodable, which
// the official marshaller writes out unchanged.
func response(resp proto.Message, rep Reply) {
	if rep.Undecodable {
		resp.ProtoReflect().SetUnknown(Garbage)
		return
	}
	if rep.Rejected == 0 && rep.Message == "" {
		return
	}
	switch m := resp.(type) {
	case *coltrace.ExportTraceServiceResponse:
		m.PartialSuccess = &coltrace.ExportTracePartialSuccess{RejectedSpans: rep.Rejected, ErrorMessage: rep.Message}
	case *colmetrics.ExportMetricsServiceResponse:
		m.PartialSuccess = &colmetrics.ExportMetricsPartialSuccess{RejectedDataPoints: rep.Rejected, ErrorMessage: rep.Message}
	case *collogs.ExportLogsServiceResponse:
		m.PartialSuccess = &collogs.ExportLogsPartialSuccess{RejectedLogRecords: rep.Rejected, ErrorMessage: rep.Message}
	}
}

func incoming(ctx context.Context) http.Header {
	md, _ := metadata.FromIncomingContext(ctx)
	h := make(http.Header, len(md))
	for k, vs := range md {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	return h
}

type traceService struct {
	coltrace.UnimplementedTraceServiceServer
	r *Receiver
}

func (s traceService) Export(ctx context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	rep := s.r.handle(ctx, Traces, req, incoming(ctx))
	if err := grpcError(rep); err != nil {
		return nil, err
	}
	resp := &coltrace.ExportTraceServiceResponse{}
	response(resp, rep)
	return resp, nil
}

type metricsService struct {
	colmetrics.UnimplementedMetricsServiceServer
	r *Receiver
}

func (s metricsService) Export(ctx context.Context, req *colmetrics.ExportMetricsServiceRequest) (*colmetrics.ExportMetricsServiceResponse, error) {
	rep := s.r.handle(ctx, Metrics, req, incoming(ctx))
	if err := grpcError(rep); err != nil {
		return nil, err
	}
	resp := &colmetrics.ExportMetricsServiceResponse{}
	response(resp, rep)
	return resp, nil
}

type logsService struct {
	collogs.UnimplementedLogsServiceServer
	r *Receiver
}

func (s logsService) Export(ctx context.Context, req *collogs.ExportLogsServiceRequest) (*collogs.ExportLogsServiceResponse, error) {
	rep := s.r.handle(ctx, Logs, req, incoming(ctx))
	if err := grpcError(rep); err != nil {
		return nil, err
	}
	resp := &collogs.ExportLogsServiceResponse{}
	response(resp, rep)
	return resp, nil
}

// httpStatus maps a Reply to an HTTP status code.
func httpStatus(rep Reply) int {
	if rep.HTTPStatus != 0 {
		return rep.HTTPStatus
	}
	switch rep.Code {
	case codes.OK:
		return http.StatusOK
	case codes.Unavailable, codes.Canceled:
		return http.StatusServiceUnavailable
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.InvalidArgument:
		return http.StatusBadRequest
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	}
	return http.StatusInternalServerError
}

func (r *Receiver) serveHTTP(sig Signal, w http.ResponseWriter, hr *http.Request) {
	if ct := hr.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		http.Error(w, "bad content type "+ct, http.StatusUnsupportedMediaType)
		return
	}
	var body io.Reader = hr.Body
	if hr.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(hr.Body)
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
	var req, resp proto.Message
	switch sig {
	case Traces:
		req, resp = &coltrace.ExportTraceServiceRequest{}, &coltrace.ExportTraceServiceResponse{}
	case Metrics:
		req, resp = &colmetrics.ExportMetricsServiceRequest{}, &colmetrics.ExportMetricsServiceResponse{}
	default:
		req, resp = &collogs.ExportLogsServiceRequest{}, &collogs.ExportLogsServiceResponse{}
	}
	if err := proto.Unmarshal(raw, req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rep := r.handle(hr.Context(), sig, req, hr.Header.Clone())
	code := httpStatus(rep)
	if rep.RetryAfter != "" {
		w.Header().Set("Retry-After", rep.RetryAfter)
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	var b []byte
	if code/100 != 2 {
		b, _ = proto.Marshal(&spb.Status{Code: int32(rep.Code), Message: rep.Message})
	} else {
		response(resp, rep)
		b, _ = proto.Marshal(resp)
	}
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// discardCodec lets a Discard receiver skip decoding: the request is read
// off the wire and an empty response (a valid Export*ServiceResponse) is
// sent back.
type discardCodec struct{}

func (discardCodec) Marshal(any) (mem.BufferSlice, error) { return nil, nil }
func (discardCodec) Unmarshal(mem.BufferSlice, any) error { return nil }
func (discardCodec) Name() string                         { return "proto" }
