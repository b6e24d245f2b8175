package engine

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
)

// TestReleaseKeepsProtocol: the release of a run writes nothing of its
// plain nodes' records and resets the others, and writes no node's state
// word, which keeps the generation of the run the node was started in
// (its run's) and ended; a handle of such a node stays stale once its
// record holds the next run's node (whose generation is that run's), and
// the next run's nodes are exported with nothing of the records' earlier
// nodes, whether the records were reused (reopen) or not (resetLazy).
func TestReleaseKeepsProtocol(t *testing.T) {
	s := &shapeSink{nodes: map[string]string{}}
	e, err := New(WithSink(s), WithBatch(1, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	flush := func() {
		t.Helper()
		if err := e.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	run := e.StartRun(RunInfo{FlowID: "f"})
	rec, gen := run.r, run.gen
	var old []Node
	for i, name := range []string{"plain0", "plain1", "rich2"} {
		n := run.StartNode("a:1", "a", name)
		n.Input(String("k", "v"))
		if i == 2 {
			n.Next("b:1")
			n.Info("message")
			n.Usage(encode.Usage{PromptTokens: 3, TotalTokens: 3})
			n.LLMOutput("out")
		}
		n.End()
		old = append(old, n)
	}
	run.End(0, "")
	flush()
	if rec.lazy != 3 {
		t.Fatalf("lazy = %d after a run of 3 nodes", rec.lazy)
	}
	for i, h := range old {
		if w := h.n.sw.Load(); w != packState(gen, stateEnded) {
			t.Fatalf("node %d: state word %#x after release, want %#x (ended, the run's generation)", i, w, packState(gen, stateEnded))
		}
		if plain := i < 2; plain != (h.n.NodeID != "") {
			t.Fatalf("node %d (plain %v) after release: %+v", i, plain, h.n.Node)
		}
	}
	run = e.StartRun(RunInfo{FlowID: "f"})
	if run.r != rec {
		t.Fatal("the run record was not reused")
	}
	n := run.StartNode("p:1", "p", "plain")
	if n.n != old[0].n || n.gen == old[0].gen {
		t.Fatalf("node record or generation not reused: gen %d, stale handle's %d", n.gen, old[0].gen)
	}
	checkReopened(t, "reused", n.n)
	stale := e.Stats().StaleCalls
	for _, h := range old {
		h.Output(String("late", "x"))
		h.Next("late:1")
		h.Usage(encode.Usage{PromptTokens: 9})
		h.End()
	}
	if got := e.Stats().StaleCalls - stale; got != 4*uint64(len(old)) {
		t.Fatalf("%d stale calls counted of %d", got, 4*len(old))
	}
	n.Output(String("o", "v"))
	n.End()
	run.End(0, "")
	flush()
	want := nodeShape(&encode.Node{Output: make([]encode.Attr, 1)})
	if got := s.nodes["plain"]; got != want {
		t.Errorf("reused record exported %s, want %s", got, want)
	}
	for i := 1; i < 3; i++ {
		if m := rec.slot(i); m.NodeID != "" || m.Input != nil || m.pooled != 0 || m.pool[0] != (encode.Attr{}) {
			t.Errorf("node record %d, not reused, keeps its node: %+v", i, m.Node)
		}
	}
}

// checkReopened fails t when node record n, just started for case name,
// holds more than StartNode wrote: what the record's node before set, and
// its release left for reopen (plain) or reset, is gone. The pool's
// attributes past pooled are End's to clear (leftover).
func checkReopened(t *testing.T, name string, n *nodeRecord) {
	t.Helper()
	started := map[string]bool{"SpanID": true, "StartUnixNano": true, "NodeID": true, "NodeType": true, "NodeName": true}
	v := reflect.ValueOf(&n.Node).Elem()
	for i := range v.NumField() {
		f, fname := v.Field(i), v.Type().Field(i).Name
		if started[fname] {
			continue
		}
		if f.Kind() == reflect.Slice && f.Len() == 0 || f.Kind() != reflect.Slice && f.IsZero() {
			continue
		}
		t.Errorf("%s: the node starts with %s = %v, its record's node before's", name, fname, f.Interface())
	}
	if n.rare || n.pooled != 0 || n.big != 0 || len(n.eventAttrs) != 0 || len(n.bytes) != 0 ||
		!reflect.ValueOf(n.events).IsZero() || n.nextIDs != [len(n.nextIDs)]string{} || n.evAttrs != [len(n.evAttrs)]encode.Attr{} {
		t.Errorf("%s: the node starts with its record's node before's: rare %v pooled %d big %d event attrs %d bytes %d events %v next %v",
			name, n.rare, n.pooled, n.big, len(n.eventAttrs), len(n.bytes), n.events, n.nextIDs)
	}
}
