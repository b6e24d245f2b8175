package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"sync"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// The count decoder walks the protobuf wire format of an export request
// down to the items it counts (spans, log records, data points), checking
// every tag and length on the way (of a child span, those before its
// parent_span_id: see isRoot), without building the request's structs.
// It is what a receiver that only routes bytes pays; the full decoder
// (DecodeFull) is what a collector that inspects every attribute pays.
// Rejected alternative: only the full decoder. On a shared 2-vCPU machine
// it costs several microseconds per span (a span with 8 attributes and a
// 256-byte payload), more than flowtel's whole pipeline, so an in-process
// receiver with it measures the protobuf library, not the exporter.

// errWire is returned for a request that is not valid protobuf.
var errWire = errors.New("malformed protobuf")

// next splits the first field off b: its number, wire type, its bytes if
// it is a LEN field, and the rest of b. ok is false if the field is
// malformed, with the same checks as protowire.ConsumeTag and
// ConsumeFieldValue. One-byte tags and lengths, nearly all of them in
// OTLP, are decoded inline; the rest go to protowire.
func next(b []byte) (num protowire.Number, typ protowire.Type, v, rest []byte, ok bool) {
	var tag uint64
	if len(b) > 0 && b[0] < 0x80 {
		tag, b = uint64(b[0]), b[1:]
	} else {
		t, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return 0, 0, nil, nil, false
		}
		tag, b = t, b[n:]
	}
	if tag>>3 < uint64(protowire.MinValidNumber) || tag>>3 > math.MaxInt32 {
		return 0, 0, nil, nil, false
	}
	num, typ = protowire.Number(tag>>3), protowire.Type(tag&7)
	switch typ {
	case protowire.BytesType:
		var l uint64
		if len(b) > 0 && b[0] < 0x80 {
			l, b = uint64(b[0]), b[1:]
		} else {
			m, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return 0, 0, nil, nil, false
			}
			l, b = m, b[n:]
		}
		if l > uint64(len(b)) {
			return 0, 0, nil, nil, false
		}
		return num, typ, b[:l], b[l:], true
	case protowire.Fixed64Type:
		if len(b) < 8 {
			return 0, 0, nil, nil, false
		}
		return num, typ, nil, b[8:], true
	case protowire.Fixed32Type:
		if len(b) < 4 {
			return 0, 0, nil, nil, false
		}
		return num, typ, nil, b[4:], true
	case protowire.VarintType:
		if len(b) > 0 && b[0] < 0x80 {
			return num, typ, nil, b[1:], true
		}
	}
	// Long varints, groups and invalid wire types.
	n := protowire.ConsumeFieldValue(num, typ, b)
	if n < 0 {
		return 0, 0, nil, nil, false
	}
	return num, typ, nil, b[n:], true
}

// each checks every field of the message b and calls f with the bytes of
// each field number num, which must be a LEN field.
func each(b []byte, num protowire.Number, f func([]byte) error) error {
	for len(b) > 0 {
		n, typ, v, rest, ok := next(b)
		if !ok {
			return errWire
		}
		b = rest
		if n != num {
			continue
		}
		if typ != protowire.BytesType {
			return errWire
		}
		if err := f(v); err != nil {
			return err
		}
	}
	return nil
}

// CountSpans counts the spans of an encoded ExportTraceServiceRequest and
// those without a parent span id.
func CountSpans(b []byte) (spans, roots uint64, err error) {
	// resource_spans = 1, scope_spans = 2, spans = 2.
	err = each(b, 1, func(rs []byte) error {
		return each(rs, 2, func(ss []byte) error {
			return each(ss, 2, func(span []byte) error {
				root, err := isRoot(span)
				if err != nil {
					return err
				}
				spans++
				if root {
					roots++
				}
				return nil
			})
		})
	})
	return spans, roots, err
}

