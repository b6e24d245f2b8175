package otelbridge

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/race"
)

// TestSpanExporterManyScopes: a batch whose spans come from many
// tracers (a tracer per request name, a batch size raised with
// OTEL_BSP_MAX_EXPORT_BATCH_SIZE) and a few resources arrives with each
// span under its own resource and scope, each resource once in a
// request. The groups
// were found by comparing each span with every group, and the resources
// by comparing every group with every other: 16,000 scopes took 3.8 s,
// 32,000 14.6 s, and 2^17 (this test) passed go test's timeout.
func TestSpanExporterManyScopes(t *testing.T) {
	n := 1 << 17
	if testing.Short() || race.Enabled {
		n = 1 << 13 // still 4,096 scopes: 0.2 s compared one by one
	}
	rc, addr := startFullReceiver(t)
	exp, err := export.New(export.Config{Protocol: "grpc", Endpoint: addr, Insecure: true, QueueBytes: 256 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Shutdown(context.Background())
	resources := []*sdkresource.Resource{
		sdkresource.NewSchemaless(attribute.String("r", "0")),
		sdkresource.NewSchemaless(attribute.String("r", "1")),
		sdkresource.NewSchemaless(attribute.String("r", "2")),
	}
	stubs := make(tracetest.SpanStubs, n)
	for i := range stubs {
		var sid trace.SpanID
		binary.BigEndian.PutUint64(sid[:], uint64(i+1))
		stubs[i] = tracetest.SpanStub{
			Name:                 "s",
			SpanContext:          trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: sid}),
			StartTime:            time.Unix(1, 0),
			EndTime:              time.Unix(2, 0),
			Resource:             resources[i%3],
			InstrumentationScope: instrumentation.Scope{Name: fmt.Sprintf("tracer-%08d", i/2)}, // two spans a scope
		}
	}
	sx := NewSpanExporter(exp)
	if err := sx.ExportSpans(context.Background(), stubs.Snapshots()); err != nil {
		t.Fatal(err)
	}
	if err := sx.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := bySpanID(rc)
	if len(got) != n {
		t.Fatalf("%d spans received, want %d", len(got), n)
	}
	for i := range n {
		var sid [8]byte
		binary.BigEndian.PutUint64(sid[:], uint64(i+1))
		p := got[string(sid[:])]
		if p.span == nil || p.scope.GetName() != fmt.Sprintf("tracer-%08d", i/2) || p.res.GetAttributes()[0].GetValue().GetStringValue() != fmt.Sprint(i%3) {
			t.Fatalf("span %d under resource %v scope %v", i, p.res, p.scope)
		}
	}
	for _, req := range rc.Traces() { // the batch is split into requests under 4 MiB
		seen := map[string]bool{}
		for _, rs := range req.ResourceSpans {
			r := rs.GetResource().GetAttributes()[0].GetValue().GetStringValue()
			if seen[r] {
				t.Fatalf("resource %s twice in a request", r)
			}
			seen[r] = true
		}
	}
}

// TestSpanExporterNilSpan: a batch holding a nil ReadOnlySpan (no SDK
// makes one; a processor of a caller's may) is refused with an error
// rather than a panic on the SDK's batch goroutine, which ended the
// process.
func TestSpanExporterNilSpan(t *testing.T) {
	_, addr := startFullReceiver(t)
	exp, err := export.New(export.Config{Protocol: "grpc", Endpoint: addr, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Shutdown(context.Background())
	sx := NewSpanExporter(exp)
	ok := tracetest.SpanStubs{{Name: "ok"}}.Snapshots()[0]
	err = func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic: %v", p)
			}
		}()
		return sx.ExportSpans(context.Background(), []sdktrace.ReadOnlySpan{ok, nil})
	}()
	if err == nil || strings.HasPrefix(err.Error(), "panic") {
		t.Errorf("ExportSpans with a nil span: %v, want an error", err)
	}
}
