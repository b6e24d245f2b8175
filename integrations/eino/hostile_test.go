package eino

import (
	"context"
	"errors"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/cloudwego/eino/callbacks"
	"github.com/cloudwego/eino/components/model"
	"github.com/cloudwego/eino/components/tool"
	"github.com/cloudwego/eino/compose"
	"github.com/cloudwego/eino/schema"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
)

// lineGraph compiles START → nodes... → END of string lambdas.
func lineGraph(t *testing.T, name string, fns ...func(context.Context, string) (string, error)) compose.Runnable[string, string] {
	t.Helper()
	g := compose.NewGraph[string, string]()
	prev := compose.START
	for i, fn := range fns {
		key := string(rune('a' + i))
		must(t, g.AddLambdaNode(key, compose.InvokableLambda(fn)))
		must(t, g.AddEdge(prev, key))
		prev = key
	}
	must(t, g.AddEdge(prev, compose.END))
	r, err := g.Compile(context.Background(), compose.WithGraphName(name))
	must(t, err)
	return r
}

func pass(_ context.Context, s string) (string, error) { return s, nil }

// wantRunsEnded checks that c exported n runs, each with code and every
// node ended (wantAllEnded).
func wantRunsEnded(t *testing.T, c *capture, n int, code int64) {
	t.Helper()
	runs := c.runs(t)
	if len(runs) != n {
		t.Fatalf("got %d runs, want %d", len(runs), n)
	}
	for _, r := range runs {
		if r.Code != code {
			t.Errorf("run %s: code %d, want %d (message %q)", r.FlowID, r.Code, code, r.Message)
		}
		wantAllEnded(t, r)
	}
}

// wantAllEnded fails t when a node of r was left open.
func wantAllEnded(t *testing.T, r encode.Run) {
	t.Helper()
	for _, n := range r.Nodes {
		if n.Incomplete {
			t.Errorf("node %s left open", n.NodeID)
		}
	}
}

// A node that panics: Eino recovers the panic and fails the invocation,
// without the node's end callback. The run still ends at once, failed,
// with the node failed.
func TestPanickingNode(t *testing.T) {
	c := newCapture(t)
	g := lineGraph(t, "panics", pass, func(context.Context, string) (string, error) { panic("the index is gone") }, pass)
	_, err := g.Invoke(WithRunInfo(context.Background(), identity), "x", compose.WithCallbacks(c.h))
	if err == nil {
		t.Fatal("invoke did not fail")
	}
	if testing.Verbose() {
		t.Logf("%T %v", err, err)
	}
	r := c.one(t)
	if r.Code != CodeError {
		t.Errorf("run code %d message %q", r.Code, r.Message)
	}
	b := node(t, r, "b")
	if b.Status != encode.StatusError {
		t.Errorf("b: status %v %q", b.Status, b.StatusMessage)
	}
	wantAllEnded(t, r)
	// The eleventh of twelve nodes, past the ones held in the run's slab.
	fns := make([]func(context.Context, string) (string, error), 12)
	for i := range fns {
		fns[i] = pass
	}
	fns[10] = func(context.Context, string) (string, error) { panic("late") }
	if _, err := lineGraph(t, "panics-late", fns...).Invoke(context.Background(), "x", compose.WithCallbacks(c.h)); err == nil {
		t.Fatal("invoke did not fail")
	}
	rs := c.runs(t)
	if len(rs) != 2 || rs[1].Code != CodeError || len(rs[1].Nodes) != 11 {
		t.Fatalf("%d runs", len(rs))
	}
	if k := node(t, rs[1], "k"); k.Status != encode.StatusError {
		t.Errorf("k: status %v %q", k.Status, k.StatusMessage)
	}
	wantAllEnded(t, rs[1])
}

