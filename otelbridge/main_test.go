package otelbridge

import (
	"context"
	"net/http"
	"testing"
	"time"

	otelpropagation "go.opentelemetry.io/otel/propagation"
	"go.uber.org/goleak"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/propagation"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A W3C carrier, as in package propagation's tests.
const (
	tpValid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tsValid = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
)

var otelProp = otelpropagation.NewCompositeTextMapPropagator(otelpropagation.TraceContext{}, otelpropagation.Baggage{})

func newTestEngine(t testing.TB, opts ...engine.Option) (*engine.Engine, *engine.MemorySink) {
	t.Helper()
	sink := &engine.MemorySink{}
	e, err := engine.New(append([]engine.Option{engine.WithSink(sink), engine.WithBatch(64, 5*time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	return e, sink
}

func flush(t testing.TB, e *engine.Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
}

// mustExtractHTTP returns the valid span context h carries.
func mustExtractHTTP(t *testing.T, h http.Header) engine.SpanContext {
	t.Helper()
	sc, _, err := propagation.ExtractHTTP(h)
	if err != nil || !sc.IsValid() {
		t.Fatalf("extract %v: %+v, %v", h, sc, err)
	}
	return sc
}
