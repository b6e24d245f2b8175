package otelbridge

import (
	"context"
	"net/http"
	"testing"

	otelpropagation "go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
)

// TestBridgeTraceStateKept: what the engine keeps of a tracestate, the
// bridge hands to OpenTelemetry whole, multi-tenant keys (tenant@system,
// a tenant starting with a digit) included, through ContextWithRun,
// ContextWithNode, the spans the TracerProvider starts below them and an
// OpenTelemetry propagator's injection. A header with optional whitespace
// or a whitespace-only list-member, which the engine keeps as received
// (Trace Context Level 2 allows both), was handed to OpenTelemetry's
// parser, which refuses a whitespace-only member: every vendor's entry
// was lost.
func TestBridgeTraceStateKept(t *testing.T) {
	e, _ := newTestEngine(t)
	tr := NewTracerProvider(e).Tracer("t")
	const want = "congo=t61rcWkgMzE,tenant@vendor=1,0a1b@dt=x/y*z,rojo=00f067aa0ba902b7"
	for _, in := range []string{
		want,
		"congo=t61rcWkgMzE, tenant@vendor=1 ,\t0a1b@dt=x/y*z,,rojo=00f067aa0ba902b7",
		"congo=t61rcWkgMzE, ,tenant@vendor=1,\t,0a1b@dt=x/y*z,rojo=00f067aa0ba902b7",
	} {
		parent := engine.SpanContext{TraceID: encode.TraceID{1}, SpanID: encode.SpanID{2}, TraceState: in, Sampled: true}
		run := e.StartRun(engine.RunInfo{Parent: parent})
		node := run.StartNode("a:1", "a", "A")
		check := func(what string, sc trace.SpanContext) {
			t.Helper()
			if got := sc.TraceState().String(); got != want {
				t.Errorf("%q: %s: tracestate %q, want %q", in, what, got, want)
			}
		}
		ctx := ContextWithRun(context.Background(), run)
		check("ContextWithRun", trace.SpanContextFromContext(ctx))
		nctx := ContextWithNode(ctx, node)
		check("ContextWithNode", trace.SpanContextFromContext(nctx))
		cctx, child := tr.Start(nctx, "child")
		check("child span", child.SpanContext())
		h := http.Header{}
		otelProp.Inject(cctx, otelpropagation.HeaderCarrier(h))
		if got := h.Get("Tracestate"); got != want {
			t.Errorf("%q: injected %q", in, got)
		}
		child.End()
		node.End()
		run.End(0, "")
	}
}
