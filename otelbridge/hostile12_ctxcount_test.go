package otelbridge

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowtel/flowtel/engine"
)

// TestContextSpanDropsCounted: the spans of ContextWithRun and
// ContextWithNode had no provider, so what the bridge drops on them
// (event and RecordError attributes, links, empty keys) was counted
// nowhere, and their TracerProvider was a new provider at each call,
// whose Stats nobody could read. They now count in the engine's one
// provider, the one NewTracerProvider returns. (Events keep their
// attributes but one under a key the event writes itself: "INFO LOG",
// exception.*.)
func TestContextSpanDropsCounted(t *testing.T) {
	e, _ := newTestEngine(t)
	run := e.StartRun(engine.RunInfo{FlowID: "ctx"})
	node := run.StartNode("n", "span", "n")
	for _, ctx := range []context.Context{
		ContextWithRun(context.Background(), run),
		ContextWithNode(context.Background(), node),
	} {
		s := trace.SpanFromContext(ctx)
		s.AddEvent("x", trace.WithAttributes(attribute.Int("a", 1), attribute.String("INFO LOG", "not the name")))
		s.AddLink(testLink())
		s.RecordError(errors.New("boom"), trace.WithAttributes(attribute.Int("b", 2), attribute.String("exception.type", "not the type")))
		s.SetAttributes(attribute.String("", "empty key"))
		if got, want := s.TracerProvider(), trace.TracerProvider(NewTracerProvider(e)); got != want {
			t.Errorf("TracerProvider() = %p, want the engine's %p", got, want)
		}
	}
	node.End()
	run.End(0, "")
	got := NewTracerProvider(e).Stats()
	want := Stats{LinksDropped: 2, EventAttrsDropped: 4, InvalidAttrsDropped: 2}
	if got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
}

// TestContextSpanOtelhttpClient: otelhttp's client Transport with no
// provider configured starts its span with the TracerProvider of the
// span in the request's context. Under ContextWithRun that is the
// engine's provider: the call becomes a node of the run, counted in the
// Stats NewTracerProvider returns, as every later call.
func TestContextSpanOtelhttpClient(t *testing.T) {
	e, sink := newTestEngine(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	client := &http.Client{Transport: otelhttp.NewTransport(http.DefaultTransport)}
	defer client.CloseIdleConnections()
	run := e.StartRun(engine.RunInfo{FlowID: "client"})
	ctx := ContextWithRun(context.Background(), run)
	for range 2 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	run.End(0, "")
	flush(t, e)
	if st := NewTracerProvider(e).Stats(); st.NodesStarted != 2 {
		t.Errorf("NodesStarted = %d, want the 2 client calls", st.NodesStarted)
	}
	runs := sink.Runs()
	if len(runs) != 1 || len(runs[0].Nodes) != 2 {
		t.Fatalf("runs %d, want 1 run of 2 nodes", len(runs))
	}
}
