package eino

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/cloudwego/eino/components/model"
	"github.com/cloudwego/eino/components/retriever"
	"github.com/cloudwego/eino/compose"
	"github.com/cloudwego/eino/schema"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/testkit"
)

// plainModel runs no callbacks of its own: Eino's graph calls the handler
// for it with the model's own input and output types, and its usage comes
// from the message's ResponseMeta.
type plainModel struct{ reply string }

func (m plainModel) msg(content string, last bool) *schema.Message {
	msg := &schema.Message{Role: schema.Assistant, Content: content}
	if last {
		msg.ResponseMeta = &schema.ResponseMeta{FinishReason: "length",
			Usage: &schema.TokenUsage{PromptTokens: 7, CompletionTokens: 5}}
	}
	return msg
}

func (m plainModel) Generate(ctx context.Context, in []*schema.Message, _ ...model.Option) (*schema.Message, error) {
	return m.msg(m.reply, true), nil
}

func (m plainModel) Stream(ctx context.Context, in []*schema.Message, _ ...model.Option) (*schema.StreamReader[*schema.Message], error) {
	parts := split(m.reply, 4)
	msgs := make([]*schema.Message, len(parts))
	for i, p := range parts {
		msgs[i] = m.msg(p, i == len(parts)-1)
	}
	return schema.StreamReaderFromArray(msgs), nil
}

// docs is a retriever.
type docs struct{}

func (docs) Retrieve(ctx context.Context, q string, _ ...retriever.Option) ([]*schema.Document, error) {
	return []*schema.Document{{Content: "a"}, {Content: "b"}, {Content: "c"}}, nil
}

// ragChain is retriever → prompt → a model without callbacks of its own.
func ragChain(t *testing.T, reply string) compose.Runnable[string, *schema.Message] {
	t.Helper()
	ch := compose.NewChain[string, *schema.Message]().
		AppendRetriever(docs{}, compose.WithNodeKey("docs")).
		AppendLambda(compose.InvokableLambda(func(ctx context.Context, d []*schema.Document) ([]*schema.Message, error) {
			return []*schema.Message{schema.UserMessage(d[0].Content)}, nil
		}), compose.WithNodeKey("prompt")).
		AppendChatModel(plainModel{reply: reply}, compose.WithNodeKey("model"))
	r, err := ch.Compile(context.Background(), compose.WithGraphName("rag"))
	must(t, err)
	return r
}

func TestRetrieverAndPlainModel(t *testing.T) {
	for _, stream := range []bool{false, true} {
		c := newCapture(t)
		r := ragChain(t, "abcdefghijklmnop")
		if stream {
			sr, err := r.Stream(context.Background(), "find", compose.WithCallbacks(c.h))
			must(t, err)
			drain(t, sr)
		} else {
			_, err := r.Invoke(context.Background(), "find", compose.WithCallbacks(c.h))
			must(t, err)
		}
		run := c.one(t)
		d := node(t, run, "docs")
		if d.NodeType != TypeKnowledge {
			t.Errorf("docs: type %q", d.NodeType)
		}
		wantAttr(t, d.Attrs, KeyOperation, "retrieval")
		if v, ok := attr(d.Output, KeyDocuments); !ok || v.Int64() != 3 {
			t.Errorf("docs: documents %d", v.Int64())
		}
		if !stream {
			wantAttr(t, d.Input, KeyQuery, "find")
		}
		m := node(t, run, "model")
		if m.NodeType != TypeLLM || m.LLMOutput != "abcdefghijklmnop" {
			t.Errorf("model (stream %v): %q %q", stream, m.NodeType, m.LLMOutput)
		}
		if _, ok := attr(m.Attrs, KeyRequestModel); ok {
			t.Errorf("a model that reports no config has a model name")
		}
		wantAttr(t, m.Attrs, KeyFinishReason, "length")
		// The total is computed when the model gives none.
		if m.Usage != (encode.Usage{PromptTokens: 7, CompletionTokens: 5, TotalTokens: 12}) || run.Usage.TotalTokens != 12 {
			t.Errorf("model usage %+v, run %+v", m.Usage, run.Usage)
		}
		if stream {
			if v, _ := attr(m.Output, KeyChunks); v.Int64() != 4 || m.FirstFrameUnixNano == 0 {
				t.Errorf("model stream: chunks %d first frame %d", v.Int64(), m.FirstFrameUnixNano)
			}
		}
	}
}

// The text a stream gathers is bounded by WithMaxStreamBytes.
func TestStreamBound(t *testing.T) {
	c := newCapture(t, WithMaxStreamBytes(10))
	r := ragChain(t, strings.Repeat("é", 20)) // 40 bytes in 4 chunks of 10
	sr, err := r.Stream(context.Background(), "find", compose.WithCallbacks(c.h))
	must(t, err)
	var got strings.Builder
	for {
		m, err := sr.Recv()
		if err != nil {
			break
		}
		got.WriteString(m.Content)
	}
	sr.Close()
	if got.String() != strings.Repeat("é", 20) {
		t.Fatalf("the caller's stream lost data: %q", got.String())
	}
	run := c.one(t)
	if m := node(t, run, "model"); m.LLMOutput != strings.Repeat("é", 5) {
		t.Errorf("llm_output %q, want 10 bytes", m.LLMOutput)
	}
	if run.Answer != strings.Repeat("é", 5) {
		t.Errorf("answer %q", run.Answer)
	}
}

