package eino

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudwego/eino/callbacks"
	"github.com/cloudwego/eino/components/tool"
	"github.com/cloudwego/eino/compose"
	"github.com/cloudwego/eino/schema"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
)

// barrier lets n parallel nodes through only once all n have arrived: a
// graph whose parallel nodes ran one after the other would never pass it.
type barrier struct {
	mu      sync.Mutex
	n, seen int
	open    chan struct{}
}

func newBarrier(n int) *barrier { return &barrier{n: n, open: make(chan struct{})} }

func (b *barrier) arrive(ctx context.Context) error {
	b.mu.Lock()
	b.seen++
	if b.seen == b.n {
		close(b.open)
	}
	b.mu.Unlock()
	select {
	case <-b.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(30 * time.Second): // a deadlock guard, not a timing assertion
		return errors.New("parallel nodes did not run at once")
	}
}

// supportGraph is the graph the tests run: a classifier, two parallel
// lookups (their outputs merged), a prompt, a chat model that asks for a
// tool, a branch on its reply (tools, or the end), a ToolsNode and a nested
// sub-graph that writes the answer with a second model.
//
//	START → classify → {retrieve ∥ profile} → prompt → llm ─branch─→ tools → summarize{format → writer} → END
//	                                                          └────────────→ END
func supportGraph(t *testing.T, planner, writer *scripted, par *barrier, fail error) compose.Runnable[string, *schema.Message] {
	t.Helper()
	ctx := context.Background()
	lookup := func(key, val string) *compose.Lambda {
		return compose.InvokableLambda(func(ctx context.Context, q string) (string, error) {
			if par != nil {
				if err := par.arrive(ctx); err != nil {
					return "", err
				}
			}
			if fail != nil && key == "retrieve" {
				return "", fail
			}
			return val, nil
		})
	}
	sub := compose.NewGraph[[]*schema.Message, *schema.Message]()
	must(t, sub.AddLambdaNode("format", compose.InvokableLambda(func(ctx context.Context, in []*schema.Message) ([]*schema.Message, error) {
		return append([]*schema.Message{schema.SystemMessage("summarize the tool results")}, in...), nil
	})))
	must(t, sub.AddChatModelNode("writer", writer))
	must(t, sub.AddEdge(compose.START, "format"))
	must(t, sub.AddEdge("format", "writer"))
	must(t, sub.AddEdge("writer", compose.END))

	tools, err := compose.NewToolNode(ctx, &compose.ToolsNodeConfig{Tools: []tool.BaseTool{weather{}}})
	must(t, err)

	g := compose.NewGraph[string, *schema.Message]()
	must(t, g.AddLambdaNode("classify", compose.InvokableLambda(func(ctx context.Context, q string) (string, error) {
		return strings.ToLower(q), nil
	}), compose.WithNodeName("Classify")))
	must(t, g.AddLambdaNode("retrieve", lookup("retrieve", "doc: weather API"), compose.WithOutputKey("docs")))
	must(t, g.AddLambdaNode("profile", lookup("profile", "user: in Paris"), compose.WithOutputKey("profile")))
	must(t, g.AddLambdaNode("prompt", compose.InvokableLambda(func(ctx context.Context, in map[string]any) ([]*schema.Message, error) {
		return []*schema.Message{schema.SystemMessage(in["docs"].(string) + "; " + in["profile"].(string)), schema.UserMessage("weather?")}, nil
	})))
	must(t, g.AddChatModelNode("llm", planner))
	must(t, g.AddToolsNode("tools", tools))
	must(t, g.AddGraphNode("summarize", sub))
	must(t, g.AddEdge(compose.START, "classify"))
	must(t, g.AddEdge("classify", "retrieve"))
	must(t, g.AddEdge("classify", "profile"))
	must(t, g.AddEdge("retrieve", "prompt"))
	must(t, g.AddEdge("profile", "prompt"))
	must(t, g.AddEdge("prompt", "llm"))
	must(t, g.AddBranch("llm", compose.NewGraphBranch(func(ctx context.Context, m *schema.Message) (string, error) {
		if len(m.ToolCalls) > 0 {
			return "tools", nil
		}
		return compose.END, nil
	}, map[string]bool{"tools": true, compose.END: true})))
	must(t, g.AddEdge("tools", "summarize"))
	must(t, g.AddEdge("summarize", compose.END))
	r, err := g.Compile(ctx, compose.WithGraphName("support"))
	must(t, err)
	return r
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func planner() *scripted {
	return &scripted{name: "planner-1", reply: "no tool needed", chunks: 3,
		toolCall: &schema.ToolCall{ID: "call_1", Function: schema.FunctionCall{Name: "weather", Arguments: `{"city":"Paris"}`}}}
}

func writer() *scripted {
	return &scripted{name: "writer-1", reply: "It is clear and 21 degrees in Paris today.", chunks: 5}
}

var identity = engine.RunInfo{AppID: "app-7", UID: "u-42", ChatID: "chat-9", Sub: "eino"}

// wantSupportRun checks the run of supportGraph that took the tool path.
func wantSupportRun(t *testing.T, r encode.Run, parallel, streamed bool) {
	t.Helper()
	if r.FlowID != "support" || r.AppID != "app-7" || r.UID != "u-42" || r.ChatID != "chat-9" {
		t.Errorf("run identity: flow %q app %q uid %q chat %q", r.FlowID, r.AppID, r.UID, r.ChatID)
	}
	// A streamed invocation's input is a stream the handler does not read.
	if want := "What is the weather in Paris?"; !streamed && r.Question != want || streamed && r.Question != "" {
		t.Errorf("question %q", r.Question)
	}
	if r.Code != CodeOK || r.Status == encode.StatusError || r.Incomplete {
		t.Errorf("run code %d status %v incomplete %v (%s)", r.Code, r.Status, r.Incomplete, r.Message)
	}
	types := map[string]string{
		"classify": TypeCode, "retrieve": TypeCode, "profile": TypeCode, "prompt": TypeCode,
		"llm": TypeLLM, "tools": TypeTools, "weather": TypeTool, "summarize": TypeFlow,
		"format": TypeCode, "writer": TypeLLM,
	}
	if len(r.Nodes) != len(types) {
		var ids []string
		for _, n := range r.Nodes {
			ids = append(ids, n.NodeID)
		}
		t.Errorf("got %d nodes %v, want %d", len(r.Nodes), ids, len(types))
	}
	for id, typ := range types {
		n := node(t, r, id)
		if n.NodeType != typ {
			t.Errorf("node %s: type %q, want %q", id, n.NodeType, typ)
		}
		if n.Status == encode.StatusError || n.Incomplete || n.EndUnixNano < n.StartUnixNano {
			t.Errorf("node %s: status %v incomplete %v", id, n.Status, n.Incomplete)
		}
		// The tool runs below its ToolsNode, the nested graph's nodes below
		// its flow node, the others below the run.
		want := encode.SpanID{}
		switch id {
		case "weather":
			want = node(t, r, "tools").SpanID
		case "format", "writer":
			want = node(t, r, "summarize").SpanID
		}
		if n.ParentSpanID != want {
			t.Errorf("node %s: parent span %x, want %x", id, n.ParentSpanID, want)
		}
		if n.StartUnixNano < r.StartUnixNano || n.EndUnixNano > r.EndUnixNano {
			t.Errorf("node %s [%d, %d] outside its run [%d, %d]", id, n.StartUnixNano, n.EndUnixNano, r.StartUnixNano, r.EndUnixNano)
		}
	}
	if n := node(t, r, "classify"); n.NodeName != "Classify" {
		t.Errorf("classify: name %q, want the node name", n.NodeName)
	}
	// The parallel lookups overlapped (when a barrier made sure of it).
	ret, pro := node(t, r, "retrieve"), node(t, r, "profile")
	if parallel && (ret.StartUnixNano > pro.EndUnixNano || pro.StartUnixNano > ret.EndUnixNano) {
		t.Errorf("retrieve and profile did not overlap")
	}
	// The nested graph's nodes ran inside its flow node. (A streamed node
	// ends when its own reader sees the end of its stream: the writer's
	// reader and the sub-graph's read copies of one stream, in goroutines
	// of their own, so either may see the end first.)
	sum := node(t, r, "summarize")
	for _, id := range []string{"format", "writer"} {
		if n := node(t, r, id); n.StartUnixNano < sum.StartUnixNano || !streamed && n.EndUnixNano > sum.EndUnixNano {
			t.Errorf("%s is outside its sub-graph's node", id)
		}
	}

	llm := node(t, r, "llm")
	wantAttr(t, llm.Attrs, KeyRequestModel, "planner-1")
	wantAttr(t, llm.Config, KeyModel, "planner-1")
	wantAttr(t, llm.Attrs, KeyOperation, "chat")
	wantAttr(t, llm.Config, KeyComponentType, "Scripted")
	wantAttr(t, llm.Attrs, KeyFinishReason, "tool_calls")
	wantAttr(t, llm.Input, KeyQuery, "weather?")
	if v, ok := attr(llm.Attrs, KeyMaxTokens); !ok || v.Int64() != 256 {
		t.Errorf("llm max tokens %v", v.Int64())
	}
	if !llm.HasUsage || llm.Usage != (encode.Usage{PromptTokens: 10, CompletionTokens: 3, TotalTokens: 13}) {
		t.Errorf("llm usage %+v (has %v)", llm.Usage, llm.HasUsage)
	}
	w := node(t, r, "writer")
	if w.LLMOutput != writer().reply {
		t.Errorf("writer llm_output %q", w.LLMOutput)
	}
	if !w.HasUsage || w.Usage.TotalTokens != 19 {
		t.Errorf("writer usage %+v", w.Usage)
	}
	// Usage rolled up once: the two models' sums.
	if r.Usage != (encode.Usage{PromptTokens: 20, CompletionTokens: 12, TotalTokens: 32}) {
		t.Errorf("run usage %+v", r.Usage)
	}

	tl := node(t, r, "weather")
	wantAttr(t, tl.Attrs, KeyToolName, "weather")
	wantAttr(t, tl.Attrs, KeyToolCallID, "call_1")
	wantAttr(t, tl.Attrs, KeyOperation, "execute_tool")
	wantAttr(t, tl.Input, KeyToolArgs, `{"city":"Paris"}`)
	wantAttr(t, tl.Output, KeyToolResult, `{"sky":"clear","celsius":21}`)
	tn := node(t, r, "tools")
	if tl.StartUnixNano < tn.StartUnixNano || tl.EndUnixNano > tn.EndUnixNano {
		t.Errorf("the tool call is outside its ToolsNode")
	}
}

func wantAttr(t *testing.T, attrs []encode.Attr, key, want string) {
	t.Helper()
	v, ok := attr(attrs, key)
	if !ok {
		t.Errorf("no attribute %q in %v", key, attrs)
		return
	}
	if v.Str() != want {
		t.Errorf("%s = %q, want %q", key, v.Str(), want)
	}
}

func TestGraphInvoke(t *testing.T) {
	c := newCapture(t)
	g := supportGraph(t, planner(), writer(), newBarrier(2), nil)
	ctx := WithRunInfo(context.Background(), identity)
	out, err := g.Invoke(ctx, "What is the weather in Paris?", compose.WithCallbacks(c.h))
	must(t, err)
	r := c.one(t)
	wantSupportRun(t, r, true, false)
	if r.Answer != out.Content {
		t.Errorf("answer %q, want %q", r.Answer, out.Content)
	}
	for _, n := range r.Nodes {
		if n.FirstFrameUnixNano != 0 {
			t.Errorf("node %s has a first frame in an invocation that streamed nothing", n.NodeID)
		}
	}
}

func TestGraphStream(t *testing.T) {
	c := newCapture(t)
	g := supportGraph(t, planner(), writer(), newBarrier(2), nil)
	ctx := WithRunInfo(context.Background(), identity)
	sr, err := g.Stream(ctx, "What is the weather in Paris?", compose.WithCallbacks(c.h))
	must(t, err)
	var got strings.Builder
	chunks := 0
	for {
		m, err := sr.Recv()
		if err == io.EOF {
			break
		}
		must(t, err)
		got.WriteString(m.Content)
		chunks++
	}
	sr.Close()
	if got.String() != writer().reply || chunks != 5 {
		t.Fatalf("streamed %q in %d chunks", got.String(), chunks)
	}
	r := c.one(t)
	wantSupportRun(t, r, true, true)
	if r.Answer != writer().reply {
		t.Errorf("answer %q", r.Answer)
	}
	w := node(t, r, "writer")
	if w.FirstFrameUnixNano == 0 || w.FirstFrameUnixNano < w.StartUnixNano || w.FirstFrameUnixNano > w.EndUnixNano {
		t.Errorf("writer first frame %d not within [%d, %d]", w.FirstFrameUnixNano, w.StartUnixNano, w.EndUnixNano)
	}
	if v, ok := attr(w.Output, KeyChunks); !ok || v.Int64() != 5 {
		t.Errorf("writer chunks %d", v.Int64())
	}
	if _, ok := attr(w.Output, KeyTimePerChunk); !ok {
		t.Errorf("writer has no %s", KeyTimePerChunk)
	}
	if _, ok := attr(w.Attrs, KeyFirstChunk); !ok {
		t.Errorf("writer has no %s", KeyFirstChunk)
	}
	wantAttr(t, w.Attrs, KeyFinishReason, "stop")
	// Every chunk of the models' streams went to the engine (Node.Chunk):
	// the GenAI metrics have the writer's 4 gaps between its 5 chunks.
	const perChunk = `gen_ai_client_operation_time_per_output_chunk_seconds_count{gen_ai_operation_name="chat",gen_ai_request_model="writer-1"} 4`
	if text := string(c.eng.AppendPrometheus(nil)); !strings.Contains(text, perChunk) {
		t.Errorf("/metrics lacks %q:\n%s", perChunk, text)
	}
}

// A graph invoked with a context already cancelled when its node runs.
func TestCancelled(t *testing.T) {
	c := newCapture(t)
	ctx, cancel := context.WithCancel(WithRunInfo(context.Background(), identity))
	defer cancel()
	g := compose.NewGraph[string, string]()
	must(t, g.AddLambdaNode("first", compose.InvokableLambda(func(ctx context.Context, in string) (string, error) { return in, nil })))
	must(t, g.AddLambdaNode("wait", compose.InvokableLambda(func(ctx context.Context, in string) (string, error) {
		cancel() // the caller gives up while this node works
		<-ctx.Done()
		return "", ctx.Err()
	})))
	must(t, g.AddEdge(compose.START, "first"))
	must(t, g.AddEdge("first", "wait"))
	must(t, g.AddEdge("wait", compose.END))
	r, err := g.Compile(context.Background(), compose.WithGraphName("cancel"))
	must(t, err)
	if _, err := r.Invoke(ctx, "x", compose.WithCallbacks(c.h)); !errors.Is(err, context.Canceled) {
		t.Fatalf("invoke: %v", err)
	}
	run := c.one(t)
	if run.Code != CodeCancelled || run.Message != "cancelled: context canceled" {
		t.Errorf("run code %d message %q", run.Code, run.Message)
	}
	w := node(t, run, "wait")
	if w.Status != encode.StatusError || w.StatusMessage != "context canceled" || !w.Cancelled || w.Running() || w.Incomplete {
		t.Errorf("wait: status %v %q cancelled %v running %v incomplete %v", w.Status, w.StatusMessage, w.Cancelled, w.Running(), w.Incomplete)
	}
	if f := node(t, run, "first"); f.Status == encode.StatusError || f.Cancelled {
		t.Errorf("first failed")
	}
	// The node metrics count it apart from failures.
	text := string(c.eng.AppendPrometheus(nil))
	for _, want := range []string{
		`flowtel_node_executions_total{node_type="code",status="cancelled"} 1`,
		`flowtel_node_executions_total{node_type="code",status="ok"} 1`,
		`func="cancel",ret="499"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// A streamed invocation cancelled while its model streams: the model node
// and the run are cancelled, nothing is left open.
func TestCancelledStream(t *testing.T) {
	c := newCapture(t)
	ctx, cancel := context.WithCancel(WithRunInfo(context.Background(), identity))
	defer cancel()
	g := supportGraph(t, planner(), writer(), nil, nil)
	sr, err := g.Stream(ctx, "What is the weather in Paris?", compose.WithCallbacks(c.h))
	must(t, err)
	if _, err := sr.Recv(); err != nil { // the writer's first chunk
		t.Fatal(err)
	}
	cancel()
	sr.Close() // the caller leaves
	run := c.one(t)
	for _, n := range run.Nodes {
		if n.Incomplete {
			t.Errorf("node %s left open", n.NodeID)
		}
	}
	if run.FirstFrameUnixNano == 0 {
		t.Errorf("the run has no first frame: the caller read a chunk")
	}
}

func TestFailingNode(t *testing.T) {
	c := newCapture(t)
	boom := errors.New("index unavailable")
	g := supportGraph(t, planner(), writer(), nil, boom)
	_, err := g.Invoke(WithRunInfo(context.Background(), identity), "What is the weather in Paris?", compose.WithCallbacks(c.h))
	if !errors.Is(err, boom) {
		t.Fatalf("invoke: %v", err)
	}
	r := c.one(t)
	if r.Code != CodeError || !strings.Contains(r.Message, "index unavailable") {
		t.Errorf("run code %d message %q", r.Code, r.Message)
	}
	n := node(t, r, "retrieve")
	if n.Status != encode.StatusError || n.StatusMessage != "index unavailable" || n.Running() {
		t.Errorf("retrieve: status %v %q running %v", n.Status, n.StatusMessage, n.Running())
	}
	for _, id := range []string{"llm", "tools", "summarize"} {
		for _, n := range r.Nodes {
			if n.NodeID == id {
				t.Errorf("node %s ran after the failure", id)
			}
		}
	}
	for _, n := range r.Nodes {
		if n.Incomplete {
			t.Errorf("node %s left open", n.NodeID)
		}
	}
}

// A tool that fails inside a streaming model's graph: the model streams,
// the tool fails, the run fails; every node is ended.
func TestFailingTool(t *testing.T) {
	c := newCapture(t)
	p := planner()
	p.toolCall.Function.Arguments = `{"city":"Atlantis"}`
	g := supportGraph(t, p, writer(), nil, nil)
	sr, err := g.Stream(WithRunInfo(context.Background(), identity), "q", compose.WithCallbacks(c.h))
	if err == nil {
		for {
			if _, err = sr.Recv(); err != nil {
				break
			}
		}
		sr.Close()
	}
	if err == nil || err == io.EOF || !strings.Contains(err.Error(), "no such city") {
		t.Fatalf("stream: %v", err)
	}
	r := c.one(t)
	if r.Code != CodeError {
		t.Errorf("run code %d", r.Code)
	}
	w := node(t, r, "weather")
	if w.Status != encode.StatusError || w.StatusMessage != "no such city" {
		t.Errorf("weather: %v %q", w.Status, w.StatusMessage)
	}
	for _, n := range r.Nodes {
		if n.Incomplete {
			t.Errorf("node %s left open", n.NodeID)
		}
	}
	if l := node(t, r, "llm"); l.FirstFrameUnixNano == 0 || l.Status == encode.StatusError {
		t.Errorf("llm: first frame %d status %v", l.FirstFrameUnixNano, l.Status)
	}
}

func TestChainParallelBranch(t *testing.T) {
	c := newCapture(t)
	upper := compose.InvokableLambda(func(ctx context.Context, s string) (string, error) { return strings.ToUpper(s), nil })
	count := compose.InvokableLambda(func(ctx context.Context, s string) (int, error) { return len(s), nil })
	par := compose.NewParallel().
		AddLambda("upper", upper, compose.WithNodeKey("upper")).
		AddLambda("count", count, compose.WithNodeKey("count"))
	branch := compose.NewChainBranch(func(ctx context.Context, m map[string]any) (string, error) {
		if m["count"].(int) > 3 {
			return "long", nil
		}
		return "short", nil
	}).
		AddLambda("long", compose.InvokableLambda(func(ctx context.Context, m map[string]any) (string, error) { return "long " + m["upper"].(string), nil }), compose.WithNodeKey("long")).
		AddLambda("short", compose.InvokableLambda(func(ctx context.Context, m map[string]any) (string, error) { return "short", nil }), compose.WithNodeKey("short"))
	merge := compose.InvokableLambda(func(ctx context.Context, m map[string]any) (map[string]any, error) { return m, nil })
	ch := compose.NewChain[string, string]().AppendParallel(par).AppendLambda(merge, compose.WithNodeKey("merge")).AppendBranch(branch)
	r, err := ch.Compile(context.Background())
	must(t, err)
	out, err := r.Invoke(context.Background(), "hello", compose.WithCallbacks(c.h))
	must(t, err)
	if out != "long HELLO" {
		t.Fatalf("out %q", out)
	}
	run := c.one(t)
	if run.FlowID != "Chain" || run.Question != "hello" || run.Answer != "long HELLO" || run.Code != 0 {
		t.Errorf("run flow %q question %q answer %q code %d", run.FlowID, run.Question, run.Answer, run.Code)
	}
	for _, id := range []string{"upper", "count", "merge", "long"} {
		if n := node(t, run, id); n.NodeType != TypeCode || n.Status == encode.StatusError {
			t.Errorf("%s: %q %v", id, n.NodeType, n.Status)
		}
	}
	for _, n := range run.Nodes {
		if n.NodeID == "short" {
			t.Errorf("the branch not taken ran")
		}
	}
	wantAttr(t, node(t, run, "upper").Input, KeyInput, "hello")
	wantAttr(t, node(t, run, "upper").Output, KeyOutput, "HELLO")
}

func TestWorkflow(t *testing.T) {
	c := newCapture(t)
	type in struct{ Q string }
	wf := compose.NewWorkflow[in, *schema.Message]()
	wf.AddLambdaNode("ask", compose.InvokableLambda(func(ctx context.Context, q string) ([]*schema.Message, error) {
		return []*schema.Message{schema.UserMessage(q)}, nil
	})).AddInput(compose.START, compose.FromField("Q"))
	wf.AddChatModelNode("model", writer()).AddInput("ask")
	wf.End().AddInput("model")
	r, err := wf.Compile(context.Background(), compose.WithGraphName("wf"))
	must(t, err)
	_, err = r.Invoke(WithRunInfo(context.Background(), engine.RunInfo{FlowID: "flow-1", AppID: "a"}), in{Q: "hi"}, compose.WithCallbacks(c.h))
	must(t, err)
	run := c.one(t)
	if run.FlowID != "flow-1" || run.AppID != "a" {
		t.Errorf("run flow %q app %q: WithRunInfo's flow id wins over the graph name", run.FlowID, run.AppID)
	}
	if m := node(t, run, "model"); m.NodeType != TypeLLM || m.LLMOutput != writer().reply {
		t.Errorf("model: %q %q", m.NodeType, m.LLMOutput)
	}
	wantAttr(t, node(t, run, "ask").Input, KeyInput, "hi")
}

// A component invoked on its own, outside any graph, is a run of one node.
func TestLoneComponent(t *testing.T) {
	c := newCapture(t)
	m := writer()
	ictx := callbacks.InitCallbacks(context.Background(), nil, c.h)
	msg, err := m.Generate(ictx, []*schema.Message{schema.UserMessage("hi")})
	must(t, err)
	run := c.one(t)
	if run.FlowID != "Scripted" || len(run.Nodes) != 1 || run.Code != 0 {
		t.Fatalf("run %q nodes %d code %d", run.FlowID, len(run.Nodes), run.Code)
	}
	if n := run.Nodes[0]; n.NodeType != TypeLLM || n.LLMOutput != msg.Content || !n.HasUsage {
		t.Errorf("node %+v", n)
	}
	if run.Usage.TotalTokens != 19 {
		t.Errorf("run usage %+v", run.Usage)
	}
}

// Many invocations at once, each with parallel nodes and streams: every
// run complete, every node ended (run with -race).
func TestConcurrentRuns(t *testing.T) {
	c := newCapture(t)
	g := supportGraph(t, planner(), writer(), nil, nil)
	const workers, each = 4, 10
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range each {
				ctx := WithRunInfo(context.Background(), identity)
				if i%2 == 0 {
					if _, err := g.Invoke(ctx, "What is the weather in Paris?", compose.WithCallbacks(c.h)); err != nil {
						t.Error(err)
					}
					continue
				}
				sr, err := g.Stream(ctx, "What is the weather in Paris?", compose.WithCallbacks(c.h))
				if err != nil {
					t.Error(err)
					continue
				}
				for {
					if _, err := sr.Recv(); err != nil {
						break
					}
				}
				sr.Close()
			}
		})
	}
	wg.Wait()
	runs := c.runs(t)
	if len(runs) != workers*each {
		t.Fatalf("got %d runs, want %d", len(runs), workers*each)
	}
	for _, r := range runs {
		wantSupportRun(t, r, false, r.Question == "")
	}
	if s := c.eng.Stats(); s.StaleCalls != 0 || s.Dropped != 0 {
		t.Errorf("stats: stale calls %d dropped %d", s.StaleCalls, s.Dropped)
	}
}

// The engine's metrics and the run trace log of a traced invocation.
func TestMetricsAndRunLog(t *testing.T) {
	c := newCapture(t)
	g := supportGraph(t, planner(), writer(), nil, nil)
	ctx := WithRunInfo(context.Background(), identity)
	for i := 0; i < 3; i++ {
		_, err := g.Invoke(ctx, "What is the weather in Paris?", compose.WithCallbacks(c.h))
		must(t, err)
	}
	runs := c.runs(t)
	text := string(c.eng.AppendPrometheus(nil))
	for _, want := range []string{
		`app_id="app-7",func="support",ret="0"} 3`,
		`flowtel_node_executions_total{node_type="llm",status="ok"} 6`,
		`flowtel_node_executions_total{node_type="tool",status="ok"} 3`,
		`flowtel_node_executions_total{node_type="code",status="ok"} 15`,
		`flowtel_node_executions_total{node_type="flow",status="ok"} 3`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	var bn []string
	for _, b := range c.eng.Bottlenecks() {
		bn = append(bn, b.NodeType)
	}
	if len(bn) == 0 {
		t.Errorf("no bottlenecks")
	}

	var log struct {
		FlowID string `json:"flow_id"`
		AppID  string `json:"app_id"`
		Status struct {
			Code int `json:"code"`
		} `json:"status"`
		Usage struct {
			Total int `json:"total_tokens"`
		} `json:"usage"`
		Trace []struct {
			NodeID   string `json:"node_id"`
			NodeType string `json:"node_type"`
			LLM      string `json:"llm_output"`
			Running  bool   `json:"running_status"`
			Data     struct {
				Config map[string]any `json:"config"`
				Usage  map[string]int `json:"usage"`
			} `json:"data"`
		} `json:"trace"`
	}
	r := runs[0]
	if err := json.Unmarshal(encode.AppendRunLog(nil, &r), &log); err != nil {
		t.Fatal(err)
	}
	if log.FlowID != "support" || log.AppID != "app-7" || log.Status.Code != 0 || log.Usage.Total != 32 || len(log.Trace) != 10 {
		t.Errorf("run log: flow %q app %q code %d usage %d nodes %d", log.FlowID, log.AppID, log.Status.Code, log.Usage.Total, len(log.Trace))
	}
	for _, n := range log.Trace {
		if !n.Running {
			t.Errorf("run log: node %s not running_status", n.NodeID)
		}
		if n.NodeID == "llm" && (n.Data.Config[KeyModel] != "planner-1" || n.Data.Usage["total_tokens"] != 13) {
			t.Errorf("run log llm: config %v usage %v", n.Data.Config, n.Data.Usage)
		}
		if n.NodeID == "writer" && n.LLM != writer().reply {
			t.Errorf("run log writer llm_output %q", n.LLM)
		}
	}
}

func TestBound(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"hello", 10, "hello"}, {"hello", 3, "hel"}, {"hello", 0, ""},
		{"héllo", 2, "h"}, {"héllo", 3, "hé"}, {"日本", 4, "日"},
	} {
		if got := bound(tc.in, tc.max); got != tc.want {
			t.Errorf("bound(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
	c := newCapture(t, WithMaxValueBytes(4))
	g := supportGraph(t, planner(), writer(), nil, nil)
	_, err := g.Invoke(context.Background(), "What is the weather in Paris?", compose.WithCallbacks(c.h))
	must(t, err)
	r := c.one(t)
	wantAttr(t, node(t, r, "weather").Input, KeyToolArgs, `{"ci`)
	if r.Question != "What" {
		t.Errorf("question %q", r.Question)
	}
}

// Two handlers on one invocation (say, two engines) each trace all of it;
// a node's code reaches its node through the context.
func TestTwoHandlersAndNodeFromContext(t *testing.T) {
	c1, c2 := newCapture(t), newCapture(t)
	g := compose.NewGraph[string, string]()
	must(t, g.AddLambdaNode("work", compose.InvokableLambda(func(ctx context.Context, in string) (string, error) {
		n, ok := NodeFromContext(ctx)
		if !ok {
			return "", errors.New("no node in the context")
		}
		n.Info("working on " + in)
		if _, ok := RunFromContext(ctx); !ok {
			return "", errors.New("no run in the context")
		}
		return in, nil
	})))
	must(t, g.AddEdge(compose.START, "work"))
	must(t, g.AddEdge("work", compose.END))
	r, err := g.Compile(context.Background(), compose.WithGraphName("two"))
	must(t, err)
	_, err = r.Invoke(context.Background(), "x", compose.WithCallbacks(c1.h, c2.h))
	must(t, err)
	for i, c := range []*capture{c1, c2} {
		run := c.one(t)
		if len(run.Nodes) != 1 || run.Nodes[0].NodeID != "work" || run.FlowID != "two" {
			t.Errorf("handler %d: run %q with %d nodes", i, run.FlowID, len(run.Nodes))
		}
	}
	if ev := c1.one(t).Nodes[0].Events; len(ev) != 1 && len(c2.one(t).Nodes[0].Events) != 1 {
		t.Errorf("the node's log went nowhere")
	}
	if _, ok := NodeFromContext(context.Background()); ok {
		t.Errorf("a node outside any invocation")
	}
}
