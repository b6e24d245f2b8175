package export

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/bytebufferpool"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/encoding/gzip" // registers the "gzip" compressor
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
)

// rawRequest carries an already-encoded Export*ServiceRequest, in parts
// that concatenated are the request. group, when not nil, holds the
// batches whose buffers are the parts, each with its lease.
type rawRequest struct {
	parts [][]byte
	group []entry
}

// lease shares a batch's buffer between the exporter and gRPC, which reads
// it after Invoke returned: gRPC's writer goroutine copies a request's
// frames out of the buffers it was given until it has written them or
// handles the end of the stream, and Invoke returns as soon as the
// receiver answers, which it may do before it read the request (an error,
// or OK from a server that does not read it), or when the call's context
// ends. The exporter holds one reference while the batch is queued or
// between attempts, each request carrying the buffer one more, which gRPC
// drops when it frees the mem.Buffer (lease is that buffer's pool); the
// last returns the buffer to its pool. A buffer gRPC never frees is left
// to the garbage collector with its lease: grpc-go 1.85 does not free the
// data of a stream its connection died while writing, nor the data of a
// stream that ended (the receiver answered) between Write's check of the
// stream and the data's queueing (loopyWriter.preprocessData drops it). The exporter's memory bound (Config.QueueBytes) counts a
// batch until the exporter is done with it, not the time gRPC keeps it.
type lease struct {
	refs atomic.Int32
	buf  *bytebufferpool.ByteBuffer
	data []byte // buf.B, the bytes gRPC reads
	put  func(*bytebufferpool.ByteBuffer)
}

// leases recycles leases: a batch sent over gRPC allocates nothing more.
var leases = sync.Pool{New: func() any { return new(lease) }}

func newLease(buf *bytebufferpool.ByteBuffer, put func(*bytebufferpool.ByteBuffer)) *lease {
	l := leases.Get().(*lease)
	l.buf, l.data, l.put = buf, buf.B, put
	l.refs.Store(1)
	return l
}

// unref drops a reference; the last returns the buffer to its pool.
func (l *lease) unref() {
	switch n := l.refs.Add(-1); {
	case n > 0:
		return
	case n < 0:
		panic("export: lease released twice")
	}
	buf, put := l.buf, l.put
	l.buf, l.data, l.put = nil, nil, nil
	leases.Put(l)
	put(buf)
}

// Get is never called: gRPC only returns the buffer it was given.
func (l *lease) Get(n int) *[]byte {
	b := make([]byte, n)
	return &b
}

// Put is gRPC freeing the mem.Buffer made of l.data.
func (l *lease) Put(*[]byte) { l.unref() }

// buffer returns part i of req for gRPC, holding a reference to its lease
// that gRPC drops when it frees the buffer.
func (req *rawRequest) buffer(i int) mem.Buffer {
	p := req.parts[i]
	if req.group == nil {
		return mem.SliceBuffer(p)
	}
	l := req.group[i].lease
	if mem.IsBelowBufferPoolingThreshold(cap(l.data)) {
		// mem.NewBuffer would make a SliceBuffer, never freed: gRPC
		// gets a copy of these few bytes instead.
		return mem.SliceBuffer(append([]byte(nil), p...))
	}
	l.refs.Add(1)
	return mem.NewBuffer(&l.data, l)
}

// leaseGroup gives each batch of group without one its lease, whose last
// reference frees the batch as e.free would.
func (e *Exporter) leaseGroup(group []entry) {
	for i := range group {
		if group[i].lease == nil {
			put := e.release
			if group[i].split {
				put = bytebufferpool.Put
			}
			group[i].lease = newLease(group[i].buf, put)
		}
	}
}

// send sends group's request, whose bytes are parts, with s. A gRPC
// sender takes a reference on each batch's buffer (see lease).
func (e *Exporter) send(ctx context.Context, s sender, group []entry, parts [][]byte) outcome {
	gs, ok := s.(*grpcSender)
	if !ok {
		return s.send(ctx, parts)
	}
	e.leaseGroup(group)
	return gs.invoke(ctx, &rawRequest{parts: parts, group: group})
}

// rawCodec sends rawRequest bytes unchanged (no second marshal) and decodes
// responses with the official protobuf types. It is named "proto" so the
// receiver sees an ordinary application/grpc+proto call. It is installed
// per connection, never registered globally.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	switch m := v.(type) {
	case *rawRequest:
		bs := make(mem.BufferSlice, len(m.parts))
		for i := range m.parts {
			bs[i] = m.buffer(i)
		}
		return bs, nil
	case proto.Message:
		b, err := proto.Marshal(m)
		if err != nil {
			return nil, err
		}
		return mem.BufferSlice{mem.SliceBuffer(b)}, nil
	}
	return nil, fmt.Errorf("export: cannot marshal %T", v)
}

