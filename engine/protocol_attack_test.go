package engine

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
)

// copySink keeps, of every run exported, its flow id and its nodes'
// names, trace ids and shapes, copied (the records are reused).
type copySink struct {
	mu    sync.Mutex
	runs  []copiedRun
	spans int
}

type copiedRun struct {
	flow  string
	trace encode.TraceID
	nodes []copiedNode
}

type copiedNode struct {
	name, shape string
	trace       encode.TraceID
	incomplete  bool
}

func (s *copySink) Export(runs []*encode.Run) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range runs {
		c := copiedRun{flow: r.FlowID, trace: r.TraceID}
		for _, n := range r.Nodes {
			c.nodes = append(c.nodes, copiedNode{name: n.NodeName, shape: nodeShape(n), trace: r.TraceID, incomplete: n.Incomplete})
		}
		s.runs = append(s.runs, c)
		s.spans += 1 + len(r.Nodes)
	}
	return nil
}
func (s *copySink) ForceFlush(context.Context) error { return nil }
func (s *copySink) Shutdown(context.Context) error   { return nil }

func (s *copySink) last() copiedRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runs[len(s.runs)-1]
}

func attackEngine(t *testing.T, opts ...Option) (*Engine, *copySink, func()) {
	t.Helper()
	s := &copySink{}
	e, err := New(append([]Option{WithSink(s), WithBatch(1, time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Shutdown(context.Background()) })
	return e, s, func() {
		t.Helper()
		if err := e.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// checkAccounts fails unless every span accepted is exported or dropped,
// none in flight.
func checkAccounts(t *testing.T, e *Engine) {
	t.Helper()
	st := e.Stats()
	if st.InFlight != 0 || st.Accepted != st.Exported+st.Dropped {
		t.Fatalf("accounts: %+v", st)
	}
}

// TestAttackGenerationWrap: a node record's word keeps the generation
// of the run that last used it, and the pipeline takes a word in the
// run's generation for the node's publication. Once the run record's
// 32-bit generation wraps, a node record last used 2^32 runs earlier
// (an index the runs since never took) would hold the generation of the
// run about to take it: the pipeline would read the record while its
// StartNode writes it, and export the old node. The release that wraps
// the generation must leave no node word in the next run's generation.
func TestAttackGenerationWrap(t *testing.T) {
	e, s, flush := attackEngine(t)
	run := e.StartRun(RunInfo{FlowID: "a"})
	rec := run.r
	for _, name := range []string{"a0", "a1"} {
		run.StartNode("x:1", "x", name).End()
	}
	run.End(0, "")
	flush()
	// The record is free; its node words hold run a's generation. Skip
	// to the last generation before the wrap (the runs between took only
	// index 0, or none).
	rec.sw.Store(packState(math.MaxUint32, stateFree))
	run = e.StartRun(RunInfo{FlowID: "b"})
	if run.r != rec || run.gen != math.MaxUint32 {
		t.Fatalf("run b: record %p gen %d, want %p %d", run.r, run.gen, rec, uint32(math.MaxUint32))
	}
	b0 := run.StartNode("x:1", "x", "b0")
	b0.End()
	run.End(0, "")
	flush()
	next := genOf(rec.sw.Load())
	for i := range nodeKeepChunks * nodeChunkSize {
		if n := rec.slot(i); n != nil {
			if w := n.sw.Load(); genOf(w) == next && stateOf(w) != stateFree {
				t.Fatalf("after the wrap, node %d's word %#x is already in the next run's generation %d: the pipeline would take it for a publication", i, w, next)
			}
		}
	}
	stale := e.Stats().StaleCalls
	b0.Input(String("k", "v"))
	run = e.StartRun(RunInfo{FlowID: "c"})
	if run.r != rec || run.gen != next {
		t.Fatalf("run c: record %p gen %d, want %p %d", run.r, run.gen, rec, next)
	}
	c0, c1 := run.StartNode("x:1", "x", "c0"), run.StartNode("x:1", "x", "c1")
	b0.Output(String("k", "v"))
	c0.End()
	c1.End()
	b0.End()
	run.End(0, "")
	flush()
	if got := e.Stats().StaleCalls - stale; got != 3 {
		t.Fatalf("stale calls of run b's node across the wrap: %d, want 3", got)
	}
	c := s.last()
	if c.flow != "c" || len(c.nodes) != 2 || c.nodes[0].name != "c0" || c.nodes[1].name != "c1" {
		t.Fatalf("run c exported %+v", c)
	}
	checkAccounts(t, e)
}

// TestAttackStaleNodeEveryMethod: handles of a run's nodes (plain, rich,
// and one left open, orphaned at the run's end) are used, every method,
// after their run was released and its record reused by a run whose
// nodes, at the same indexes, are open: each call is counted stale, and
// the new nodes are exported with what they set alone.
func TestAttackStaleNodeEveryMethod(t *testing.T) {
	e, s, flush := attackEngine(t)
	run := e.StartRun(RunInfo{FlowID: "old"})
	rec := run.r
	plain := run.StartNode("a:1", "a", "plain")
	plain.Input(String("k", "v"))
	plain.End()
	rich := run.StartNode("b:1", "b", "rich")
	rich.Info("x")
	rich.Usage(Usage{PromptTokens: 1, TotalTokens: 1})
	rich.End()
	open := run.StartNode("c:1", "c", "open")
	run.End(0, "")
	flush()

	run = e.StartRun(RunInfo{FlowID: "new"})
	if run.r != rec {
		t.Fatal("the record was not reused")
	}
	fresh := []Node{run.StartNode("a:2", "a", "n0"), run.StartNode("b:2", "b", "n1"), run.StartNode("c:2", "c", "n2")}
	calls := []func(h Node){
		func(h Node) { h.Input(String("i", "v")) },
		func(h Node) { h.Output(String("o", "v")) },
		func(h Node) { h.Config(String("c", "v")) },
		func(h Node) { h.SetAttributes(String("a", "v")) },
		func(h Node) { h.SetCode(7) },
		func(h Node) { h.InfoEvent(String("e", "v")) },
		func(h Node) { h.ErrorEvent(String("e", "v")) },
		func(h Node) { h.Usage(Usage{PromptTokens: 9, TotalTokens: 9}) },
		func(h Node) { h.LLMOutput("stale") },
		func(h Node) { h.FirstFrame() },
		func(h Node) { h.FirstTokenCost(time.Millisecond) },
		func(h Node) { h.Info("stale") },
		func(h Node) { h.Error("stale") },
		func(h Node) { h.Next("z:1") },
		func(h Node) { h.Chunk() },
		func(h Node) { h.SetSpanKind(SpanKindClient) },
		func(h Node) {
			if c := h.StartChild("d:1", "d", "child"); c.IsRecording() {
				t.Error("a stale handle started a recording child")
			}
		},
		func(h Node) { h.Fail("stale") },
		func(h Node) { h.Cancel("stale") },
		func(h Node) { h.RecordError(errors.New("stale")) },
		func(h Node) { h.End() },
	}
	before := e.Stats().StaleCalls
	for _, h := range []Node{plain, rich, open} {
		if h.IsRecording() {
			t.Fatal("a stale handle reports recording")
		}
		if h.SpanContext().IsValid() {
			t.Fatal("a stale handle has a span context")
		}
		for _, call := range calls {
			call(h)
		}
	}
	after := e.Stats().StaleCalls
	if min := uint64(3 * len(calls)); after-before < min {
		t.Fatalf("stale calls counted %d, want at least %d", after-before, min)
	}
	for _, n := range fresh {
		n.End()
	}
	run.End(0, "")
	flush()
	got := s.last()
	if got.flow != "new" || len(got.nodes) != 3 {
		t.Fatalf("exported %+v", got)
	}
	for i, n := range got.nodes {
		if want := "in=0 out=0 cfg=0 attrs=0 next=0 events=0 usage=false/0 code=false/0 kind=0 status=0/\"\" llm=\"\" ftc=false chunks=0"; n.shape != want || n.incomplete || n.name != fresh[i].n.NodeName {
			t.Fatalf("node %d exported %+v: a stale handle wrote into it", i, n)
		}
	}
	checkAccounts(t, e)
}

// TestAttackStartNodeRacesEnd: branches start, write and end nodes while
// another goroutine ends the run, and the run is ended twice; every
// StartNode either is in the run (exported, open ones incomplete) or is a
// counted stale call, with the records reused by the next rounds, the
// losers' handles used on after the record's reuse. Under -race it
// checks that the pipeline never reads what a branch writes.
func TestAttackStartNodeRacesEnd(t *testing.T) {
	e, s, flush := attackEngine(t)
	const rounds, branches, perBranch = 200, 4, 8
	var recording atomic.Int64
	var stale []Node
	var mu sync.Mutex
	for round := range rounds {
		run := e.StartRun(RunInfo{FlowID: "race"})
		var wg sync.WaitGroup
		for b := range branches {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range perBranch {
					n := run.StartNode("message:1", "message", "n")
					if n.IsRecording() {
						recording.Add(1)
					}
					n.Input(String("k", "v"))
					if (b+k+round)%3 != 0 {
						n.End()
					}
					mu.Lock()
					stale = append(stale, n)
					mu.Unlock()
				}
			}()
		}
		if round%2 == 0 {
			run.End(0, "")
			run.End(1, "twice")
		}
		wg.Wait()
		run.End(0, "")
		mu.Lock()
		for _, n := range stale {
			n.Output(String("late", "v"))
			n.End()
		}
		stale = stale[:0]
		mu.Unlock()
	}
	flush()
	s.mu.Lock()
	nodes := 0
	for _, r := range s.runs {
		nodes += len(r.nodes)
	}
	s.mu.Unlock()
	if int64(nodes) != recording.Load() {
		t.Fatalf("exported %d nodes, %d StartNode calls returned a recording node", nodes, recording.Load())
	}
	checkAccounts(t, e)
}

// TestAttackOrphanWritesAfterReuse: the owner of a node its run closed
// writes on into it while the record's next runs reuse the run record
// (and the orphan's replacement); under -race, nothing the owner writes
// is read by the pipeline, and the next runs export their own nodes. (The
// owner's End may come before the pipeline closes the node: then it is
// exported complete, as the protocol allows.)
func TestAttackOrphanWritesAfterReuse(t *testing.T) {
	e, s, flush := attackEngine(t)
	run := e.StartRun(RunInfo{FlowID: "old"})
	open := run.StartNode("message:1", "message", "open")
	run.End(0, "")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 2000 {
			open.Input(String("k", "v"))
			open.SetSpanKind(SpanKindClient)
			open.Usage(Usage{PromptTokens: 1, TotalTokens: 1})
		}
		open.End()
	}()
	for range 50 {
		r := e.StartRun(RunInfo{FlowID: "next"})
		n := r.StartNode("message:2", "message", "mine")
		n.End()
		r.End(0, "")
	}
	<-done
	flush()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.runs {
		for _, n := range r.nodes {
			if r.flow == "next" && (n.name != "mine" || n.incomplete || n.shape != "in=0 out=0 cfg=0 attrs=0 next=0 events=0 usage=false/0 code=false/0 kind=0 status=0/\"\" llm=\"\" ftc=false chunks=0") {
				t.Fatalf("a next run exported %+v", n)
			}
		}
	}
	checkAccounts(t, e)
}

// TestAttackStreamStartCut: a run whose ids Limits.RunBytes cuts below a
// stream node's type: the first frame the pipeline found as it read the
// nodes is the one FirstFrameMillis finds walking the nodes exported
// (streamSink), as before the pipeline found it.
func TestAttackStreamStartCut(t *testing.T) {
	s := &streamSink{t: t}
	e, err := New(WithSink(s), WithBatch(1, time.Millisecond), WithLimits(Limits{RunBytes: 1}))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	for _, ids := range [][]string{
		{"message:1", "llm:2", "node-end:3"},
		{"llm:1", "node-end:2"},
		{"message:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "x:1"},
	} {
		run := e.StartRun(RunInfo{FlowID: "f"})
		for _, id := range ids {
			run.StartNode(id, "t", "n").End()
		}
		run.End(0, "")
	}
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e.Stats().ValuesTruncated == 0 {
		t.Fatal("nothing was cut")
	}
	checkAccounts(t, e)
}

// TestAttackStreamStartLimits: stream nodes refused past
// Limits.NodesPerRun, never ended (closed open), started in a run the
// engine refused, and a run with a first frame of its owner: the field
// and the walk agree (streamSink).
func TestAttackStreamStartLimits(t *testing.T) {
	s := &streamSink{t: t}
	e, err := New(WithSink(s), WithBatch(1, time.Millisecond), WithLimits(Limits{NodesPerRun: 2}))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	run := e.StartRun(RunInfo{FlowID: "refused-stream"})
	run.StartNode("llm:1", "llm", "a").End()
	run.StartNode("llm:2", "llm", "b").End()
	run.StartNode("message:1", "message", "c").End() // past the limit
	run.End(0, "")
	run = e.StartRun(RunInfo{FlowID: "open-stream"})
	open := run.StartNode("message:1", "message", "a")
	run.StartNode("node-end:1", "node-end", "b").End()
	run.End(0, "")
	run = e.StartRun(RunInfo{FlowID: "owner-frame"})
	run.FirstFrame()
	run.StartNode("message:1", "message", "a").End()
	run.End(0, "")
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	open.End()
	if s.runs != 3 {
		t.Fatalf("%d runs exported", s.runs)
	}
	checkAccounts(t, e)
}

// TestAttackHandBuiltStreamStart: encode.Run values built by hand with
// StreamStartUnixNano 0 (walked), -1 (none), a garbage negative (none),
// a garbage huge value, with and without an owner's first frame, encode
// as spans and run logs without a panic; 0 walks the nodes.
func TestAttackHandBuiltStreamStart(t *testing.T) {
	start := int64(1_700_000_000_000_000_000)
	nodes := []*encode.Node{{NodeID: "llm:1", StartUnixNano: start + 1e6, EndUnixNano: start + 2e6},
		{NodeID: "message:1", StartUnixNano: start + 5e6, EndUnixNano: start + 6e6}}
	enc := encode.NewEncoder(encode.Resource{ServiceName: "s"})
	for _, c := range []struct {
		stream, owner int64
		want          int64
		ok            bool
	}{
		{0, 0, 5, true},
		{-1, 0, 0, false},
		{math.MinInt64, 0, 0, false},
		{math.MaxInt64, 0, math.MaxInt64/1_000_000 - start/1_000_000, true},
		{start + 3e6, 0, 3, true},
		{-1, start + 7e6, 7, true},
		{math.MaxInt64, start + 7e6, 7, true},
	} {
		r := &encode.Run{FlowID: "f", StartUnixNano: start, EndUnixNano: start + 1e7, Nodes: nodes,
			StreamStartUnixNano: c.stream, FirstFrameUnixNano: c.owner}
		if got, ok := r.FirstFrameMillis(); got != c.want || ok != c.ok {
			t.Errorf("stream %d owner %d: first frame %d %v, want %d %v", c.stream, c.owner, got, ok, c.want, c.ok)
		}
		if b := enc.AppendTraces(nil, []*encode.Run{r}); len(b) == 0 {
			t.Errorf("stream %d: no spans", c.stream)
		}
		if b := encode.AppendRunLog(nil, r); len(b) == 0 {
			t.Errorf("stream %d: no run log", c.stream)
		}
	}
}

// gateCopySink holds its first Export until open is closed, then copies
// as copySink.
type gateCopySink struct {
	copySink
	entered, open chan struct{}
	once          sync.Once
}

func (s *gateCopySink) Export(runs []*encode.Run) error {
	s.once.Do(func() {
		close(s.entered)
		<-s.open
	})
	return s.copySink.Export(runs)
}

// TestAttackRingDropStaleHandles: runs the ring evicts while the sink
// holds the pipeline, with nodes plain, rich and left open, are released
// by the pipeline (their open nodes orphaned there); their handles, used
// on another goroutine while the records are reused by later runs, count
// stale and write nothing the later runs export; every span is exported
// or dropped and counted.
func TestAttackRingDropStaleHandles(t *testing.T) {
	s := &gateCopySink{entered: make(chan struct{}), open: make(chan struct{})}
	e, err := New(WithSink(s), WithBatch(1, time.Millisecond), WithShards(1), WithRingCapacity(2),
		WithOverflow(DropOldest, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	first := e.StartRun(RunInfo{FlowID: "first"})
	first.End(0, "")
	<-s.entered
	var handles []Node
	for range 16 {
		run := e.StartRun(RunInfo{FlowID: "dropped"})
		p := run.StartNode("a:1", "a", "plain")
		p.Input(String("k", "v"))
		p.End()
		r := run.StartNode("message:1", "message", "rich")
		r.Info("x")
		r.End()
		o := run.StartNode("c:1", "c", "open")
		o.Input(String("k", "v"))
		handles = append(handles, p, r, o)
		run.End(0, "")
	}
	if e.Stats().Dropped == 0 {
		t.Fatal("the ring dropped nothing")
	}
	close(s.open)
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			for _, h := range handles {
				h.Input(String("late", "v"))
				h.Usage(Usage{PromptTokens: 5, TotalTokens: 5})
				h.End()
			}
		}
	}()
	for range 32 {
		run := e.StartRun(RunInfo{FlowID: "next"})
		for _, name := range []string{"n0", "n1", "n2"} {
			run.StartNode("b:1", "b", name).End()
		}
		run.End(0, "")
	}
	<-done
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	for _, r := range s.runs {
		if r.flow != "next" {
			continue
		}
		for _, n := range r.nodes {
			if n.incomplete || n.shape != "in=0 out=0 cfg=0 attrs=0 next=0 events=0 usage=false/0 code=false/0 kind=0 status=0/\"\" llm=\"\" ftc=false chunks=0" {
				t.Errorf("a later run exported %+v", n)
			}
		}
	}
	s.mu.Unlock()
	checkAccounts(t, e)
}

// TestAttackIdleCloseRacesStartNode: runs never ended are closed by the
// idle timeout while branches start, write and end nodes in them with
// pauses past the timeout; every StartNode that returned a recording
// node is exported (open ones incomplete), the others count stale, and
// the handles are used on once the records are reused.
func TestAttackIdleCloseRacesStartNode(t *testing.T) {
	e, s, flush := attackEngine(t, WithIdleTimeout(time.Millisecond))
	var recording atomic.Int64
	var handles []Node
	for range 8 {
		run := e.StartRun(RunInfo{FlowID: "idle"})
		var wg sync.WaitGroup
		var mu sync.Mutex
		for b := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range 20 {
					n := run.StartNode("message:1", "message", "n")
					if n.IsRecording() {
						recording.Add(1)
					}
					n.Input(String("k", "v"))
					if (b+k)%4 != 0 {
						n.End()
					}
					mu.Lock()
					handles = append(handles, n)
					mu.Unlock()
					if k%5 == 4 {
						time.Sleep(3 * time.Millisecond)
					}
				}
			}()
		}
		wg.Wait()
		for run.IsRecording() {
			time.Sleep(time.Millisecond)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, h := range handles {
			h.Output(String("late", "v"))
			h.End()
		}
	}()
	for range 8 {
		run := e.StartRun(RunInfo{FlowID: "next"})
		run.StartNode("b:1", "b", "n").End()
		run.End(0, "")
	}
	<-done
	flush()
	s.mu.Lock()
	nodes := 0
	for _, r := range s.runs {
		if r.flow == "idle" {
			nodes += len(r.nodes)
		}
	}
	s.mu.Unlock()
	if int64(nodes) != recording.Load() {
		t.Fatalf("exported %d nodes of idle runs, %d StartNode calls returned a recording node", nodes, recording.Load())
	}
	checkAccounts(t, e)
}
