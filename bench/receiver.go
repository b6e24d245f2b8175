package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/experimental"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// The protocols a Receiver serves.
const (
	ProtocolGRPC         = "grpc"
	ProtocolHTTPProtobuf = "http/protobuf"
)

// ReceiverConfig configures a Receiver. The zero value serves OTLP/gRPC on
// 127.0.0.1:0 and accepts every call.
type ReceiverConfig struct {
	// Addr is the address to listen on; empty means 127.0.0.1:0.
	Addr string
	// Protocol is "grpc" (default) or "http/protobuf".
	Protocol string
	// Decode is DecodeFull (default: the official generated types decode
	// every request) or DecodeCount (the wire format is walked and counted
	// without building structs; see CountSpans).
	Decode string
	// FailRate is the fraction of export calls, in [0, 1], answered with
	// UNAVAILABLE (gRPC) or 503 (HTTP) without counting their content.
	FailRate float64
}

// receiveWindow is the HTTP/2 flow control window the receiver grants,
// per stream and per connection: two requests of the sink's largest.
const receiveWindow = 8 << 20

// The ways a Receiver decodes requests.
const (
	DecodeFull  = "full"
	DecodeCount = "count"
)

// Counts is what a Receiver decoded and accepted.
type Counts struct {
	Spans      uint64 // spans in accepted trace requests
	RootSpans  uint64 // of which spans without a parent
	LogRecords uint64 // log records in accepted log requests
	DataPoints uint64 // data points in accepted metric requests
	Requests   uint64 // accepted export calls, all signals
	Failed     uint64 // export calls answered with an injected failure
	Restarts   uint64 // completed restarts
}

// Receiver is a real OTLP receiver on loopback: it registers the OTLP
// collector services for traces, logs and metrics (or the OTLP/HTTP paths),
// lets gRPC or the official protobuf decoder decode every request, and
// counts what arrives. It can fail a fraction of calls and restart (stop
// and listen again on the same port) to test an exporter's retries.
//
// Receiver is not internal/otlptest's receiver, the one the tests use,
// because it is part of what the loadgen measures: it runs in the
// loadgen's process (not under a testing.TB) for minutes at over a million
// spans a second, so it keeps nothing per request (otlptest keeps arrival
// times and batch ids per request, which would grow without bound), reads
// frames into a non-zeroing buffer pool, and with DecodeCount walks the
// wire without building the generated structs (CountSpans; a trace
// request in the frames it arrived in, not copied into one buffer), which is what
// lets one 2-core machine receive what flowtel exports at its lossless
// rate. Tests assert against otlptest; the loadgen reports what this one
// counted.
type Receiver struct {
	cfg  ReceiverConfig
	addr string

	spans, roots, logRecords, dataPoints, requests, failed, restarts atomic.Uint64

	mu      sync.Mutex
	grpcSrv *grpc.Server
	httpSrv *http.Server
	serving sync.WaitGroup
	closed  bool
}

// ErrReceiverClosed is returned by Restart after Close.
var ErrReceiverClosed = errors.New("bench: receiver is closed")

// StartReceiver listens and serves until Close.
func StartReceiver(cfg ReceiverConfig) (*Receiver, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Protocol == "" {
		cfg.Protocol = ProtocolGRPC
	}
	if cfg.Protocol != ProtocolGRPC && cfg.Protocol != ProtocolHTTPProtobuf {
		return nil, fmt.Errorf("start receiver: protocol %q (want %q or %q)", cfg.Protocol, ProtocolGRPC, ProtocolHTTPProtobuf)
	}
	if cfg.Decode == "" {
		cfg.Decode = DecodeFull
	}
	if cfg.Decode != DecodeFull && cfg.Decode != DecodeCount {
		return nil, fmt.Errorf("start receiver: decode %q (want %q or %q)", cfg.Decode, DecodeFull, DecodeCount)
	}
	if cfg.FailRate < 0 || cfg.FailRate > 1 {
		return nil, fmt.Errorf("start receiver: fail rate %v is not in [0, 1]", cfg.FailRate)
	}
	r := &Receiver{cfg: cfg}
	lis, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("start receiver: %w", err)
	}
	r.addr = lis.Addr().String()
	r.serve(lis)
	return r, nil
}

// Addr returns host:port the receiver listens on; it stays the same across
// restarts.
func (r *Receiver) Addr() string { return r.addr }

// Endpoint returns the address as an exporter endpoint: host:port for gRPC,
// an http:// URL for OTLP/HTTP.
func (r *Receiver) Endpoint() string {
	if r.cfg.Protocol == ProtocolHTTPProtobuf {
		return "http://" + r.addr
	}
	return r.addr
}

