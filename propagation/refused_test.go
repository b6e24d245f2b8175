package propagation

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/internal/testkit"
)

// TestRefusedRunPropagatesParent: a run the engine refuses (run limit,
// shutdown) under an incoming traceparent still hands that parent to the
// calls it and its nodes make, as OpenTelemetry's non-recording span
// keeps its parent's: a real HTTP server behind InjectHTTP receives the
// caller's traceparent and tracestate, so the distributed trace does not
// break under overload. A refused root run propagates nothing, as before.
// The refused path stays at 0 allocations.
func TestRefusedRunPropagatesParent(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	const ts = "congo=t61rcWkgMzE"
	got := make(chan http.Header, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Header.Clone() }))
	defer srv.Close()
	call := func(sc engine.SpanContext) http.Header {
		t.Helper()
		req, err := http.NewRequest("GET", srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		InjectHTTP(req.Header, sc, Baggage{})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return <-got
	}
	in := http.Header{}
	in.Set("traceparent", tp)
	in.Set("tracestate", ts)
	parent, _, err := ExtractHTTP(in)
	if err != nil {
		t.Fatal(err)
	}

	e, err := engine.New(engine.WithLimits(engine.Limits{RunsInFlight: 1}))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	hold := e.StartRun(engine.RunInfo{})
	for _, why := range []string{"run_limit", "shutdown"} {
		if why == "shutdown" {
			hold.End(0, "")
			if err := e.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		run := e.StartRun(engine.RunInfo{Parent: parent})
		if run.IsRecording() {
			t.Fatalf("%s: the run was not refused", why)
		}
		node := run.StartNode("llm:1", "llm", "LLM")
		child := node.StartChild("tool:1", "tool", "search")
		for name, sc := range map[string]engine.SpanContext{"run": run.SpanContext(), "node": node.SpanContext(), "child": child.SpanContext()} {
			if sc != parent {
				t.Errorf("%s: refused %s's SpanContext %+v, want the parent %+v", why, name, sc, parent)
			}
			h := call(sc)
			if h.Get("traceparent") != tp || h.Get("tracestate") != ts {
				t.Errorf("%s: refused %s sent traceparent %q tracestate %q, want %q %q", why, name, h.Get("traceparent"), h.Get("tracestate"), tp, ts)
			}
		}
		root := e.StartRun(engine.RunInfo{})
		if sc := root.StartNode("n", "t", "n").SpanContext(); sc.IsValid() || root.SpanContext().IsValid() {
			t.Errorf("%s: a refused root run propagates %+v", why, sc)
		}
		if h := call(root.SpanContext()); h.Get("traceparent") != "" {
			t.Errorf("%s: a refused root run sent traceparent %q", why, h.Get("traceparent"))
		}
		testkit.WantAllocs(t, 0, func() {
			r := e.StartRun(engine.RunInfo{Parent: parent})
			n := r.StartNode("llm:1", "llm", "LLM")
			if r.SpanContext() != parent || n.SpanContext() != parent {
				t.Fatal("parent lost")
			}
			n.End()
			r.End(0, "")
		})
	}
}