// A node that panics in a nested graph whose caller, a lambda of the outer
// graph, swallows the error: the inner graph's nodes end with its failure,
// the outer run succeeds and ends at once.
func TestPanicInNestedGraph(t *testing.T) {
	c := newCapture(t)
	inner := lineGraph(t, "inner", pass, func(context.Context, string) (string, error) { panic("inner boom") })
	outer := lineGraph(t, "outer", pass, func(ctx context.Context, s string) (string, error) {
		if _, err := inner.Invoke(ctx, s); err == nil {
			return "", errors.New("inner graph did not fail")
		}
		return "recovered", nil
	})
	out, err := outer.Invoke(WithRunInfo(context.Background(), identity), "x", compose.WithCallbacks(c.h))
	if err != nil || out != "recovered" {
		t.Fatalf("invoke: %q %v", out, err)
	}
	r := c.one(t)
	if r.Code != CodeOK {
		t.Errorf("run code %d message %q", r.Code, r.Message)
	}
	var failed []string
	for _, n := range r.Nodes {
		if n.Status == encode.StatusError {
			failed = append(failed, n.NodeType+":"+n.NodeID)
		}
	}
	sort.Strings(failed)
	// The inner graph ("inner", a flow node below the lambda b) and its
	// node b; the outer b, which recovered, succeeded.
	if got := strings.Join(failed, " "); got != "code:b flow:inner" {
		t.Errorf("failed nodes %q, want code:b flow:inner", got)
	}
	wantAllEnded(t, r)
}

// A node that panics in a streamed invocation, and one of two parallel
// branches that panics while the other is still running: every run ends.
func TestPanicStreamedAndParallel(t *testing.T) {
	c := newCapture(t)
	g := lineGraph(t, "stream-panics", pass, func(context.Context, string) (string, error) { panic("boom") })
	sr, err := g.Stream(WithRunInfo(context.Background(), identity), "x", compose.WithCallbacks(c.h))
	if err == nil {
		for {
			if _, err = sr.Recv(); err != nil {
				break
			}
		}
		sr.Close()
	}
	if err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("stream did not fail: %v", err)
	}
	release := make(chan struct{})
	slow := func(ctx context.Context, s string) (string, error) {
		<-release
		return s, nil
	}
	pg := compose.NewGraph[string, map[string]any]()
	must(t, pg.AddLambdaNode("slow", compose.InvokableLambda(slow), compose.WithOutputKey("slow")))
	must(t, pg.AddLambdaNode("boom", compose.InvokableLambda(func(context.Context, string) (string, error) {
		close(release) // slow runs on while this branch panics
		panic("boom")
	}), compose.WithOutputKey("boom")))
	for _, e := range [][2]string{{compose.START, "slow"}, {compose.START, "boom"}, {"slow", compose.END}, {"boom", compose.END}} {
		must(t, pg.AddEdge(e[0], e[1]))
	}
	pr, err := pg.Compile(context.Background(), compose.WithGraphName("parallel-panics"))
	must(t, err)
	if _, err := pr.Invoke(WithRunInfo(context.Background(), identity), "x", compose.WithCallbacks(c.h)); err == nil {
		t.Error("parallel invoke did not fail")
	}
	wantRunsEnded(t, c, 2, CodeError)
}

// A caller that never reads the graph's stream, or reads one chunk and
// leaves without closing it: the handler's readers end, every run ends
// complete, no goroutine is left (goleak, TestMain).
func TestStreamLeftUnread(t *testing.T) {
	c := newCapture(t)
	g := supportGraph(t, planner(), writer(), nil, nil)
	ctx := WithRunInfo(context.Background(), identity)
	for i := range 2 {
		sr, err := g.Stream(ctx, "What is the weather in Paris?", compose.WithCallbacks(c.h))
		must(t, err)
		if i == 1 {
			if _, err := sr.Recv(); err != nil {
				t.Fatal(err)
			}
		}
		// sr is dropped: neither read to its end nor closed.
	}
	wantRunsEnded(t, c, 2, CodeOK)
}

