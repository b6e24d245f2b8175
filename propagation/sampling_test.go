package propagation

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flowtel/flowtel/engine"
)

// TestSamplingFlags checks the trace-flags through the headers: a run
// joining a caller follows its sampled flag (parent-based, the default)
// and is exported only when sampled; what it sends keeps the caller's
// random flag and its own sampled decision, reserved bits cleared; a trace
// flowtel starts is sent as sampled and random.
func TestSamplingFlags(t *testing.T) {
	sink := &engine.MemorySink{}
	e, err := engine.New(engine.WithSink(sink), engine.WithBatch(64, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	flush := func() {
		if err := e.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	const id = "4bf92f3577b34da6a3ce929d0e0e4736"
	for _, tt := range []struct {
		in, out  string
		exported bool
	}{
		{"00", "00", false}, {"02", "02", false}, {"01", "01", true}, {"03", "03", true}, {"ff", "03", true}, {"fc", "00", false},
	} {
		h := http.Header{}
		h.Set("traceparent", "00-"+id+"-00f067aa0ba902b7-"+tt.in)
		before := len(sink.Runs())
		run, _, err := StartRunFromHTTP(e, h, engine.RunInfo{FlowID: "f"})
		if err != nil {
			t.Fatal(err)
		}
		out := http.Header{}
		InjectHTTP(out, run.StartNode("n:1", "n", "n").SpanContext(), Baggage{})
		if got := out.Get("traceparent"); !strings.HasPrefix(got, "00-"+id+"-") || got[53:] != tt.out {
			t.Fatalf("caller flags %s: sends %s, want flags %s", tt.in, got, tt.out)
		}
		run.End(0, "")
		flush()
		if got := len(sink.Runs()) - before; got != map[bool]int{true: 1}[tt.exported] {
			t.Fatalf("caller flags %s: %d runs exported", tt.in, got)
		}
	}
	root := e.StartRun(engine.RunInfo{FlowID: "root"})
	out := http.Header{}
	InjectHTTP(out, root.SpanContext(), Baggage{})
	if got := out.Get("traceparent"); got[53:] != "03" {
		t.Fatalf("a trace flowtel starts is sent as %s", got)
	}
	root.End(0, "")
}
