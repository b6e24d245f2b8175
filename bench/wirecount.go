package bench

import (
	"context"
	"errors"
	"fmt"

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
// every tag and length on the way, without building the request's structs.
// It is what a receiver that only routes bytes pays; the full decoder
// (DecodeFull) is what a collector that inspects every attribute pays.
// Rejected alternative: only the full decoder. On a shared 2-vCPU machine
// it costs several microseconds per span (a span with 8 attributes and a
// 256-byte payload), more than flowtel's whole pipeline, so an in-process
// receiver with it measures the protobuf library, not the exporter.

// errWire is returned for a request that is not valid protobuf.
var errWire = errors.New("malformed protobuf")

// walk calls f for every field of the message b with its number, wire type
// and (for LEN fields) its bytes.
func walk(b []byte, f func(num protowire.Number, typ protowire.Type, v []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errWire
		}
		b = b[n:]
		var v []byte
		if typ == protowire.BytesType {
			v, n = protowire.ConsumeBytes(b)
		} else {
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return errWire
		}
		b = b[n:]
		if err := f(num, typ, v); err != nil {
			return err
		}
	}
	return nil
}

// nested calls leaf for each LEN field reached by following path (field
// numbers of nested messages) from b.
func nested(b []byte, path []protowire.Number, leaf func([]byte) error) error {
	return walk(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if num != path[0] {
			return nil
		}
		if typ != protowire.BytesType {
			return errWire
		}
		if len(path) == 1 {
			return leaf(v)
		}
		return nested(v, path[1:], leaf)
	})
}

// CountSpans counts the spans of an encoded ExportTraceServiceRequest and
// those without a parent span id.
func CountSpans(b []byte) (spans, roots uint64, err error) {
	// resource_spans = 1, scope_spans = 2, spans = 2.
	err = nested(b, []protowire.Number{1, 2, 2}, func(span []byte) error {
		spans++
		root := true
		if err := walk(span, func(num protowire.Number, _ protowire.Type, v []byte) error {
			if num == 4 && len(v) > 0 { // parent_span_id
				root = false
			}
			return nil
		}); err != nil {
			return err
		}
		if root {
			roots++
		}
		return nil
	})
	return spans, roots, err
}

// CountLogRecords counts the log records of an encoded ExportLogsServiceRequest.
func CountLogRecords(b []byte) (n uint64, err error) {
	// resource_logs = 1, scope_logs = 2, log_records = 2.
	err = nested(b, []protowire.Number{1, 2, 2}, func([]byte) error { n++; return nil })
	return n, err
}

// CountDataPoints counts the data points of an encoded ExportMetricsServiceRequest.
func CountDataPoints(b []byte) (n uint64, err error) {
	// resource_metrics = 1, scope_metrics = 2, metrics = 2; then gauge 5,
	// sum 7, histogram 9, exponential_histogram 10, summary 11, each with
	// data_points = 1.
	err = nested(b, []protowire.Number{1, 2, 2}, func(m []byte) error {
		return walk(m, func(num protowire.Number, typ protowire.Type, v []byte) error {
			switch num {
			case 5, 7, 9, 10, 11:
				if typ != protowire.BytesType {
					return errWire
				}
				return nested(v, []protowire.Number{1}, func([]byte) error { n++; return nil })
			}
			return nil
		})
	})
	return n, err
}

// rawMessage holds a request's bytes undecoded.
type rawMessage struct{ b []byte }

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

func (countCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(*rawMessage)
	if !ok {
		return fmt.Errorf("count codec: cannot unmarshal into %T", v)
	}
	m.b = data.Materialize()
	return nil
}

func (countCodec) Name() string { return "proto" }

// countHandler returns a unary handler that reads the raw request, lets
// count decode it, and answers with resp.
func countHandler(r *Receiver, count func([]byte) error, resp func() any) grpc.MethodDesc {
	return grpc.MethodDesc{
		MethodName: "Export",
		Handler: func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			var raw rawMessage
			if err := dec(&raw); err != nil {
				return nil, err
			}
			if r.fail() {
				return nil, errInjected
			}
			if err := count(raw.b); err != nil {
				return nil, status.Error(codes.InvalidArgument, err.Error())
			}
			r.requests.Add(1)
			return resp(), nil
		},
	}
}

// registerCount registers the three OTLP services on srv with the count
// decoder.
func (r *Receiver) registerCount(srv *grpc.Server) {
	type server interface{}
	srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: "opentelemetry.proto.collector.trace.v1.TraceService",
		HandlerType: (*server)(nil),
		Methods: []grpc.MethodDesc{countHandler(r, func(b []byte) error {
			n, roots, err := CountSpans(b)
			if err == nil {
				r.roots.Add(roots)
				r.spans.Add(n)
			}
			return err
		}, func() any { return &coltrace.ExportTraceServiceResponse{} })},
	}, struct{}{})
	srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: "opentelemetry.proto.collector.logs.v1.LogsService",
		HandlerType: (*server)(nil),
		Methods: []grpc.MethodDesc{countHandler(r, func(b []byte) error {
			n, err := CountLogRecords(b)
			if err == nil {
				r.logRecords.Add(n)
			}
			return err
		}, func() any { return &collogs.ExportLogsServiceResponse{} })},
	}, struct{}{})
	srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: "opentelemetry.proto.collector.metrics.v1.MetricsService",
		HandlerType: (*server)(nil),
		Methods: []grpc.MethodDesc{countHandler(r, func(b []byte) error {
			n, err := CountDataPoints(b)
			if err == nil {
				r.dataPoints.Add(n)
			}
			return err
		}, func() any { return &colmetrics.ExportMetricsServiceResponse{} })},
	}, struct{}{})
}