// response receives an Export*ServiceResponse. Its decoding error is kept
// in err instead of failing the call: the receiver answered OK, so it took
// the batch, and an undecodable body cannot undo that (as for OTLP/HTTP).
type response struct {
	m   proto.Message
	err error
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	var m proto.Message
	switch r := v.(type) {
	case *response:
		buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
		defer buf.Free()
		r.err = proto.Unmarshal(buf.ReadOnlyData(), r.m)
		return nil
	case proto.Message:
		m = r
	default:
		return fmt.Errorf("export: cannot unmarshal into %T", v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	return proto.Unmarshal(buf.ReadOnlyData(), m)
}

func (rawCodec) Name() string { return "proto" }

// writeBufferSize is how much the gRPC transport gathers per write syscall.
//
// The send stage is at its floor with grpc-go on loopback: in the
// loadgen's profile, the write syscalls (the kernel's copy and the
// loopback's TCP, both ends' share of it) are half of it, the copy of
// each frame into this buffer a fifth, and grpc-go's own work per request
// (streams, HPACK, the response) most of the rest. The buffer is the one
// copy gRPC makes of an encoded request (rawCodec hands it the encoder's
// buffers); without it (size 0) each 16 KiB frame and its 9-byte header
// are two syscalls. Measured and left (BenchmarkTransport
// spans=512/halves/coalesced, process CPU per span, n=6, AMD EPYC, this
// buffer and the receiver's read buffer 256 KiB): 64 KiB +49 % (p=0.004),
// 512 KiB and 1 MiB no better (+19 %, p=0.24 and p=0.13); and requests of
// 1 or 2 MiB (Config.CoalesceBytes) were no cheaper than 512 KiB (+16 %
// and +17 %, n=4, not significant) although they halve grpc-go's work
// per request, probably as a request no longer stays in the cache from
// one copy to the next.
//
// Also measured and left (session 10, AMD EPYC, shared): the copy cannot
// be dropped by writing each frame with writev instead (grpc-go writes a
// DATA frame's header and its parts in separate Writes, and frees the
// parts before the next frame, so a conn can gather one frame at most):
// per 707-byte span, process CPU of a loopback write and read of 64 MiB,
// least of 6, copy and 256 KiB writes 228 ns, a writev per 16 KiB frame
// 455, a writev of 16 frames (were it safe) 227: the copy's cache misses
// move into the kernel's. Socket buffers set to 4 MiB (SO_SNDBUF,
// SO_RCVBUF) were dearer than the kernel's autotuning (224 against 169
// ns, least of 8); frames are 16 KiB whatever the receiver allows
// (grpc-go's http2MaxFrameLen). In the loadgen (strace -f, 3 s, -logs
// =false) a request of about 360 KB is 1.6 writes of 218 KB on average,
// the receiver's 1.5 reads of 239 KB, and one write of about 70 bytes
// for its answer: nothing left to merge.
//
// With run trace logs on (session 11, AMD EPYC, shared) the send and
// receive stages cost what the bytes cost, as with traces alone: a run's
// log record is about 8.5 KB against 7.7 KB of spans (1,468 OTLP bytes a
// span against 696), and per byte the logs are no dearer. Three
// alternating pairs of 6 s loadgen profiles (-workload synthetic -block
// -rate 0, bench/perfstages) gave the send stage 0.19, 0.18 and 0.20 ns
// per OTLP byte with logs off and 0.20, 0.20 and 0.29 with logs on (the
// last in a stalled phase of the host, 346 k spans/s; a single such
// profile is where a figure of 0.39 against 0.23 came from), the
// receive stage 0.19, 0.18, 0.20 against 0.16, 0.17, 0.13 (the receiver
// counts a trace request's spans but skips a log record whole by its
// length). The two signals' requests have the same shape: two batches
// each, about 360 KB of spans or 400 KB of logs, written in the same
// 256 KiB and partial writes and read in the same reads (strace -f, 3 s
// each); each encoder part of a batch's logs is one part of the request,
// not one per record. bench's BenchmarkTransportSignals sends what the
// sink queues per engine batch: 597 ns of process CPU per KB of traces,
// 507 per KB of logs (n=6). What a log byte costs is the loopback's
// kernel copy and TCP on both ends, this buffer's copy and the server's
// copy of each frame out of its read buffer: fewer bytes (the run log's
// JSON is the original's format) or a cheaper socket are what would cut
// it. Measured and left: a connection per signal instead of one shared
// (traces+logs 535 against 558 ns per KB, p=0.31, n=6: frames of a trace
// and a logs request interleaved on one connection cost nothing); a Unix
// domain socket halves the kernel's part (a write and read of 512 MiB in
// 256 KiB pieces, process CPU, 0.25-0.29 ns per byte over loopback TCP,
// 0.13-0.16 over a Unix socket, 6 alternating rounds; in the loadgen, 8
// alternating 5 s pairs with its receiver on a Unix socket, medians of
// process CPU per span 1,321 -> 1,119 ns logs off and 1,929 -> 1,857
// logs on, on a host busy enough that the rates were 0.3-0.55 M
// spans/s), but a collector is reached over TCP, so the loadgen's
// embedded receiver stays on TCP.
const writeBufferSize = 256 << 10

// responseWindow is the HTTP/2 flow control window the client grants the
// receiver, per stream and per connection.
const responseWindow = MaxResponseBytes

// grpcSender exports one signal over OTLP/gRPC.
type grpcSender struct {
	sig    Signal
	conn   *grpc.ClientConn
	method string
	md     metadata.MD
	opts   []grpc.CallOption
	rd     redactor // the target's secrets
}

// dialGRPC creates a lazily connecting client for t. Reconnection backoff
// is bounded by the retry interval so that a restarted collector is found
// within one retry.
func dialGRPC(t *target, retry RetryConfig) (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if t.tls != nil {
		creds = credentials.NewTLS(t.tls)
	}
	bc := backoff.DefaultConfig
	bc.BaseDelay = min(bc.BaseDelay, t.firstRetry)
	bc.MaxDelay = max(retry.MaxInterval, bc.BaseDelay)
	return grpc.NewClient(t.grpcTarget,
		grpc.WithTransportCredentials(creds),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: bc, MinConnectTimeout: min(defaultGRPCConnectTimeout, t.timeout)}),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(rawCodec{}), grpc.MaxCallRecvMsgSize(MaxResponseBytes)),
		grpc.WithUserAgent(t.userAgent),
		// A batch is typically a few hundred KB; grpc's 32 KiB default
		// writes it in a dozen syscalls, 256 KiB in two or three. The
		// buffer is the connection's own for its life (grpc-go shares
		// one from a pool only with WithSharedWriteBuffer): 256 KiB per
		// connection, and the exporter's signals share one connection
		// per target.
		grpc.WithWriteBufferSize(writeBufferSize),
		// Static receive windows: without them gRPC estimates the
		// bandwidth-delay product of what the client receives by sending
		// a PING with nearly every response it reads, which costs both
		// ends a write and a read per request for responses of a few
		// bytes. The windows only bound the responses, which are small;
		// one window holds the largest the exporter reads over HTTP.
		grpc.WithInitialWindowSize(responseWindow),
		grpc.WithInitialConnWindowSize(responseWindow),
	)
}

