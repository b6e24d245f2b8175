package engine

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// TestNextIDsASetAfterTheCut: next ids that differ only past
// Limits.ValueBytes are one id once cut, and next_log_ids is a set: the
// node keeps it once, and the repeat costs no room under Limits.Attrs.
// Next compared the ids before cutting them, so the node kept both.
func TestNextIDsASetAfterTheCut(t *testing.T) {
	sink := &MemorySink{}
	e, err := New(WithSink(sink), WithBatch(1, time.Millisecond), WithLimits(Limits{ValueBytes: 64}))
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("n", 64)
	r := e.StartRun(RunInfo{FlowID: "f"})
	n := r.StartNode("n", "code", "n")
	n.Next(long+"1", long+"2", long+"3")
	n.End()
	r.End(0, "")
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if next := sink.Runs()[0].Nodes[0].Next; len(next) != 1 || next[0] != long {
		t.Errorf("next ids %d (%.20q...), want the one id they are once cut", len(next), next)
	}
}

// TestNextManyLongIDs: a node given 20,000 distinct next ids of
// Limits.ValueBytes (256 KiB) each, sharing one backing array (a graph's
// edges read from a request): each id past the first was compared with
// every id kept (up to Limits.Attrs, 128) byte by byte, 32 MiB of
// comparing per id, 10 minutes for the call, go test's timeout; with
// Limits.Attrs at its maximum (65,536) short ids do the same. The call
// must cost about the ids' length, not the ids times Limits.Attrs.
func TestNextManyLongIDs(t *testing.T) {
	const ids = 20000
	sink := &MemorySink{}
	e, err := New(WithSink(sink), WithBatch(1, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	l := e.cfg.limits.ValueBytes
	back := strings.Repeat("a", l) + strings.Repeat("b", ids)
	list := make([]string, ids)
	for i := range list {
		list[i] = back[i : i+l] // equal length, differing at the end
	}
	r := e.StartRun(RunInfo{FlowID: "f"})
	n := r.StartNode("n", "code", "n")
	n.Next(list...)
	n.End()
	r.End(0, "")
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := e.Stats()
	if next := sink.Runs()[0].Nodes[0].Next; len(next) != e.cfg.limits.Attrs || st.AttrsDropped != ids-uint64(e.cfg.limits.Attrs) {
		t.Errorf("%d next ids kept, %d dropped", len(next), st.AttrsDropped)
	}
}

// TestNextSetHeld: the set Next builds past maxScanNext ids is memory
// the node holds until its release, counted in Stats.HeldBytes (at least
// a string header an id) and given back when the run is released.
func TestNextSetHeld(t *testing.T) {
	const ids = 10000
	sink := &MemorySink{}
	e, err := New(WithSink(sink), WithBatch(1, time.Millisecond), WithLimits(Limits{Attrs: 2 * ids}))
	if err != nil {
		t.Fatal(err)
	}
	list := make([]string, ids)
	for i := range list {
		list[i] = strconv.Itoa(i)
	}
	round := func() (before, during int64) {
		r := e.StartRun(RunInfo{FlowID: "f"})
		n := r.StartNode("n", "code", "n")
		before = e.Stats().HeldBytes
		n.Next(list...)
		during = e.Stats().HeldBytes
		n.End()
		r.End(0, "")
		if err := e.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
		return before, during
	}
	before, during := round()
	if during-before < ids*int64(unsafe.Sizeof("")) {
		t.Errorf("held bytes %d -> %d with a set of %d next ids, want at least %d more", before, during, ids, ids*unsafe.Sizeof(""))
	}
	after := e.Stats().HeldBytes
	round()
	if again := e.Stats().HeldBytes; again != after {
		t.Errorf("held bytes %d after a run, %d after the same run again: the set is not given back", after, again)
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}
