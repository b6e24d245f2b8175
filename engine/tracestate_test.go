package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/flowtel/flowtel/internal/testkit"
	"github.com/flowtel/flowtel/internal/w3c"
)

// TestParentTraceStateBounded is the regression test of a caller's
// tracestate cut in the middle of a list-member by Limits.ValueBytes (a
// vendor was forwarded "congo=t6" for the "congo=t61rcWkgMzE" it wrote, or
// an invalid "congo=") and of a tracestate given in RunInfo.Parent with
// invalid members (a CR LF among them) forwarded as it was, which made
// net/http refuse the caller's own outgoing request. What a run carries,
// sends to callees and exports is a valid tracestate: an invalid one
// discarded and counted, a valid one whole. Limits.ValueBytes no longer
// cuts it: it bounds attribute values, and its cut (whole members from the
// end) dropped the entries of vendors downstream whenever the header
// passed a limit chosen for attributes (OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT),
// where W3C Trace Context asks for at least 512 characters propagated.
func TestParentTraceStateBounded(t *testing.T) {
	sink := &MemorySink{}
	e, err := New(WithSink(sink), WithBatch(64, time.Millisecond), WithLimits(Limits{ValueBytes: 30}))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	long := "rojo=" + strings.Repeat("r", 250) + ",congo=" + strings.Repeat("c", 250)
	parent := SpanContext{TraceID: [16]byte{1}, SpanID: [8]byte{2}, Sampled: true, Random: true}
	for _, tt := range []struct{ in, want string }{
		{"rojo=00f067aa0ba902b7", "rojo=00f067aa0ba902b7"},
		{"rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"},
		{long, long},
		{"rojo=00f067aa0ba902b7,congo=t6", "rojo=00f067aa0ba902b7,congo=t6"},
		{"a=b\r\nX-Evil: 1,c=d", ""},
		{"Bad=1", ""},
	} {
		before := e.Stats().ValuesTruncated
		parent.TraceState = tt.in
		r := e.StartRun(RunInfo{FlowID: "f", Parent: parent})
		n := r.StartNode("n:1", "n", "n")
		got := n.SpanContext().TraceState
		n.End()
		r.End(0, "")
		if got != tt.want {
			t.Errorf("parent tracestate %q: the run carries %q, want %q", tt.in, got, tt.want)
		}
		if _, err := w3c.ParseTraceState(got); err != nil {
			t.Errorf("parent tracestate %q: the run carries %q: %v", tt.in, got, err)
		}
		if cut := e.Stats().ValuesTruncated - before; (got != tt.in) != (cut == 1) {
			t.Errorf("parent tracestate %q carried as %q: %d cuts counted", tt.in, got, cut)
		}
	}
}

// TestParentTraceStateAllocs: checking a caller's tracestate costs no
// allocation when it is valid and fits, the common case.
func TestParentTraceStateAllocs(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	parent := SpanContext{TraceID: [16]byte{1}, SpanID: [8]byte{2}, Sampled: true, Random: true,
		TraceState: "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE, fw529a3039@dt=Zm9vYmFy"}
	warm(t, e, 256, 1)
	testkit.WantAllocs(t, 0, func() { e.StartRun(RunInfo{Parent: parent}).End(0, "") })
}
