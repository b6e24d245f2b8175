package otlp

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
)

// TestNewSinkResourceTooLarge: a resource that leaves less than half of a
// request for spans is refused by NewSink, as New refuses it, since every
// request carries it. NewSink took a 3 MiB service name, and every batch
// the engine exported through it was dropped as too large: the receiver
// got nothing, and the service ran on without one span sent.
func TestNewSinkResourceTooLarge(t *testing.T) {
	rc := otlptest.StartKeeping(t, otlptest.GRPC)
	exp, err := export.New(export.Config{Endpoint: rc.Endpoint(), Insecure: true, Protocol: "grpc", Release: encode.PutBuffer})
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Shutdown(context.Background())
	for _, res := range []encode.Resource{
		{ServiceName: strings.Repeat("s", 3<<20)},
		{ServiceName: "svc", Attrs: []encode.Attr{engine.String("k", strings.Repeat("v", 3<<20))}},
	} {
		if _, err := NewSink(exp, res, true); !errors.Is(err, export.ErrInvalidConfig) || !strings.Contains(err.Error(), "resource") {
			t.Errorf("service name of %d bytes: NewSink error %v, want one naming the resource", len(res.ServiceName), err)
		}
	}
	if _, err := NewSink(exp, encode.Resource{ServiceName: strings.Repeat("s", 64<<10)}, true); err != nil {
		t.Errorf("a 64 KiB service name: %v", err)
	}
}

// TestServiceNameOnTheWire: with no service name anywhere (no
// OTEL_SERVICE_NAME, SERVICE_NAME, Config.ServiceName or WithResource),
// the engine's resource said engine.DefaultServiceName while every
// request the receiver decoded said service.name "": New gave the sink
// the resource before engine.New filled the default in, so Jaeger and
// the collector saw a service without a name. Traces, logs and metrics
// now carry the engine's.
func TestServiceNameOnTheWire(t *testing.T) {
	rc := otlptest.StartKeeping(t, export.ProtocolGRPC)
	e, err := New(export.Config{Endpoint: rc.Endpoint()})
	if err != nil {
		t.Fatal(err)
	}
	r := e.StartRun(engine.RunInfo{FlowID: "f", AppID: "a"})
	r.StartNode("a:1", "a", "a").End()
	r.End(0, "")
	if err := e.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := e.Resource().ServiceName
	if want != engine.DefaultServiceName {
		t.Fatalf("engine resource service name %q, want %q", want, engine.DefaultServiceName)
	}
	check := func(signal string, res *resourcepb.Resource) {
		t.Helper()
		if got, ok := wireServiceName(res); !ok {
			t.Errorf("%s: no service.name on the wire", signal)
		} else if got != want {
			t.Errorf("%s: service.name %q on the wire, the engine's resource says %q", signal, got, want)
		}
	}
	if len(rc.Traces()) == 0 || len(rc.Logs()) == 0 || len(rc.Metrics()) == 0 {
		t.Fatalf("received %d trace, %d log and %d metric requests, want each", len(rc.Traces()), len(rc.Logs()), len(rc.Metrics()))
	}
	for _, req := range rc.Traces() {
		for _, rs := range req.ResourceSpans {
			check("traces", rs.Resource)
		}
	}
	for _, req := range rc.Logs() {
		for _, rl := range req.ResourceLogs {
			check("logs", rl.Resource)
		}
	}
	for _, req := range rc.Metrics() {
		for _, rm := range req.ResourceMetrics {
			check("metrics", rm.Resource)
		}
	}
}

// wireServiceName returns the service.name attribute of a decoded
// resource, and whether it has one.
func wireServiceName(res *resourcepb.Resource) (string, bool) {
	for _, kv := range res.GetAttributes() {
		if kv.Key == "service.name" {
			return kv.Value.GetStringValue(), true
		}
	}
	return "", false
}