func newGRPCSender(sig Signal, t *target, conn *grpc.ClientConn) *grpcSender {
	s := &grpcSender{sig: sig, conn: conn, method: sig.grpcMethod(), rd: t.redact}
	if len(t.headers) > 0 {
		s.md = metadata.New(t.headers)
	}
	if t.gzip {
		s.opts = append(s.opts, grpc.UseCompressor("gzip"))
	}
	return s
}

// coalesces is true: gRPC writes the parts one after the other.
func (s *grpcSender) coalesces() bool { return true }

// send sends parts, which gRPC may still read after send returned: the
// exporter's send gives it leases instead.
func (s *grpcSender) send(ctx context.Context, parts [][]byte) outcome {
	return s.invoke(ctx, &rawRequest{parts: parts})
}

func (s *grpcSender) invoke(ctx context.Context, req *rawRequest) outcome {
	if s.md != nil {
		ctx = metadata.NewOutgoingContext(ctx, s.md)
	}
	var resp response
	switch s.sig {
	case Traces:
		resp.m = new(coltrace.ExportTraceServiceResponse)
	case Metrics:
		resp.m = new(colmetrics.ExportMetricsServiceResponse)
	default:
		resp.m = new(collogs.ExportLogsServiceResponse)
	}
	if err := s.conn.Invoke(ctx, s.method, req, &resp, s.opts...); err != nil {
		return classifyGRPC(s.sig, err, s.rd)
	}
	if resp.err != nil {
		return undecodable(s.sig, resp.err)
	}
	switch m := resp.m.(type) {
	case *coltrace.ExportTraceServiceResponse:
		ps := m.GetPartialSuccess()
		return partialOutcome(s.sig, ps.GetRejectedSpans(), ps.GetErrorMessage(), s.rd)
	case *colmetrics.ExportMetricsServiceResponse:
		ps := m.GetPartialSuccess()
		return partialOutcome(s.sig, ps.GetRejectedDataPoints(), ps.GetErrorMessage(), s.rd)
	}
	ps := resp.m.(*collogs.ExportLogsServiceResponse).GetPartialSuccess()
	return partialOutcome(s.sig, ps.GetRejectedLogRecords(), ps.GetErrorMessage(), s.rd)
}

// grpcConns shares one connection between signals with the same target
// and TLS files.
type grpcConns map[string]*grpc.ClientConn

func (m grpcConns) get(t *target, retry RetryConfig) (*grpc.ClientConn, error) {
	key := t.grpcTarget + "|" + t.tlsKey + "|" + time.Duration(t.timeout).String() + "|" + t.userAgent
	if c, ok := m[key]; ok {
		return c, nil
	}
	c, err := dialGRPC(t, retry)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidEndpoint, t.grpcTarget, err)
	}
	m[key] = c
	return c, nil
}
