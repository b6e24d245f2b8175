package otelbridge

import (
	"context"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/genai"
)

// TestGenAIRootNeverEnded: a GenAI root span (a node of a run started for
// it) that its caller never ends leaves no run open past Shutdown: the
// engine closes the run and its node, exports both as incomplete and the
// accounting reconciles; End after that, again, and SetName and SetStatus
// after End change nothing and count no stale call.
func TestGenAIRootNeverEnded(t *testing.T) {
	sink := &engine.MemorySink{}
	e, err := engine.New(engine.WithSink(sink))
	if err != nil {
		t.Fatal(err)
	}
	tr := NewTracerProvider(e).Tracer("t")
	_, open := tr.Start(context.Background(), "chat open", trace.WithAttributes(attribute.String(genai.KeyOperationName, genai.OpChat)))
	_, ended := tr.Start(context.Background(), "chat ended", trace.WithAttributes(attribute.String(genai.KeyOperationName, genai.OpChat)))
	ended.End()
	ended.End()
	ended.SetName("renamed")
	ended.SetStatus(codes.Error, "late")
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := e.Stats()
	if s.Accepted != 4 || s.Exported != 4 || s.InFlight != 0 || s.Dropped != 0 || s.RunsTimedOut != 1 || s.StaleCalls != 0 {
		t.Errorf("stats %+v: want 2 runs of a node each exported, one closed by Shutdown, no stale call", s)
	}
	open.End() // after Shutdown: the engine closed it
	for _, r := range sink.Runs() {
		if r.FlowID == "chat ended" && (r.Status != 0 || len(r.Nodes) != 1 || r.Nodes[0].NodeName != "chat ended") {
			t.Errorf("ended run changed after End: status %v, nodes %d", r.Status, len(r.Nodes))
		}
	}
	if len(sink.Runs()) != 2 {
		t.Errorf("%d runs, want 2", len(sink.Runs()))
	}
}

// TestNewTracerProviderConcurrentFirst: first calls of NewTracerProvider
// racing on a new engine all get the one provider the engine keeps, and
// the spans each starts count in it (run with -race).
func TestNewTracerProviderConcurrentFirst(t *testing.T) {
	e, _ := newTestEngine(t)
	const n = 8
	got := make([]*TracerProvider, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			got[i] = NewTracerProvider(e)
			_, s := got[i].Tracer("t").Start(context.Background(), "r")
			s.End()
		})
	}
	wg.Wait()
	for i, p := range got {
		if p != got[0] {
			t.Fatalf("call %d got another provider", i)
		}
	}
	if st := got[0].Stats(); st.RunsStarted != n {
		t.Errorf("Stats %+v, want %d runs", st, n)
	}
}