// Counts returns what was accepted so far.
func (r *Receiver) Counts() Counts {
	return Counts{
		Spans:      r.spans.Load(),
		RootSpans:  r.roots.Load(),
		LogRecords: r.logRecords.Load(),
		DataPoints: r.dataPoints.Load(),
		Requests:   r.requests.Load(),
		Failed:     r.failed.Load(),
		Restarts:   r.restarts.Load(),
	}
}

// serve starts serving lis; r.mu must not be held by another serve.
func (r *Receiver) serve(lis net.Listener) {
	if r.cfg.Protocol == ProtocolGRPC {
		opts := []grpc.ServerOption{
			grpc.MaxRecvMsgSize(64 << 20),
			// Reads of up to 256 KiB take a few hundred KB request in a
			// few syscalls rather than a dozen. gRPC copies each frame out
			// of this buffer; a buffer smaller than a frame header lets it
			// read frames straight into their own buffers, but two
			// syscalls a frame cost more than the copy: BenchmarkTransport
			// spans=512/halves/coalesced +75 % of process CPU per span
			// with 16 bytes, +35 % with 64 KiB, 512 KiB and 1 MiB no
			// different (n=6, AMD EPYC).
			grpc.ReadBufferSize(256 << 10),
			// Frames are read into buffers from bufferPool, which does not
			// zero them first as grpc's default pool does: each is filled
			// by the read.
			experimental.BufferPool(bufferPool),
			// A fixed set of goroutines handles the calls: a goroutine
			// per call grows its stack anew each time (runtime.newstack
			// was a tenth of the process's CPU with small requests).
			grpc.NumStreamWorkers(uint32(runtime.GOMAXPROCS(0))),
			// Windows of a few requests: the client is not held back
			// waiting for WINDOW_UPDATEs, and the server sends no BDP
			// pings to find them.
			grpc.InitialWindowSize(receiveWindow),
			grpc.InitialConnWindowSize(receiveWindow),
		}
		if r.cfg.Decode == DecodeCount {
			opts = append(opts, grpc.ForceServerCodecV2(countCodec{}))
		}
		srv := grpc.NewServer(opts...)
		if r.cfg.Decode == DecodeCount {
			r.registerCount(srv)
		} else {
			coltrace.RegisterTraceServiceServer(srv, traceService{r: r})
			collogs.RegisterLogsServiceServer(srv, logsService{r: r})
			colmetrics.RegisterMetricsServiceServer(srv, metricsService{r: r})
		}
		r.grpcSrv = srv
		r.serving.Add(1)
		go func() { defer r.serving.Done(); _ = srv.Serve(lis) }()
		return
	}
	traces, logs, metrics := decodeHTTP(r.countTraces), decodeHTTP(r.countLogs), decodeHTTP(r.countMetrics)
	if r.cfg.Decode == DecodeCount {
		traces, logs, metrics = r.countHTTP()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", r.httpHandler(traces))
	mux.HandleFunc("POST /v1/logs", r.httpHandler(logs))
	mux.HandleFunc("POST /v1/metrics", r.httpHandler(metrics))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	r.httpSrv = srv
	r.serving.Add(1)
	go func() { defer r.serving.Done(); _ = srv.Serve(lis) }()
}

// decodeHTTP returns a decoder of an OTLP/HTTP body into a new *Req,
// counted by count.
func decodeHTTP[Req any, P interface {
	*Req
	proto.Message
}](count func(P)) func([]byte) error {
	return func(b []byte) error {
		req := P(new(Req))
		if err := proto.Unmarshal(b, req); err != nil {
			return err
		}
		count(req)
		return nil
	}
}

// countHTTP returns the DecodeCount decoders of OTLP/HTTP bodies: the
// wire is walked and counted as over gRPC (the bodies were decoded into
// the official types, which cost the process ten times the CPU per span).
func (r *Receiver) countHTTP() (traces, logs, metrics func([]byte) error) {
	traces = func(b []byte) error {
		n, roots, err := CountSpans(b)
		if err == nil {
			r.spans.Add(n)
			r.roots.Add(roots)
		}
		return err
	}
	logs = func(b []byte) error {
		n, err := CountLogRecords(b)
		if err == nil {
			r.logRecords.Add(n)
		}
		return err
	}
	metrics = func(b []byte) error {
		n, err := CountDataPoints(b)
		if err == nil {
			r.dataPoints.Add(n)
		}
		return err
	}
	return traces, logs, metrics
}

// maxHTTPBody is the largest OTLP/HTTP body the receiver takes, as
// grpc.MaxRecvMsgSize bounds a gRPC message.
const maxHTTPBody = 64 << 20

func (r *Receiver) httpHandler(decode func([]byte) error) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		// A body past the limit is refused whole: cut, it may still
		// decode, and its tail would be lost with a 200.
		body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxHTTPBody))
		if err != nil {
			status := http.StatusBadRequest
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				status = http.StatusRequestEntityTooLarge
			}
			http.Error(w, err.Error(), status)
			return
		}
		if r.fail() {
			http.Error(w, "injected failure", http.StatusServiceUnavailable)
			return
		}
		if err := decode(body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.requests.Add(1)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}
}