// isRoot reports whether span has no parent_span_id (field 4). It checks
// the span's fields up to the first non-empty parent_span_id and stops
// there: a child span, 7 of the loadgen's 8, is decided by its third field
// (trace_id, span_id, parent_span_id, the order encoders write them), so
// the receiver no longer walks the 30-odd attributes of each (CountSpans
// 60.2 -> 17.0 ns of thread CPU per span, TestCPUTime, AMD EPYC). A root
// span is checked whole. The span's bounds were checked by the walk of its
// scope, so the count of spans is exact either way; what is no longer
// checked is a child span's fields after its parent. Attributes, events and
// links are skipped whole by their length. Fields with a one-byte tag and
// a one-byte length or varint, nearly all of a span's, are handled inline;
// the rest go through next.
func isRoot(span []byte) (bool, error) {
	if isChild(span) {
		return false, nil
	}
	for i := 0; i < len(span); {
		if tag := span[i]; tag >= 1<<3 && tag < 0x80 && i+1 < len(span) {
			switch protowire.Type(tag & 7) {
			case protowire.BytesType:
				if l := int(span[i+1]); l < 0x80 {
					if i += 2 + l; i > len(span) {
						return false, errWire
					}
					if tag == 4<<3|byte(protowire.BytesType) && l > 0 {
						return false, nil
					}
					continue
				}
			case protowire.Fixed64Type:
				if i += 9; i > len(span) {
					return false, errWire
				}
				continue
			case protowire.Fixed32Type:
				if i += 5; i > len(span) {
					return false, errWire
				}
				continue
			case protowire.VarintType:
				if span[i+1] < 0x80 {
					i += 2
					continue
				}
			}
		}
		num, _, v, rest, ok := next(span[i:])
		if !ok {
			return false, errWire
		}
		if num == 4 && len(v) > 0 {
			return false, nil
		}
		i = len(span) - len(rest)
	}
	return true, nil
}

// childPrefix is the length of a child span's first three fields in the
// layout isChild recognizes.
const childPrefix = 2 + 16 + 2 + 8 + 2 + 8

// isChild reports whether span starts as encoders write a child span:
// trace_id (16 bytes), span_id (8), then a parent_span_id of 8 bytes.
// Deciding it from these six bytes is what isRoot's loop decides from the
// same three fields, so isRoot's answer is the same either way.
func isChild(span []byte) bool {
	return len(span) >= childPrefix && span[0] == 1<<3|2 && span[1] == 16 && span[18] == 2<<3|2 &&
		span[19] == 8 && span[28] == 4<<3|2 && span[29] == 8
}

// CountLogRecords counts the log records of an encoded ExportLogsServiceRequest.
func CountLogRecords(b []byte) (n uint64, err error) {
	// resource_logs = 1, scope_logs = 2, log_records = 2.
	err = each(b, 1, func(rl []byte) error {
		return each(rl, 2, func(sl []byte) error {
			return each(sl, 2, func([]byte) error { n++; return nil })
		})
	})
	return n, err
}

// CountDataPoints counts the data points of an encoded ExportMetricsServiceRequest.
func CountDataPoints(b []byte) (n uint64, err error) {
	// resource_metrics = 1, scope_metrics = 2, metrics = 2; then gauge 5,
	// sum 7, histogram 9, exponential_histogram 10, summary 11, each with
	// data_points = 1.
	err = each(b, 1, func(rm []byte) error {
		return each(rm, 2, func(sm []byte) error {
			return each(sm, 2, func(m []byte) error {
				for len(m) > 0 {
					num, typ, v, rest, ok := next(m)
					if !ok {
						return errWire
					}
					m = rest
					switch num {
					case 5, 7, 9, 10, 11:
						if typ != protowire.BytesType {
							return errWire
						}
						if err := each(v, 1, func([]byte) error { n++; return nil }); err != nil {
							return err
						}
					}
				}
				return nil
			})
		})
	})
	return n, err
}

// rawMessage holds a request's bytes undecoded, which the handler frees
// once it has counted them: in one buffer, or with frames set (trace and
// logs requests), in the buffers gRPC read it in.
type rawMessage struct {
	buf    mem.Buffer
	frames bool
	data   mem.BufferSlice
}

// free releases the request's bytes.
func (m *rawMessage) free() {
	if m.buf != nil {
		m.buf.Free()
	}
	m.data.Free()
}

// bytes returns the request in one buffer, copying it into one first if it
// is held as it arrived.
func (m *rawMessage) bytes() []byte {
	if m.buf == nil {
		m.buf = m.data.MaterializeToBuffer(bufferPool)
	}
	return m.buf.ReadOnlyData()
}

// countCodec hands requests to the count handlers as raw bytes and
// marshals responses with the official protobuf library.
type countCodec struct{}

