package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/internal/otlptest"
	"github.com/flowtel/flowtel/otlp"
	"github.com/flowtel/flowtel/propagation"
)

// TestTraceStateNotAttributeLimited is the regression test of
// OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT cutting the tracestate a run forwards:
// at 128, a caller's 299-character tracestate of three vendors reached the
// service the workflow called with one vendor left, and the exported spans
// said the same. Attribute limits bound span attributes; the tracestate is
// what a service forwards, which W3C Trace Context asks to keep (at least
// 512 characters) and the OpenTelemetry SDKs never cut by attribute limits.
// A caller's request goes through a loopback server that starts the run
// from its headers and calls a second one; the spans go to a loopback
// OTLP receiver (otlp.NewFromEnv) and are read with the official decoder.
func TestTraceStateNotAttributeLimited(t *testing.T) {
	rc := otlptest.StartKeeping(t, otlptest.GRPC)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rc.Endpoint())
	t.Setenv("OTEL_EXPORTER_OTLP_INSECURE", "true")
	t.Setenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "128")
	e, err := otlp.NewFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	// Three vendors' members of 99 characters each: 299 with the commas.
	ts := strings.Join([]string{
		"rojo=" + strings.Repeat("r", 94),
		"congo=" + strings.Repeat("c", 93),
		"tenant@vendor=" + strings.Repeat("v", 85),
	}, ",")
	if len(ts) != 299 {
		t.Fatalf("tracestate of %d characters", len(ts))
	}

	got := make(chan string, 1)
	callee := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Tracestate")
	}))
	defer callee.Close()
	service := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		run, bag, err := propagation.StartRunFromHTTP(e, r.Header, engine.RunInfo{FlowID: "flow"})
		if err != nil {
			t.Error(err)
		}
		n := run.StartNode("call:1", "http", "call")
		// A long input shows the value limit in force.
		n.Input(engine.String("q", strings.Repeat("q", 200)))
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, callee.URL, nil)
		if err != nil {
			t.Error(err)
			return
		}
		propagation.InjectHTTP(req.Header, n.SpanContext(), bag)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
		} else {
			resp.Body.Close()
		}
		n.End()
		run.End(0, "")
	}))
	defer service.Close()

	req, err := http.NewRequest(http.MethodGet, service.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	req.Header.Set("Tracestate", ts)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if s := <-got; s != ts {
		t.Errorf("the callee got tracestate %q, want the caller's %q", s, ts)
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans, inputCut := 0, false
	for _, req := range rc.Traces() {
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					spans++
					if sp.TraceState != ts {
						t.Errorf("span %q exported with trace_state %q, want %q", sp.Name, sp.TraceState, ts)
					}
					for _, a := range sp.Attributes {
						if strings.HasSuffix(a.Key, "q") && len(a.Value.GetStringValue()) == 128 {
							inputCut = true
						}
					}
				}
			}
		}
	}
	if spans != 2 {
		t.Errorf("%d spans exported, want the run's and the node's", spans)
	}
	if !inputCut {
		t.Error("no attribute cut to 128 bytes: the value limit was not in force")
	}
	if s := e.Stats(); s.ValuesTruncated != 1 {
		t.Errorf("ValuesTruncated = %d, want 1 (the input)", s.ValuesTruncated)
	}
}
