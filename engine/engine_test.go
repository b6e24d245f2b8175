package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/ringbuf"
	"github.com/valyala/bytebufferpool"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newTestEngine(t testing.TB, opts ...Option) (*Engine, *MemorySink) {
	t.Helper()
	sink := &MemorySink{}
	e, err := New(append([]Option{WithSink(sink), WithBatch(64, 5*time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	return e, sink
}

func flush(t testing.TB, e *Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
}

func checkIdentity(t testing.TB, s Stats) {
	t.Helper()
	if s.Accepted != s.Exported+s.Dropped+s.SampledOut+s.InFlight {
		t.Fatalf("accounting: accepted %d != exported %d + dropped %d + sampled out %d + in flight %d",
			s.Accepted, s.Exported, s.Dropped, s.SampledOut, s.InFlight)
	}
}

// checkDrained checks the accounting of an engine that Shutdown has
// drained: it reconciles, and nothing is left in flight.
func checkDrained(t testing.TB, what string, s Stats) {
	t.Helper()
	checkIdentity(t, s)
	if s.InFlight != 0 {
		t.Fatalf("%s: %d spans in flight after Shutdown: %+v", what, s.InFlight, s)
	}
}

func TestRunLifecycle(t *testing.T) {
	e, sink := newTestEngine(t)
	run := e.StartRun(RunInfo{SID: "sid1", FlowID: "flow", AppID: "app", UID: "u", ChatID: "c", Question: "q?"})
	start := run.StartNode("node-start:1", "start", "Start")
	start.Input(String("query", "hello"))
	start.Next("llm:1")
	start.End()
	llm := run.StartNode("llm:1", "llm", "LLM")
	llm.Config(String("model", "m"), Float64("temperature", 0.5))
	llm.FirstFrame()
	llm.Usage(Usage{QuestionTokens: 1, PromptTokens: 10, CompletionTokens: 20, TotalTokens: 30})
	llm.LLMOutput("hi")
	llm.Info("called model")
	llm.Output(Int64("tokens", 20), Bool("cached", false), Bytes("raw", []byte{1, 2, 3}))
	llm.End()
	msg := run.StartNode("message:1", "message", "Msg")
	msg.Usage(Usage{PromptTokens: 5, CompletionTokens: 5, TotalTokens: 10})
	msg.Error("warn")
	msg.End()
	run.Answer("answer")
	run.Srv("k", "v")
	run.End(0, "success")
	run.End(1, "again") // idempotent
	flush(t, e)

	runs := sink.Runs()
	if len(runs) != 1 {
		t.Fatalf("got %d runs, want 1", len(runs))
	}
	r := runs[0]
	if r.SID != "sid1" || r.Answer != "answer" || r.Code != 0 || r.Message != "success" {
		t.Errorf("run fields: %+v", r)
	}
	want := Usage{QuestionTokens: 1, PromptTokens: 15, CompletionTokens: 25, TotalTokens: 40}
	if r.Usage != want {
		t.Errorf("usage %+v, want %+v (summed once)", r.Usage, want)
	}
	if len(r.Nodes) != 3 || r.Nodes[0].NodeID != "node-start:1" || r.Nodes[1].NodeID != "llm:1" || r.Nodes[2].NodeID != "message:1" {
		t.Fatalf("nodes out of order: %v", r.Nodes)
	}
	n := r.Nodes[1]
	if len(n.Config) != 2 || len(n.Output) != 3 || n.LLMOutput != "hi" || n.FirstFrameUnixNano == 0 || len(n.Events) != 1 {
		t.Errorf("llm node: %+v", n)
	}
	if b := n.Output[2].Value.Bytes(); string(b) != "\x01\x02\x03" {
		t.Errorf("bytes value %v", b)
	}
	if r.Nodes[0].Next[0] != "llm:1" {
		t.Errorf("next %v", r.Nodes[0].Next)
	}
	if ff, ok := r.FirstFrameMillis(); !ok || ff != r.Nodes[2].StartUnixNano/1e6-r.StartUnixNano/1e6 {
		t.Errorf("run first frame should be the message node's start")
	}
	for _, n := range r.Nodes {
		if n.StartUnixNano < r.StartUnixNano || n.EndUnixNano < n.StartUnixNano || n.EndUnixNano > r.EndUnixNano {
			t.Errorf("node %s times out of the run: %d..%d in %d..%d", n.NodeID, n.StartUnixNano, n.EndUnixNano, r.StartUnixNano, r.EndUnixNano)
		}
		if n.Incomplete {
			t.Errorf("node %s incomplete", n.NodeID)
		}
	}
	s := e.Stats()
	checkIdentity(t, s)
	if s.Exported != 4 || s.InFlight != 0 || s.StaleCalls != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestRecordErrorEndsNode(t *testing.T) {
	e, sink := newTestEngine(t)
	run := e.StartRun(RunInfo{})
	n := run.StartNode("code:1", "code", "Code")
	n.RecordError(fmt.Errorf("boom: %w", errors.ErrUnsupported))
	n.Info("after") // no-op
	n.End()         // no-op
	run.End(500, "failed")
	flush(t, e)
	r := sink.Runs()[0]
	node := r.Nodes[0]
	if node.Running() || node.Status != encode.StatusError || node.StatusMessage != "boom: unsupported operation" {
		t.Errorf("node %+v", node)
	}
	if len(node.Events) != 1 || node.Events[0].Kind != encode.EventException || node.Events[0].Type != "*fmt.wrapError" {
		t.Errorf("events %+v", node.Events)
	}
	if r.Status != encode.StatusError || r.StatusMessage != "failed" {
		t.Errorf("run status %v %q", r.Status, r.StatusMessage)
	}
	if s := e.Stats(); s.StaleCalls != 2 {
		t.Errorf("stale calls %d, want 2", s.StaleCalls)
	}
}

func TestOpenNodeClosedByRun(t *testing.T) {
	e, sink := newTestEngine(t)
	run := e.StartRun(RunInfo{})
	run.StartNode("llm:1", "llm", "never ended")
	run.End(0, "")
	flush(t, e)
	n := sink.Runs()[0].Nodes[0]
	if !n.Incomplete || n.Status != encode.StatusError || n.StatusMessage != msgNodeOpen {
		t.Errorf("node %+v", n)
	}
	if s := e.Stats(); s.NodesIncomplete != 1 {
		t.Errorf("nodes incomplete %d", s.NodesIncomplete)
	}
}

func TestIdleRunClosed(t *testing.T) {
	e, sink := newTestEngine(t, WithIdleTimeout(20*time.Millisecond))
	run := e.StartRun(RunInfo{FlowID: "idle"})
	run.StartNode("llm:1", "llm", "x")
	deadline := time.Now().Add(10 * time.Second)
	for len(sink.Runs()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	runs := sink.Runs()
	if len(runs) != 1 || !runs[0].Incomplete || runs[0].StatusMessage != msgRunIdle {
		t.Fatalf("runs %+v", runs)
	}
	run.End(0, "late") // stale
	s := e.Stats()
	if s.RunsTimedOut != 1 || s.StaleCalls != 1 || s.InFlight != 0 {
		t.Errorf("stats %+v", s)
	}
	checkIdentity(t, s)
}

func TestShutdownClosesOpenRuns(t *testing.T) {
	sink := &MemorySink{}
	e, err := New(WithSink(sink))
	if err != nil {
		t.Fatal(err)
	}
	run := e.StartRun(RunInfo{})
	run.StartNode("a:1", "a", "a")
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal("second shutdown:", err)
	}
	if r := e.StartRun(RunInfo{}); r.IsRecording() {
		t.Fatal("run started after shutdown")
	}
	if err := e.ForceFlush(context.Background()); !errors.Is(err, ErrShutdown) {
		t.Fatalf("flush after shutdown: %v", err)
	}
	s := e.Stats()
	checkIdentity(t, s)
	if s.InFlight != 0 || s.Exported != 2 || s.Drops(DropShutdown) != 1 || len(sink.Runs()) != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestLimits(t *testing.T) {
	e, sink := newTestEngine(t, WithLimits(Limits{NodesPerRun: 2, Attrs: 3, Events: 1, ValueBytes: 4, RunsInFlight: 2}))
	run := e.StartRun(RunInfo{Question: "héllo"})
	n := run.StartNode("a:1", "a", "a")
	n.Input(String("a", "1"), String("b", "22222222"), String("c", "3"), String("d", "4"))
	n.Info("x")
	n.Info("y")
	n.End()
	run.StartNode("b:1", "b", "b").End()
	if run.StartNode("c:1", "c", "c").IsRecording() {
		t.Error("third node accepted past NodesPerRun=2")
	}
	r2 := e.StartRun(RunInfo{})
	refused := e.StartRun(RunInfo{})
	if refused.IsRecording() {
		t.Error("third run accepted past RunsInFlight=2")
	}
	refused.StartNode("x:1", "x", "x").End() // a span lost with its run: counted
	refused.End(0, "")
	r2.End(0, "")
	run.End(0, "")
	flush(t, e)
	got := sink.Runs()
	var r encode.Run
	for _, x := range got {
		if len(x.Nodes) > 0 {
			r = x
		}
	}
	if r.Question != "hél" { // cut at a UTF-8 boundary
		t.Errorf("question %q", r.Question)
	}
	node := r.Nodes[0]
	if len(node.Input) != 3 || node.DroppedAttrs != 1 || node.Input[1].Value.Str() != "2222" || node.DroppedEvents != 1 || r.DroppedNodes != 1 {
		t.Errorf("node %+v", node)
	}
	s := e.Stats()
	checkIdentity(t, s)
	if s.Drops(DropNodeLimit) != 1 || s.Drops(DropRunLimit) != 2 || s.AttrsDropped != 1 || s.EventsDropped != 1 || s.ValuesTruncated != 2 {
		t.Errorf("stats %+v", s)
	}
}

func TestSinkErrorCounted(t *testing.T) {
	var mu sync.Mutex
	var errs []error
	sink := &MemorySink{Err: errors.New("down")}
	e, err := New(WithSink(sink), WithErrorHandler(func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	e.StartRun(RunInfo{}).End(0, "")
	flush(t, e)
	s := e.Stats()
	checkIdentity(t, s)
	mu.Lock()
	defer mu.Unlock()
	if s.Drops(DropSink) != 1 || len(errs) != 1 || !strings.Contains(errs[0].Error(), "down") {
		t.Errorf("stats %+v errs %v", s, errs)
	}
}

func TestStaleHandleAfterReuse(t *testing.T) {
	e, sink := newTestEngine(t, WithLimits(Limits{RunsInFlight: 1}))
	old := e.StartRun(RunInfo{FlowID: "old"})
	oldNode := old.StartNode("a:1", "a", "a")
	oldNode.End()
	old.End(0, "")
	flush(t, e)
	// The only record is now reused by the new run.
	cur := e.StartRun(RunInfo{FlowID: "new"})
	old.Answer("written through a stale handle")
	old.StartNode("x:1", "x", "x").End()
	oldNode.Input(String("k", "v"))
	cur.End(0, "")
	flush(t, e)
	runs := sink.Runs()
	if len(runs) != 2 || runs[1].FlowID != "new" || runs[1].Answer != "" || len(runs[1].Nodes) != 0 {
		t.Fatalf("stale handle wrote into a reused record: %+v", runs[1])
	}
	if s := e.Stats(); s.StaleCalls != 3 {
		t.Errorf("stale calls %d, want 3", s.StaleCalls)
	}
}

func TestOptionsValidated(t *testing.T) {
	cases := []struct {
		opt  Option
		want error
	}{
		{WithRingCapacity(1000), ErrCapacityNotPowerOfTwo},
		{WithShards(-1), ErrInvalidShards},
		{WithShards(ringbuf.MaxShards + 1), ErrInvalidShards},
		{WithRingCapacity(min(1<<31, math.MaxInt)), ErrCapacityRange}, // 1<<31 overflows int on 386
		{WithBatch(0, time.Second), ErrInvalidBatch},
		{WithBatch(10, 0), ErrInvalidBatch},
		{WithOverflow(Block, 0), ErrBlockTimeout},
		{WithOverflow(Block, math.MaxInt64), ErrBlockTimeout},
		{WithOverflow(Policy(9), 0), ErrInvalidPolicy},
		{WithLimits(Limits{Attrs: -1}), ErrInvalidLimit},
		{WithIdleTimeout(-time.Second), ErrInvalidIdleTimeout},
	}
	for _, c := range cases {
		if _, err := New(c.opt); !errors.Is(err, c.want) {
			t.Errorf("got %v, want %v", err, c.want)
		}
	}
}

// TestConcurrentAccounting runs many producers with parallel nodes through
// a small ring and checks that every span is exported or counted.
func TestConcurrentAccounting(t *testing.T) {
	for _, p := range []Policy{DropNewest, DropOldest, Block} {
		t.Run(fmt.Sprint(p), func(t *testing.T) {
			sink := &MemorySink{}
			e, err := New(WithSink(sink), WithRingCapacity(8), WithShards(2), WithOverflow(p, time.Millisecond), WithLimits(Limits{RunsInFlight: 4096}))
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for g := 0; g < 8; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 300; i++ {
						run := e.StartRun(RunInfo{FlowID: "f"})
						var nwg sync.WaitGroup
						for k := 0; k < 3; k++ {
							nwg.Add(1)
							go func() {
								defer nwg.Done()
								n := run.StartNode("n:1", "n", "n")
								n.Input(Int("i", i))
								n.End()
							}()
						}
						nwg.Wait()
						run.End(0, "")
					}
				}()
			}
			wg.Wait()
			if err := e.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			s := e.Stats()
			checkIdentity(t, s)
			if s.InFlight != 0 || s.Accepted != 8*300*4 {
				t.Fatalf("stats %+v", s)
			}
			var spans uint64
			for _, r := range sink.Runs() {
				spans += uint64(1 + len(r.Nodes))
			}
			if spans != s.Exported {
				t.Fatalf("sink got %d spans, stats say %d exported", spans, s.Exported)
			}
		})
	}
}

func TestRecordErrorStackTrace(t *testing.T) {
	e, sink := newTestEngine(t, WithStackTraces(true))
	run := e.StartRun(RunInfo{})
	run.StartNode("code:1", "code", "Code").RecordError(errors.New("boom"))
	run.End(1, "failed")
	flush(t, e)
	ev := sink.Runs()[0].Nodes[0].Events[0]
	if ev.Kind != encode.EventException || !strings.Contains(ev.Stacktrace, "TestRecordErrorStackTrace") {
		t.Fatalf("exception event without the caller's stack: %+v", ev)
	}
}

// TestAttrsLimitAcrossKinds checks that Limits.Attrs counts a node's
// attributes of every kind together, whatever their order: next ids and
// events' attributes, which lie outside the record's pool, and the lists,
// whose first call takes add's common case only while the pool's count
// bounds them all.
func TestAttrsLimitAcrossKinds(t *testing.T) {
	e, sink := newTestEngine(t, WithLimits(Limits{Attrs: 6}))
	run := e.StartRun(RunInfo{})
	n := run.StartNode("a:1", "a", "a")
	n.Next("b:1", "c:1")
	n.InfoEvent(Int("e", 1))
	n.Input(Int("i1", 1), Int("i2", 2))
	n.Output(Int("o1", 1), Int("o2", 2)) // one over
	n.Config(Int("c1", 1))               // over
	n.End()
	m := run.StartNode("b:1", "b", "b")
	m.Input(Int("i1", 1), Int("i2", 2), Int("i3", 3))
	m.Output(Int("o1", 1))
	m.Next("c:1")
	m.InfoEvent(Int("e", 1))
	m.Config(Int("c1", 1), Int("c2", 2)) // both over
	m.End()
	run.End(0, "")
	flush(t, e)
	got := sink.Runs()[0].Nodes
	a, b := got[0], got[1]
	if len(a.Next) != 2 || len(a.Events[0].Attrs) != 1 || len(a.Input) != 2 || len(a.Output) != 1 || len(a.Config) != 0 || a.DroppedAttrs != 2 {
		t.Errorf("first node: next %d, event attributes %d, input %d, output %d, config %d, dropped %d: want 2, 1, 2, 1, 0, 2",
			len(a.Next), len(a.Events[0].Attrs), len(a.Input), len(a.Output), len(a.Config), a.DroppedAttrs)
	}
	if len(b.Input) != 3 || len(b.Output) != 1 || len(b.Next) != 1 || len(b.Events[0].Attrs) != 1 || len(b.Config) != 0 || b.DroppedAttrs != 2 {
		t.Errorf("second node: input %d, output %d, next %d, event attributes %d, config %d, dropped %d: want 3, 1, 1, 1, 0, 2",
			len(b.Input), len(b.Output), len(b.Next), len(b.Events[0].Attrs), len(b.Config), b.DroppedAttrs)
	}
	if s := e.Stats(); s.AttrsDropped != 4 {
		t.Errorf("AttrsDropped %d, want 4", s.AttrsDropped)
	}
}

// discardMetrics is a MetricsExporter that drops what it is given.
type discardMetrics struct{}

func (discardMetrics) ExportMetrics(req *bytebufferpool.ByteBuffer, _ int) { encode.PutBuffer(req) }
func (discardMetrics) AppendMetrics(dst []encode.Metric, _ MetricsWindow) []encode.Metric {
	return dst
}

// TestNewRefusedLeavesNoGoroutine: New started the metrics goroutine (an
// engine with a MetricsExporter: every otlp.New) before it validated the
// tail sampling policy, and returned the error with the goroutine still
// running: each refused New (TailPolicy{Ratio: 2}, a rule's bad field,
// the pairs New refuses) leaked it. The policy is checked first.
func TestNewRefusedLeavesNoGoroutine(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, opts := range [][]Option{
		{WithTailSampling(TailPolicy{Ratio: 2})},
		{WithTailSampling(TailPolicy{Rules: []TailRule{{FlowID: "f", Policy: TailPolicy{SlowerThan: -1}}}})},
		{WithTailSampling(TailPolicy{SlowestFraction: 0.1}), WithMetrics(MetricsConfig{SkipRunRequests: true})},
		{WithTailSampling(TailPolicy{Ratio: 0.5, RunLogAlways: true}), WithSink(spansOnlySink{})},
	} {
		e, err := New(append(opts, WithMetricsExporter(discardMetrics{}))...)
		if err == nil {
			e.Shutdown(t.Context())
			t.Fatalf("New(%d options) took a policy it refuses", len(opts))
		}
	}
}
