package otelbridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// TestBridgeRecordErrorStackTrace records errors on a run span and a node
// span through the OpenTelemetry API, encoded by otlp's sink and decoded
// by the official protobuf types from a real receiver: each is an
// "exception" event with exception.type and exception.message, and
// exception.stacktrace (holding the caller's frame) exactly when
// trace.WithStackTrace(true) asked for it. The option was ignored: no
// stack trace unless the engine had WithStackTraces.
func TestBridgeRecordErrorStackTrace(t *testing.T) {
	rc, tp, shutdown := bridgeOverOTLP(t)
	tr := tp.Tracer("t")
	ctx, root := tr.Start(context.Background(), "flow")
	root.RecordError(errors.New("run plain"))
	root.RecordError(errors.New("run stack"), trace.WithStackTrace(true))
	_, n := tr.Start(ctx, "node")
	n.RecordError(fmt.Errorf("node plain: %w", context.Canceled))
	n.RecordError(fmt.Errorf("node stack: %w", context.Canceled), trace.WithStackTrace(true))
	n.SetStatus(codes.Error, "failed")
	n.End()
	root.End()
	shutdown()
	var events []*tracepb.Span_Event
	for _, req := range rc.Traces() {
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					events = append(events, sp.Events...)
				}
			}
		}
	}
	want := map[string]struct {
		typ   string
		stack bool
	}{
		"run plain":                    {"*errors.errorString", false},
		"run stack":                    {"*errors.errorString", true},
		"node plain: context canceled": {"*fmt.wrapError", false},
		"node stack: context canceled": {"*fmt.wrapError", true},
	}
	seen := 0
	for _, ev := range events {
		if ev.Name != "exception" {
			continue
		}
		attrs := stringAttrs(ev.Attributes)
		msg := attrs["exception.message"]
		w, ok := want[msg]
		if !ok {
			t.Errorf("unexpected exception %v", attrs)
			continue
		}
		seen++
		if attrs["exception.type"] != w.typ {
			t.Errorf("%q: exception.type %q, want %q", msg, attrs["exception.type"], w.typ)
		}
		st, has := attrs["exception.stacktrace"]
		if has != w.stack || w.stack && !strings.Contains(st, "TestBridgeRecordErrorStackTrace") {
			t.Errorf("%q: exception.stacktrace %v (%d bytes), want %v with the caller's frame", msg, has, len(st), w.stack)
		}
	}
	if seen != len(want) {
		t.Errorf("%d exception events, want %d: %v", seen, len(want), events)
	}
}

// stringAttrs returns the string attributes of kvs by key.
func stringAttrs(kvs []*commonpb.KeyValue) map[string]string {
	out := map[string]string{}
	for _, kv := range kvs {
		if sv, ok := kv.Value.Value.(*commonpb.AnyValue_StringValue); ok {
			out[kv.Key] = sv.StringValue
		}
	}
	return out
}
