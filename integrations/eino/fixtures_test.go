package eino

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/cloudwego/eino/callbacks"
	"github.com/cloudwego/eino/components"
	"github.com/cloudwego/eino/components/model"
	"github.com/cloudwego/eino/components/tool"
	"github.com/cloudwego/eino/schema"
	"go.uber.org/goleak"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// scripted is a real Eino chat model (model.ToolCallingChatModel) with a
// fixed reply, that runs its own callbacks as provider models do: its
// start callback carries its config, its end callback its usage.
type scripted struct {
	name     string
	reply    string
	chunks   int              // pieces of reply when streamed
	toolCall *schema.ToolCall // asked for when no tool result is in the input
	fail     error            // returned instead of a reply
	tools    []*schema.ToolInfo
}

var _ model.ToolCallingChatModel = (*scripted)(nil)

func (m *scripted) GetType() string          { return "Scripted" }
func (m *scripted) IsCallbacksEnabled() bool { return true }

func (m *scripted) WithTools(tools []*schema.ToolInfo) (model.ToolCallingChatModel, error) {
	c := *m
	c.tools = tools
	return &c, nil
}

func (m *scripted) start(ctx context.Context, in []*schema.Message) context.Context {
	ctx = callbacks.EnsureRunInfo(ctx, m.GetType(), components.ComponentOfChatModel)
	return callbacks.OnStart(ctx, &model.CallbackInput{
		Messages: in, Tools: m.tools,
		Config: &model.Config{Model: m.name, Temperature: 0.5, MaxTokens: 256},
	})
}

func (m *scripted) answer(in []*schema.Message) *schema.Message {
	if m.toolCall != nil {
		if last := in[len(in)-1]; last.Role != schema.Tool {
			return &schema.Message{Role: schema.Assistant, ToolCalls: []schema.ToolCall{*m.toolCall},
				ResponseMeta: &schema.ResponseMeta{FinishReason: "tool_calls"}}
		}
	}
	return &schema.Message{Role: schema.Assistant, Content: m.reply, ResponseMeta: &schema.ResponseMeta{FinishReason: "stop"}}
}

func (m *scripted) usage() *model.TokenUsage {
	c := len(strings.Fields(m.reply))
	return &model.TokenUsage{PromptTokens: 10, CompletionTokens: c, TotalTokens: 10 + c}
}

func (m *scripted) Generate(ctx context.Context, in []*schema.Message, _ ...model.Option) (*schema.Message, error) {
	ctx = m.start(ctx, in)
	if err := m.err(ctx); err != nil {
		callbacks.OnError(ctx, err)
		return nil, err
	}
	msg := m.answer(in)
	callbacks.OnEnd(ctx, &model.CallbackOutput{Message: msg, TokenUsage: m.usage()})
	return msg, nil
}

func (m *scripted) err(ctx context.Context) error {
	if m.fail != nil {
		return m.fail
	}
	return ctx.Err()
}

func (m *scripted) Stream(ctx context.Context, in []*schema.Message, _ ...model.Option) (*schema.StreamReader[*schema.Message], error) {
	ctx = m.start(ctx, in)
	if err := m.err(ctx); err != nil {
		callbacks.OnError(ctx, err)
		return nil, err
	}
	msg := m.answer(in)
	pieces := split(msg.Content, max(m.chunks, 1))
	sr, sw := schema.Pipe[*model.CallbackOutput](1)
	go func() {
		defer sw.Close()
		for i, p := range pieces {
			out := &model.CallbackOutput{Message: &schema.Message{Role: schema.Assistant, Content: p}}
			if i == len(pieces)-1 {
				out.Message.ToolCalls = msg.ToolCalls
				out.Message.ResponseMeta = msg.ResponseMeta
				out.TokenUsage = m.usage()
			}
			if sw.Send(out, nil) {
				return
			}
		}
	}()
	_, out := callbacks.OnEndWithStreamOutput(ctx, sr)
	return schema.StreamReaderWithConvert(out, func(o *model.CallbackOutput) (*schema.Message, error) {
		return o.Message, nil
	}), nil
}

// split cuts s into n pieces of about the same length (bytes: the tests
// use ASCII).
func split(s string, n int) []string {
	if n <= 1 || len(s) < n {
		return []string{s}
	}
	var out []string
	size := (len(s) + n - 1) / n
	for len(s) > size {
		out = append(out, s[:size])
		s = s[size:]
	}
	return append(out, s)
}

// weather is a real tool.InvokableTool.
type weather struct{}

func (weather) Info(context.Context) (*schema.ToolInfo, error) {
	return &schema.ToolInfo{Name: "weather", Desc: "the weather in a city"}, nil
}

func (weather) InvokableRun(_ context.Context, args string, _ ...tool.Option) (string, error) {
	if strings.Contains(args, "Atlantis") {
		return "", errors.New("no such city")
	}
	return `{"sky":"clear","celsius":21}`, nil
}

// capture is an engine recording into memory with a handler on it.
type capture struct {
	eng  *engine.Engine
	sink *engine.MemorySink
	h    *Handler
}

func newCapture(t *testing.T, opts ...Option) *capture {
	t.Helper()
	sink := &engine.MemorySink{}
	eng, h := newEngineHandler(t, []engine.Option{engine.WithSink(sink)}, opts...)
	t.Cleanup(func() { _ = eng.Shutdown(context.Background()) })
	return &capture{eng: eng, sink: sink, h: h}
}

// newEngineHandler returns a new engine built with engineOpts and a
// Handler on it built with opts, failing tb on an error. The caller shuts
// the engine down.
func newEngineHandler(tb testing.TB, engineOpts []engine.Option, opts ...Option) (*engine.Engine, *Handler) {
	tb.Helper()
	eng, err := engine.New(engineOpts...)
	if err != nil {
		tb.Fatal(err)
	}
	h, err := NewHandler(eng, opts...)
	if err != nil {
		_ = eng.Shutdown(context.Background())
		tb.Fatal(err)
	}
	return eng, h
}

// drain reads sr to its end, failing t on an error other than io.EOF, and
// closes it.
func drain[T any](t *testing.T, sr *schema.StreamReader[T]) {
	t.Helper()
	defer sr.Close()
	for {
		if _, err := sr.Recv(); err == io.EOF {
			return
		} else {
			must(t, err)
		}
	}
}

// runs waits for the handler's stream readers, flushes the engine and
// returns every run exported.
func (c *capture) runs(t *testing.T) []encode.Run {
	t.Helper()
	c.h.Wait()
	if err := c.eng.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c.sink.Runs()
}

// one returns the only run exported.
func (c *capture) one(t *testing.T) encode.Run {
	t.Helper()
	rs := c.runs(t)
	if len(rs) != 1 {
		t.Fatalf("got %d runs, want 1", len(rs))
	}
	return rs[0]
}

// node returns the node of r with id, failing when there is not exactly one.
func node(t *testing.T, r encode.Run, id string) *encode.Node {
	t.Helper()
	var found *encode.Node
	for _, n := range r.Nodes {
		if n.NodeID == id {
			if found != nil {
				t.Fatalf("node %q twice in the run", id)
			}
			found = n
		}
	}
	if found == nil {
		var ids []string
		for _, n := range r.Nodes {
			ids = append(ids, n.NodeID)
		}
		t.Fatalf("no node %q in the run; nodes: %v", id, ids)
	}
	return found
}

// attr returns the value of key in attrs as a string, and whether it is there.
func attr(attrs []encode.Attr, key string) (encode.Value, bool) {
	for _, a := range attrs {
		if a.Key == key {
			return a.Value, true
		}
	}
	return encode.Value{}, false
}