// streamText keeps a one-chunk stream's text as it is and gathers more
// chunks in one buffer.
func TestStreamText(t *testing.T) {
	var one streamText
	one.add("whole answer", 64)
	if one.string() != "whole answer" || one.len() != 12 || one.buf.Cap() != 0 {
		t.Errorf("one chunk: %q (len %d, buffer %d)", one.string(), one.len(), one.buf.Cap())
	}
	var more streamText
	for _, p := range []string{"a", "bc", "def"} {
		more.add(p, 64)
	}
	if more.string() != "abcdef" || more.len() != 6 {
		t.Errorf("three chunks: %q (len %d)", more.string(), more.len())
	}
	testkit.WantAllocs(t, 0, func() {
		var s streamText
		s.add("only", 64)
		_ = s.string()
	})
}

func TestNewHandlerRefuses(t *testing.T) {
	if _, err := NewHandler(nil); !errors.Is(err, ErrNoEngine) {
		t.Errorf("nil engine: %v", err)
	}
	c := newCapture(t)
	for _, o := range []Option{WithMaxValueBytes(-1), WithMaxStreamBytes(-5)} {
		if _, err := NewHandler(c.eng, o); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("negative size: %v", err)
		}
	}
}

// A context kept from an invocation that has ended starts a run of its own.
func TestContextOutlivesRun(t *testing.T) {
	c := newCapture(t)
	var kept context.Context
	g := compose.NewGraph[string, string]()
	must(t, g.AddLambdaNode("keep", compose.InvokableLambda(func(ctx context.Context, in string) (string, error) {
		kept = ctx
		return in, nil
	})))
	must(t, g.AddEdge(compose.START, "keep"))
	must(t, g.AddEdge("keep", compose.END))
	r, err := g.Compile(context.Background(), compose.WithGraphName("first"))
	must(t, err)
	_, err = r.Invoke(context.Background(), "a", compose.WithCallbacks(c.h))
	must(t, err)
	// Later, with the kept context: a second run, not a node of the first.
	_, err = r.Invoke(kept, "b", compose.WithCallbacks(c.h))
	must(t, err)
	runs := c.runs(t)
	if len(runs) != 2 {
		t.Fatalf("got %d runs, want 2", len(runs))
	}
	for _, run := range runs {
		if len(run.Nodes) != 1 || run.Code != CodeOK {
			t.Errorf("run %q: %d nodes, code %d", run.Question, len(run.Nodes), run.Code)
		}
	}
	if s := c.eng.Stats(); s.StaleCalls != 0 {
		t.Errorf("stale calls %d", s.StaleCalls)
	}
}

// A graph invoked by hand inside a node, with the handler in its options
// again (Eino then calls it twice per callback: once from the context,
// once from the options): every node recorded once.
func TestHandlerTwiceOnACallback(t *testing.T) {
	c := newCapture(t)
	inner := compose.NewGraph[string, string]()
	must(t, inner.AddLambdaNode("inner", compose.InvokableLambda(func(ctx context.Context, in string) (string, error) { return in + "!", nil })))
	must(t, inner.AddEdge(compose.START, "inner"))
	must(t, inner.AddEdge("inner", compose.END))
	ir, err := inner.Compile(context.Background(), compose.WithGraphName("inner-graph"))
	must(t, err)
	outer := compose.NewGraph[string, string]()
	must(t, outer.AddLambdaNode("call", compose.InvokableLambda(func(ctx context.Context, in string) (string, error) {
		return ir.Invoke(ctx, in, compose.WithCallbacks(c.h))
	})))
	must(t, outer.AddEdge(compose.START, "call"))
	must(t, outer.AddEdge("call", compose.END))
	or, err := outer.Compile(context.Background(), compose.WithGraphName("outer-graph"))
	must(t, err)
	out, err := or.Invoke(context.Background(), "x", compose.WithCallbacks(c.h))
	must(t, err)
	if out != "x!" {
		t.Fatalf("out %q", out)
	}
	run := c.one(t)
	var ids []string
	for _, n := range run.Nodes {
		ids = append(ids, n.NodeType+":"+n.NodeID)
	}
	// The graph invoked by hand is named by its runnable address segment,
	// its graph name.
	sort.Strings(ids)
	if got := strings.Join(ids, " "); got != "code:call code:inner flow:inner-graph" {
		t.Errorf("nodes %s, want code:call code:inner flow:inner-graph", got)
	}
	if s := c.eng.Stats(); s.StaleCalls != 0 {
		t.Errorf("stale calls %d", s.StaleCalls)
	}
}
