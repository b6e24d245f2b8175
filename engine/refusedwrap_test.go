package engine

import (
	"context"
	"reflect"
	"testing"
	"unsafe"
)

// TestRefusedTicketWrap: a refused run's handle, and its node's, held
// while the ring of parents turns over as many times as the ticket had
// values read the zero SpanContext, never the parent of the run refused
// later with a ticket of the same bits. Tickets of 24 bits wrapped after
// 16.7 million refusals (some seconds of a flood): a refused streaming run
// then handed its calls another request's trace id and tracestate. The
// counter is moved, not run, to the wrap.
func TestRefusedTicketWrap(t *testing.T) {
	e, err := New(WithLimits(Limits{RunsInFlight: 1, NodesPerRun: 1}))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	hold := e.StartRun(RunInfo{})
	defer hold.End(0, "")
	hold.StartNode("kept", "t", "n").End()
	alice := SpanContext{TraceID: [16]byte{0xa}, SpanID: [8]byte{0xa}, TraceState: "tenant=alice", Sampled: true}
	bob := SpanContext{TraceID: [16]byte{0xb}, SpanID: [8]byte{0xb}, TraceState: "tenant=bob", Sampled: true}

	run := e.StartRun(RunInfo{Parent: alice}) // refused: RunsInFlight
	node := run.StartNode("n", "t", "n")
	past := hold.StartNode("past", "t", "n") // refused: NodesPerRun, hands on hold's span
	holdSC := hold.SpanContext()
	if run.SpanContext() != alice || node.SpanContext() != alice || past.SpanContext() != holdSC {
		t.Fatalf("before the wrap: %+v, %+v, %+v", run.SpanContext(), node.SpanContext(), past.SpanContext())
	}
	// run took ticket last-1, past ticket last: the next refusal is
	// given each ticket plus wrap in turn, which a ticket of 24 (or 32)
	// bits would have made the same.
	last := e.parents.next.Load()
	for _, wrap := range []uint64{1 << 24, 1 << 32} {
		for _, ticket := range []uint64{last - 1, last} {
			e.parents.next.Store(ticket + wrap - 1)
			e.StartRun(RunInfo{Parent: bob})
		}
		for name, sc := range map[string]SpanContext{"run": run.SpanContext(), "node": node.SpanContext(), "node past the limit": past.SpanContext()} {
			if sc.TraceID == bob.TraceID {
				t.Errorf("wrap %#x: the %s refused before reads a later refused run's parent %+v", wrap, name, sc)
			}
		}
	}
	if n, r := unsafe.Sizeof(Node{}), unsafe.Sizeof(Run{}); n != 16 || r != 32 {
		t.Errorf("handles of %d and %d bytes, want 16 and 32", n, r)
	}
	// The compiler keeps a struct of at most 4 fields in registers: a
	// fifth field in Run (f6acc5b) put every handle in memory and cost the
	// caller 15 ns a node.
	if n, r := reflect.TypeFor[Node]().NumField(), reflect.TypeFor[Run]().NumField(); n > 4 || r > 4 {
		t.Errorf("handles of %d and %d fields, want at most 4", n, r)
	}
}