func (countCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("count codec: cannot marshal %T", v)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

// Unmarshal keeps a trace or logs request in the buffers it arrived in (one per
// HTTP/2 frame), referenced, for countSpansChunks, and copies any other
// into one pooled buffer (a reference if it arrived in one), so that
// counting allocates nothing per request.
func (countCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(*rawMessage)
	if !ok {
		return fmt.Errorf("count codec: cannot unmarshal into %T", v)
	}
	if m.frames {
		data.Ref()
		m.data = data
		return nil
	}
	m.buf = data.MaterializeToBuffer(bufferPool)
	return nil
}

func (countCodec) Name() string { return "proto" }

// bufferPool holds the buffers requests are copied into (and the gRPC
// server's frame buffers). Unlike mem.DefaultBufferPool it does not zero a
// buffer it hands out, as the request is copied over all of it: zeroing
// the 1 MiB tier that a 360 KB request falls in cost more than the copy.
var bufferPool = &dirtyPool{}

// dirtyPool is a mem.BufferPool with one sync.Pool per power of two.
type dirtyPool struct{ tiers [27]sync.Pool } // up to 64 MiB, the receive limit

func (p *dirtyPool) Get(n int) *[]byte {
	k := bits.Len(uint(n - 1))
	if n <= 0 || k >= len(p.tiers) {
		b := make([]byte, max(n, 0))
		return &b
	}
	if b, ok := p.tiers[k].Get().(*[]byte); ok {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n, 1<<k)
	return &b
}

func (p *dirtyPool) Put(b *[]byte) {
	if c := cap(*b); c > 0 && c&(c-1) == 0 {
		if k := bits.Len(uint(c - 1)); k < len(p.tiers) {
			p.tiers[k].Put(b)
		}
	}
}

// countHandler returns a unary handler that reads the raw request (as it
// arrived if frames is set), lets count decode it, and answers with resp.
func countHandler(r *Receiver, frames bool, count func(*rawMessage) error, resp func() any) grpc.MethodDesc {
	return grpc.MethodDesc{
		MethodName: "Export",
		Handler: func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			raw := rawMessage{frames: frames}
			err := dec(&raw)
			// The bytes are needed only while counting.
			defer raw.free()
			if err != nil {
				return nil, err
			}
			if r.fail() {
				return nil, errInjected
			}
			if err := count(&raw); err != nil {
				return nil, status.Error(codes.InvalidArgument, err.Error())
			}
			r.requests.Add(1)
			return resp(), nil
		},
	}
}

// frameCounters hold the cursors (and their scratch buffers) of trace
// requests being counted.
var frameCounters = sync.Pool{New: func() any { return &frameCounter{} }}

type frameCounter struct {
	c    chunkCursor
	bufs [][]byte
}

// countFrames counts the items of a trace (or with logs set, logs) request
// where it arrived (countChunks); ok is false if that gave up.
func countFrames(m *rawMessage, logs bool) (n, roots uint64, ok bool) {
	if m.buf != nil {
		return 0, 0, false
	}
	fc := frameCounters.Get().(*frameCounter)
	fc.bufs = fc.bufs[:0]
	for _, b := range m.data {
		fc.bufs = append(fc.bufs, b.ReadOnlyData())
	}
	n, roots, ok = fc.c.countChunks(fc.bufs, logs)
	clear(fc.bufs)
	fc.c.cur, fc.c.rest = nil, nil
	frameCounters.Put(fc)
	return n, roots, ok
}

// countTraceFrames counts a trace request where it arrived, or copied into
// one buffer by CountSpans if that gives up.
func (r *Receiver) countTraceFrames(m *rawMessage) error {
	n, roots, ok := countFrames(m, false)
	if !ok {
		var err error
		if n, roots, err = CountSpans(m.bytes()); err != nil {
			return err
		}
	}
	r.roots.Add(roots)
	r.spans.Add(n)
	return nil
}

// countLogFrames counts a logs request where it arrived, or copied into
// one buffer by CountLogRecords if that gives up.
func (r *Receiver) countLogFrames(m *rawMessage) error {
	n, _, ok := countFrames(m, true)
	if !ok {
		var err error
		if n, err = CountLogRecords(m.bytes()); err != nil {
			return err
		}
	}
	r.logRecords.Add(n)
	return nil
}

// registerCount registers the three OTLP services on srv with the count
// decoder.
func (r *Receiver) registerCount(srv *grpc.Server) {
	type server interface{}
	srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: "opentelemetry.proto.collector.trace.v1.TraceService",
		HandlerType: (*server)(nil),
		Methods:     []grpc.MethodDesc{countHandler(r, true, r.countTraceFrames, func() any { return &coltrace.ExportTraceServiceResponse{} })},
	}, struct{}{})
	srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: "opentelemetry.proto.collector.logs.v1.LogsService",
		HandlerType: (*server)(nil),
		Methods:     []grpc.MethodDesc{countHandler(r, true, r.countLogFrames, func() any { return &collogs.ExportLogsServiceResponse{} })},
	}, struct{}{})
	srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: "opentelemetry.proto.collector.metrics.v1.MetricsService",
		HandlerType: (*server)(nil),
		Methods: []grpc.MethodDesc{countHandler(r, false, func(m *rawMessage) error {
			n, err := CountDataPoints(m.bytes())
			if err == nil {
				r.dataPoints.Add(n)
			}
			return err
		}, func() any { return &colmetrics.ExportMetricsServiceResponse{} })},
	}, struct{}{})
}