// A model whose stream fails after two chunks: the model node and the run
// fail with the stream's error; the caller gets it too.
func TestStreamFailsMidway(t *testing.T) {
	c := newCapture(t)
	boom := errors.New("connection reset by model")
	m := &failingStream{scripted: scripted{name: "m-1", reply: "one two three four", chunks: 4}, after: 2, err: boom}
	g := compose.NewGraph[[]*schema.Message, *schema.Message]()
	must(t, g.AddChatModelNode("llm", m))
	must(t, g.AddEdge(compose.START, "llm"))
	must(t, g.AddEdge("llm", compose.END))
	r, err := g.Compile(context.Background(), compose.WithGraphName("fails-midway"))
	must(t, err)
	sr, err := r.Stream(WithRunInfo(context.Background(), identity), []*schema.Message{schema.UserMessage("hi")}, compose.WithCallbacks(c.h))
	must(t, err)
	for {
		if _, err = sr.Recv(); err != nil {
			break
		}
	}
	sr.Close()
	if !errors.Is(err, boom) {
		t.Fatalf("caller got %v", err)
	}
	run := c.one(t)
	if run.Code != CodeError || !strings.Contains(run.Message, boom.Error()) {
		t.Errorf("run code %d message %q", run.Code, run.Message)
	}
	n := node(t, run, "llm")
	if n.Status != encode.StatusError || !strings.Contains(n.StatusMessage, boom.Error()) {
		t.Errorf("llm: status %v %q", n.Status, n.StatusMessage)
	}
	wantAllEnded(t, run)
}

// failingStream is scripted whose stream sends an error after `after` chunks.
type failingStream struct {
	scripted
	after int
	err   error
}

func (m *failingStream) Stream(ctx context.Context, in []*schema.Message, _ ...model.Option) (*schema.StreamReader[*schema.Message], error) {
	ctx = m.start(ctx, in)
	sr, sw := schema.Pipe[*model.CallbackOutput](1)
	go func() {
		defer sw.Close()
		for i, p := range split(m.reply, m.chunks) {
			if i == m.after {
				sw.Send(nil, m.err)
				return
			}
			if sw.Send(&model.CallbackOutput{Message: schema.AssistantMessage(p, nil)}, nil) {
				return
			}
		}
	}()
	_, out := callbacks.OnEndWithStreamOutput(ctx, sr)
	return schema.StreamReaderWithConvert(out, func(o *model.CallbackOutput) (*schema.Message, error) { return o.Message, nil }), nil
}

// Huge values (a tool's 4 MiB arguments and result, a model's 4 MiB reply
// streamed in 64 chunks, a 4 MiB question) are recorded cut to the
// handler's bounds; the caller gets them whole.
func TestHugeValues(t *testing.T) {
	c := newCapture(t, WithMaxValueBytes(100), WithMaxStreamBytes(200))
	huge := strings.Repeat("é", 2<<20) // 4 MiB, two bytes a rune
	m := &scripted{name: "big", reply: huge, chunks: 64}
	g := compose.NewGraph[string, string]()
	must(t, g.AddLambdaNode("echo", compose.InvokableLambda(pass)))
	must(t, g.AddLambdaNode("ask", compose.InvokableLambda(func(_ context.Context, s string) ([]*schema.Message, error) {
		return []*schema.Message{schema.UserMessage(s)}, nil
	})))
	must(t, g.AddChatModelNode("llm", m))
	must(t, g.AddLambdaNode("text", compose.InvokableLambda(func(_ context.Context, msg *schema.Message) (string, error) { return msg.Content, nil })))
	for _, e := range [][2]string{{compose.START, "echo"}, {"echo", "ask"}, {"ask", "llm"}, {"llm", "text"}, {"text", compose.END}} {
		must(t, g.AddEdge(e[0], e[1]))
	}
	r, err := g.Compile(context.Background(), compose.WithGraphName("huge"))
	must(t, err)
	ctx := WithRunInfo(context.Background(), identity)
	sr, err := r.Stream(ctx, huge, compose.WithCallbacks(c.h))
	must(t, err)
	var got strings.Builder
	for {
		s, err := sr.Recv()
		if err != nil {
			break
		}
		got.WriteString(s)
	}
	sr.Close()
	if got.String() != huge {
		t.Fatalf("the caller got %d bytes, want %d", got.Len(), len(huge))
	}
	run := c.one(t)
	wantBounded(t, run, 100, 200)
	// A ToolsNode given a tool call of 4 MiB arguments.
	tr := toolsGraph(ctx, t, "huge-tool", weather{})
	call := schema.ToolCall{ID: "call-1", Function: schema.FunctionCall{Name: "weather", Arguments: huge}}
	_, err = tr.Invoke(ctx, schema.AssistantMessage("", []schema.ToolCall{call}), compose.WithCallbacks(c.h))
	must(t, err)
	rs := c.runs(t)
	wantBounded(t, rs[len(rs)-1], 100, 200)
}