// fail decides whether to inject a failure into this call and counts it.
func (r *Receiver) fail() bool {
	if r.cfg.FailRate > 0 && rand.Float64() < r.cfg.FailRate {
		r.failed.Add(1)
		return true
	}
	return false
}

var errInjected = status.Error(codes.Unavailable, "injected failure")

func (r *Receiver) countTraces(req *coltrace.ExportTraceServiceRequest) {
	var n, roots uint64
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			n += uint64(len(ss.Spans))
			for _, sp := range ss.Spans {
				if len(sp.ParentSpanId) == 0 {
					roots++
				}
			}
		}
	}
	r.roots.Add(roots)
	r.spans.Add(n)
}

func (r *Receiver) countLogs(req *collogs.ExportLogsServiceRequest) {
	var n uint64
	for _, rl := range req.ResourceLogs {
		for _, sl := range rl.ScopeLogs {
			n += uint64(len(sl.LogRecords))
		}
	}
	r.logRecords.Add(n)
}

func (r *Receiver) countMetrics(req *colmetrics.ExportMetricsServiceRequest) {
	var n uint64
	for _, rm := range req.ResourceMetrics {
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				n += dataPoints(m)
			}
		}
	}
	r.dataPoints.Add(n)
}

func dataPoints(m *metricspb.Metric) uint64 {
	switch d := m.Data.(type) {
	case *metricspb.Metric_Gauge:
		return uint64(len(d.Gauge.DataPoints))
	case *metricspb.Metric_Sum:
		return uint64(len(d.Sum.DataPoints))
	case *metricspb.Metric_Histogram:
		return uint64(len(d.Histogram.DataPoints))
	case *metricspb.Metric_ExponentialHistogram:
		return uint64(len(d.ExponentialHistogram.DataPoints))
	case *metricspb.Metric_Summary:
		return uint64(len(d.Summary.DataPoints))
	}
	return 0
}

// accept answers one decoded gRPC request: an injected failure, or the
// request counted and an empty response.
func accept[Resp, Req any](r *Receiver, req Req, count func(Req)) (*Resp, error) {
	if r.fail() {
		return nil, errInjected
	}
	count(req)
	r.requests.Add(1)
	return new(Resp), nil
}

type traceService struct {
	coltrace.UnimplementedTraceServiceServer
	r *Receiver
}

func (s traceService) Export(_ context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	return accept[coltrace.ExportTraceServiceResponse](s.r, req, s.r.countTraces)
}

type logsService struct {
	collogs.UnimplementedLogsServiceServer
	r *Receiver
}

func (s logsService) Export(_ context.Context, req *collogs.ExportLogsServiceRequest) (*collogs.ExportLogsServiceResponse, error) {
	return accept[collogs.ExportLogsServiceResponse](s.r, req, s.r.countLogs)
}

type metricsService struct {
	colmetrics.UnimplementedMetricsServiceServer
	r *Receiver
}

func (s metricsService) Export(_ context.Context, req *colmetrics.ExportMetricsServiceRequest) (*colmetrics.ExportMetricsServiceResponse, error) {
	return accept[colmetrics.ExportMetricsServiceResponse](s.r, req, s.r.countMetrics)
}

// Restart stops the server, letting calls being handled finish so that
// nothing counted goes unanswered, waits down, and listens again on the
// same port. Clients see their connections close and reconnect.
func (r *Receiver) Restart(down time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrReceiverClosed
	}
	r.stopLocked()
	time.Sleep(down)
	var lis net.Listener
	var err error
	// The port was just released; the kernel may need a moment to let it
	// go. Retry a bounded number of times.
	for i := 0; i < 50; i++ {
		if lis, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("restart receiver on %s: %w", r.addr, err)
	}
	r.serve(lis)
	r.restarts.Add(1)
	return nil
}

// stopLocked stops serving gracefully: handlers in progress finish and their
// answers are written before connections close.
func (r *Receiver) stopLocked() {
	if r.grpcSrv != nil {
		done := make(chan struct{})
		srv := r.grpcSrv
		go func() { srv.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			srv.Stop()
			<-done
		}
		r.grpcSrv = nil
	}
	if r.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := r.httpSrv.Shutdown(ctx); err != nil {
			_ = r.httpSrv.Close()
		}
		cancel()
		r.httpSrv = nil
	}
	r.serving.Wait()
}

// Close stops the receiver for good. It is idempotent.
func (r *Receiver) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.closed = true
	r.stopLocked()
}
