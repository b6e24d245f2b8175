package otelbridge

import (
	"context"
	"errors"
	"net/url"
	"syscall"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// valueErr is an error of a named non-pointer type.
type valueErr struct{ msg string }

func (e valueErr) Error() string { return e.msg }

// genericErr is an error of a generic named type.
type genericErr[T any] struct{ v T }

func (genericErr[T]) Error() string { return "generic" }

// TestBridgeExceptionTypeAsSDK records errors of pointer, named value and
// generic types through the bridge (encoded by otlp's sink, decoded by the
// official types from a real receiver) and through OpenTelemetry's SDK:
// each exception.type is the SDK's. A named value type was written as
// reflect's String ("syscall.Errno" passed, "otelbridge.valueErr" did
// not), where the SDK writes its package path.
func TestBridgeExceptionTypeAsSDK(t *testing.T) {
	errs := []error{
		errors.New("pointer"),
		&url.Error{Op: "Get", URL: "http://x", Err: errors.New("refused")},
		syscall.ECONNREFUSED,
		valueErr{"value type"},
		genericErr[int]{1},
	}
	rec := tracetest.NewSpanRecorder()
	sdk := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	_, ss := sdk.Tracer("t").Start(context.Background(), "s")
	for _, err := range errs {
		ss.RecordError(err)
	}
	ss.End()
	want := map[string]string{}
	for _, ev := range rec.Ended()[0].Events() {
		var msg, typ string
		for _, kv := range ev.Attributes {
			switch kv.Key {
			case "exception.message":
				msg = kv.Value.AsString()
			case "exception.type":
				typ = kv.Value.AsString()
			}
		}
		want[msg] = typ
	}
	if len(want) != len(errs) {
		t.Fatalf("the SDK recorded %v", want)
	}

	rc, tp, shutdown := bridgeOverOTLP(t)
	ctx, root := tp.Tracer("t").Start(context.Background(), "flow")
	_, n := tp.Tracer("t").Start(ctx, "node")
	for _, err := range errs {
		root.RecordError(err)
		n.RecordError(err)
	}
	n.End()
	root.End()
	shutdown()
	seen := 0
	for _, req := range rc.Traces() {
		for _, rs := range req.ResourceSpans {
			for _, sc := range rs.ScopeSpans {
				for _, sp := range sc.Spans {
					for _, ev := range sp.Events {
						attrs := stringAttrs(ev.Attributes)
						msg := attrs["exception.message"]
						if w, ok := want[msg]; !ok || attrs["exception.type"] != w {
							t.Errorf("%s %q: exception.type %q, the SDK's %q", sp.Name, msg, attrs["exception.type"], w)
						}
						seen++
					}
				}
			}
		}
	}
	if seen != 2*len(errs) {
		t.Errorf("%d exception events, want %d", seen, 2*len(errs))
	}
}