// wantBounded fails t when a string value of r is longer than max (the
// question than maxValue) or not valid UTF-8, or a node was left open.
func wantBounded(t *testing.T, run encode.Run, maxValue, max int) {
	t.Helper()
	if len(run.Question) > maxValue || len(run.Answer) > max {
		t.Errorf("question %d bytes, answer %d", len(run.Question), len(run.Answer))
	}
	for _, n := range run.Nodes {
		for _, group := range [][]encode.Attr{n.Attrs, n.Input, n.Output, n.Config} {
			for _, a := range group {
				if s := a.Value.Str(); len(s) > max || !utf8.ValidString(s) {
					t.Errorf("node %s %s: %d bytes, valid UTF-8 %v", n.NodeID, a.Key, len(s), utf8.ValidString(s))
				}
			}
		}
	}
	wantAllEnded(t, run)
}

// A handler whose engine was shut down: invocations run as before, record
// nothing, leave no goroutine; the engine counts the refused calls.
func TestAfterShutdown(t *testing.T) {
	eng, h := newEngineHandler(t, nil)
	must(t, eng.Shutdown(context.Background()))
	g := supportGraph(t, planner(), writer(), nil, nil)
	ctx := WithRunInfo(context.Background(), identity)
	out, err := g.Invoke(ctx, "What is the weather in Paris?", compose.WithCallbacks(h))
	if err != nil || out == nil || out.Content == "" {
		t.Fatalf("invoke: %v %v", out, err)
	}
	sr, err := g.Stream(ctx, "What is the weather in Paris?", compose.WithCallbacks(h))
	must(t, err)
	drain(t, sr)
	h.Wait()
	if _, ok := RunFromContext(ctx); ok {
		t.Error("a run outside an invocation")
	}
}

// More nodes than the engine's limit per run: the run ends, the nodes past
// the limit are counted as dropped, the handler's holds still balance.
func TestNodeLimit(t *testing.T) {
	sink := &engine.MemorySink{}
	eng, h := newEngineHandler(t, []engine.Option{engine.WithSink(sink), engine.WithLimits(engine.Limits{NodesPerRun: 3})})
	defer eng.Shutdown(context.Background())
	fns := make([]func(context.Context, string) (string, error), 12)
	for i := range fns {
		fns[i] = pass
	}
	g := lineGraph(t, "long", fns...)
	sr, err := g.Stream(WithRunInfo(context.Background(), identity), "x", compose.WithCallbacks(h))
	must(t, err)
	drain(t, sr)
	h.Wait()
	must(t, eng.ForceFlush(context.Background()))
	runs := sink.Runs()
	if len(runs) != 1 || runs[0].Code != CodeOK || len(runs[0].Nodes) != 3 {
		t.Fatalf("runs %d", len(runs))
	}
	if d := eng.Stats().Dropped; d != 9 {
		t.Errorf("dropped %d, want 9", d)
	}
}

// Concurrent invocations of one compiled graph, streamed, some cancelled
// mid-stream, some left unread, some panicking: every run ends.
func TestConcurrentHostile(t *testing.T) {
	c := newCapture(t)
	var calls atomic.Int64
	g := lineGraph(t, "mixed", pass, func(ctx context.Context, s string) (string, error) {
		if calls.Add(1)%5 == 0 {
			panic("every fifth")
		}
		return s, nil
	}, pass)
	const workers, each = 4, 10
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				ctx, cancel := context.WithCancel(WithRunInfo(context.Background(), identity))
				sr, err := g.Stream(ctx, "x", compose.WithCallbacks(c.h))
				if err == nil {
					switch (w + i) % 3 {
					case 0:
						for {
							if _, err := sr.Recv(); err != nil {
								break
							}
						}
						sr.Close()
					case 1:
						cancel()
						sr.Close()
					}
				}
				cancel()
			}
		})
	}
	wg.Wait()
	runs := c.runs(t)
	if len(runs) != workers*each {
		t.Fatalf("got %d runs, want %d", len(runs), workers*each)
	}
	for _, r := range runs {
		wantAllEnded(t, r)
	}
}

