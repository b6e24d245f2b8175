package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/flowtel/flowtel/encode"
)

// These tests prove the edges of the node protocol (see the package doc):
// a run's End on one goroutine while its nodes' owners write on others,
// stale handles on a reused record, and the records orphaned by a run's
// end. Under -race they show that no write meets a read.

// writeNode makes every call a node's owner can make, k times over.
func writeNode(n Node, k int) {
	for i := 0; i < k; i++ {
		n.Input(Int("i", i), String("s", "in"))
		n.Output(Bytes("b", []byte("out")))
		n.Config(Float64("t", 0.7))
		n.SetAttributes(String("gen_ai.request.model", "m"))
		n.InfoEvent(Int("tokens", i))
		n.Info("working")
		n.Usage(Usage{PromptTokens: 1, CompletionTokens: 2, TotalTokens: 3})
		n.FirstTokenCost(time.Millisecond)
		n.FirstFrame()
		n.SetCode(i)
		n.LLMOutput("partial")
		n.Next("next:1")
		n.SetSpanKind(SpanKindClient)
		_ = n.SpanContext()
		_ = n.IsRecording()
	}
}

// TestRunEndDuringNodeWrites ends runs on their own goroutine while
// parallel branches keep writing their nodes, start children and end
// them: every node is exported whole (ended by its owner) or as
// incomplete with only what StartNode wrote, counted, and the engine
// holds no more bytes after than before.
func TestRunEndDuringNodeWrites(t *testing.T) {
	sink := &MemorySink{}
	e, err := New(WithSink(sink), WithBatch(64, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	warm(t, e, 8, 16)
	const runs, branches = 100, 4
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Go(func() {
			for k := 0; k < runs/4; k++ {
				run := e.StartRun(RunInfo{FlowID: "f"})
				var bw sync.WaitGroup
				for b := 0; b < branches; b++ {
					n := run.StartNode(fmt.Sprintf("branch:%d", b), "tool", "branch")
					bw.Go(func() {
						writeNode(n, 3)
						c := n.StartChild("llm:1", "llm", "child")
						writeNode(c, 2)
						c.End()
						if b%2 == 0 {
							n.End()
						}
					})
				}
				run.End(0, "") // races the branches
				bw.Wait()
			}
		})
	}
	wg.Wait()
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := e.Stats()
	checkIdentity(t, s)
	incomplete := 0
	var got []encode.Run
	for _, r := range sink.Runs() {
		if r.FlowID == "f" { // not warm's
			got = append(got, r)
		}
	}
	if len(got) != runs {
		t.Fatalf("%d runs exported, want %d", len(got), runs)
	}
	for _, r := range got {
		for _, n := range r.Nodes {
			if n.SpanID.IsZero() || n.NodeName == "" || n.StartUnixNano == 0 || n.EndUnixNano < n.StartUnixNano {
				t.Fatalf("node without its identity: %+v", n)
			}
			if !n.Incomplete {
				continue
			}
			incomplete++
			if n.Status != encode.StatusError || n.StatusMessage != msgNodeOpen || len(n.Input) != 0 || len(n.Events) != 0 || n.HasUsage {
				t.Fatalf("incomplete node exports what its owner may still be writing: %+v", n)
			}
		}
	}
	if incomplete < runs*branches/2 { // the odd branches never end their node
		t.Errorf("%d incomplete nodes, want at least %d", incomplete, runs*branches/2)
	}
	if uint64(incomplete) != s.NodesIncomplete {
		t.Errorf("%d incomplete nodes exported, Stats.NodesIncomplete %d", incomplete, s.NodesIncomplete)
	}
	if want := heldByRecords(e); s.HeldBytes != want {
		// Orphaned records gave their bytes back, late grows included.
		t.Errorf("held %d bytes, the records hold %d", s.HeldBytes, want)
	}
}

// heldByRecords recounts what the engine's accounting should hold once it
// is shut down: its fixed bytes and every record it keeps.
func heldByRecords(e *Engine) int64 {
	b := e.cfg.fixedBytes()
	for i := range e.arena.slots {
		if r := e.arena.slots[i].Load(); r != nil {
			b += r.bytes()
		}
	}
	return b
}

// TestOrphanedRecord checks one orphan closely: the run ends with its
// node open, the pipeline replaces the node's record, and the owner's
// calls after, which may still land in the old record, are counted stale
// and never reach the exported span or the record's reuse.
func TestOrphanedRecord(t *testing.T) {
	sink := &MemorySink{}
	e, err := New(WithSink(sink), WithBatch(64, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	run := e.StartRun(RunInfo{})
	n := run.StartNode("llm:1", "llm", "left open")
	n.SetSpanKind(SpanKindClient)
	n.Input(String("q", "before the run's end"))
	orphan := n.n
	run.End(0, "")
	flush(t, e)
	held := e.Stats().HeldBytes
	stale := e.Stats().StaleCalls
	n.Output(Bytes("late", make([]byte, 4096))) // would grow the record
	n.End()
	if got := e.Stats().StaleCalls - stale; got != 2 {
		t.Errorf("%d stale calls after the run closed the node, want 2", got)
	}
	if h := e.Stats().HeldBytes; h != held {
		t.Errorf("held %d bytes after the orphan's owner wrote, %d before", h, held)
	}
	r := sink.Runs()[0]
	got := r.Nodes[0]
	if !got.Incomplete || got.Kind != SpanKindClient || got.NodeName != "left open" || len(got.Input) != 0 {
		t.Errorf("exported %+v", got)
	}
	if s := e.Stats(); s.NodesIncomplete != 1 {
		t.Errorf("NodesIncomplete %d", s.NodesIncomplete)
	}
	// The next run of the record gets a new node record, never the orphan.
	next := e.StartRun(RunInfo{})
	m := next.StartNode("llm:2", "llm", "next")
	if m.n == orphan {
		t.Fatal("the orphaned record was reused")
	}
	m.End()
	next.End(0, "")
}

// TestStaleNodeAfterReuseEncoded makes every call on a stale handle whose
// record a new node now holds, and checks, through the real encoder and
// the official protobuf decoder, that the new node's span is what its own
// owner wrote.
func TestStaleNodeAfterReuseEncoded(t *testing.T) {
	sink := &encodingSink{enc: encode.NewEncoder(encode.Resource{ServiceName: "svc"})}
	e, err := New(WithSink(sink), WithBatch(64, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	run := e.StartRun(RunInfo{})
	old := run.StartNode("llm:1", "llm", "old")
	old.End()
	run.End(0, "")
	flush(t, e)

	run = e.StartRun(RunInfo{})
	live := run.StartNode("llm:2", "llm", "live")
	if live.n != old.n {
		t.Fatal("the engine did not reuse the record: the test proves nothing")
	}
	stale := e.Stats().StaleCalls
	calls := []func(){
		func() { writeNode(old, 1) },
		func() { old.ErrorEvent(String("e", "stale")) },
		func() { old.Error("stale") },
		func() { old.StartChild("x:1", "x", "stale child") },
		func() { old.setShape(encode.SpanID{1}, SpanKindServer) },
		func() { old.setStatus(encode.StatusError, "stale") },
		func() { old.rename("stale") },
		func() { old.recordException(errors.New("stale"), "", true) },
		func() { old.RecordError(errors.New("stale")) },
		func() { old.Cancel("stale") },
		func() { old.Fail("stale") },
		func() { old.End() },
	}
	for _, c := range calls {
		c()
	}
	if got := e.Stats().StaleCalls - stale; got < uint64(len(calls)) {
		t.Errorf("%d stale calls counted, want at least %d", got, len(calls))
	}
	live.Input(String("q", "live"))
	live.End()
	run.End(0, "")
	flush(t, e)

	spans := sink.spans(t)
	var got *tracepb.Span
	for _, s := range spans {
		if s.Name == "run_node:llm:2" {
			got = s
		}
	}
	if got == nil {
		t.Fatalf("no span of the live node in %d spans", len(spans))
	}
	if got.Kind != tracepb.Span_SPAN_KIND_INTERNAL || got.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR || len(got.Events) != 0 {
		t.Errorf("a stale handle changed the live node's span: %v", got)
	}
	for _, kv := range got.Attributes {
		if s := kv.Value.GetStringValue(); s == "stale" || s == "in" || kv.Key == "gen_ai.request.model" {
			t.Errorf("a stale handle's attribute %s=%v in the live node's span", kv.Key, kv.Value)
		}
	}
	for _, s := range spans {
		if s.Name == "run_node:x:1" || s.Name == "run_node:stale" {
			t.Errorf("a stale handle started or renamed a span: %v", s)
		}
	}
}

// encodingSink encodes every batch with the real encoder while the
// records are live, as otlp.Sink does.
type encodingSink struct {
	enc  *encode.Encoder
	mu   sync.Mutex
	reqs [][]byte
}

func (s *encodingSink) Export(runs []*encode.Run) error {
	b := s.enc.AppendTraces(nil, runs)
	s.mu.Lock()
	s.reqs = append(s.reqs, b)
	s.mu.Unlock()
	return nil
}

func (*encodingSink) ForceFlush(context.Context) error { return nil }
func (*encodingSink) Shutdown(context.Context) error   { return nil }

// spans decodes every request with the official protobuf decoder.
func (s *encodingSink) spans(t *testing.T) []*tracepb.Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*tracepb.Span
	for _, b := range s.reqs {
		req := &coltrace.ExportTraceServiceRequest{}
		if err := proto.Unmarshal(b, req); err != nil {
			t.Fatal(err)
		}
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				out = append(out, ss.Spans...)
			}
		}
	}
	return out
}

// TestStoreRelease checks the publication's store (release_amd64.s, or
// atomic.Uint64.Store under -race and on other architectures): it writes
// the word an atomic load reads, and a goroutine whose load observes a
// value observes the plain writes made before its store, as a node's
// StartNode fields before its publication. Under -race the detector
// checks the edge; without, the assembly runs.
func TestStoreRelease(t *testing.T) {
	var w atomic.Uint64
	for _, v := range []uint64{1, 1<<63 | 5, ^uint64(0), 0} {
		storeRelease(&w, v)
		if got := w.Load(); got != v {
			t.Fatalf("stored %#x, loaded %#x", v, got)
		}
		var i atomic.Int64
		storeReleaseInt64(&i, int64(v))
		if got := i.Load(); got != int64(v) {
			t.Fatalf("stored %d, loaded %d", int64(v), got)
		}
	}
	const rounds = 20000
	var (
		flag    atomic.Uint64
		payload [4]uint64
		done    = make(chan struct{})
	)
	go func() {
		defer close(done)
		for k := uint64(1); k <= rounds; k++ {
			for flag.Load() != 2*k-1 { // the reader took the last payload
				runtime.Gosched()
			}
			for i := range payload {
				payload[i] = k*10 + uint64(i)
			}
			storeRelease(&flag, 2*k)
		}
	}()
	storeRelease(&flag, 1)
	for k := uint64(1); k <= rounds; k++ {
		for flag.Load() != 2*k {
			runtime.Gosched()
		}
		for i, p := range payload {
			if p != k*10+uint64(i) {
				t.Fatalf("round %d: payload[%d] = %d after the store that published it", k, i, p)
			}
		}
		storeRelease(&flag, 2*k+1)
	}
	<-done
}