// The engine shut down while a streamed invocation is being read: the
// handler's readers finish against the stopped engine without a panic and
// end; the caller reads the whole reply.
func TestShutdownMidStream(t *testing.T) {
	eng, h := newEngineHandler(t, nil)
	g := supportGraph(t, planner(), writer(), nil, nil)
	sr, err := g.Stream(WithRunInfo(context.Background(), identity), "What is the weather in Paris?", compose.WithCallbacks(h))
	must(t, err)
	first, err := sr.Recv()
	must(t, err)
	must(t, eng.Shutdown(context.Background()))
	text := first.Content
	for {
		m, err := sr.Recv()
		if err != nil {
			break
		}
		text += m.Content
	}
	sr.Close()
	h.Wait()
	if want := writer().reply; text != want {
		t.Errorf("the caller read %q, want %q", text, want)
	}
}

// panicky is a tool that panics.
type panicky struct{}

func (panicky) Info(context.Context) (*schema.ToolInfo, error) {
	return &schema.ToolInfo{Name: "panicky", Desc: "panics"}, nil
}

func (panicky) InvokableRun(context.Context, string, ...tool.Option) (string, error) {
	panic("tool boom")
}

// A tool that panics inside a ToolsNode, and a node that panics inside a
// graph added as a node of another: every run ends at once, failed.
func TestPanicBelowANode(t *testing.T) {
	c := newCapture(t)
	ctx := WithRunInfo(context.Background(), identity)
	tr := toolsGraph(ctx, t, "tool-panics", panicky{})
	call := schema.ToolCall{ID: "call-1", Function: schema.FunctionCall{Name: "panicky", Arguments: "{}"}}
	if _, err := tr.Invoke(ctx, schema.AssistantMessage("", []schema.ToolCall{call}), compose.WithCallbacks(c.h)); err == nil {
		t.Error("tool graph did not fail")
	}
	inner := compose.NewGraph[string, string]()
	must(t, inner.AddLambdaNode("boom", compose.InvokableLambda(func(context.Context, string) (string, error) { panic("inner") })))
	must(t, inner.AddEdge(compose.START, "boom"))
	must(t, inner.AddEdge("boom", compose.END))
	outer := compose.NewGraph[string, string]()
	must(t, outer.AddGraphNode("sub", inner))
	must(t, outer.AddEdge(compose.START, "sub"))
	must(t, outer.AddEdge("sub", compose.END))
	or, err := outer.Compile(ctx, compose.WithGraphName("subgraph-panics"))
	must(t, err)
	if _, err := or.Invoke(ctx, "x", compose.WithCallbacks(c.h)); err == nil {
		t.Error("outer graph did not fail")
	}
	wantRunsEnded(t, c, 2, CodeError)
}

// toolsGraph compiles a graph named name of one ToolsNode with tl: an
// assistant message's tool calls in, the tools' messages out.
func toolsGraph(ctx context.Context, t *testing.T, name string, tl tool.BaseTool) compose.Runnable[*schema.Message, []*schema.Message] {
	t.Helper()
	tools, err := compose.NewToolNode(ctx, &compose.ToolsNodeConfig{Tools: []tool.BaseTool{tl}})
	must(t, err)
	g := compose.NewGraph[*schema.Message, []*schema.Message]()
	must(t, g.AddToolsNode("tools", tools))
	must(t, g.AddEdge(compose.START, "tools"))
	must(t, g.AddEdge("tools", compose.END))
	r, err := g.Compile(ctx, compose.WithGraphName(name))
	must(t, err)
	return r
}
