package main

import (
	"context"
	"strings"
	"time"

	"github.com/cloudwego/eino/callbacks"
	"github.com/cloudwego/eino/components"
	"github.com/cloudwego/eino/components/model"
	"github.com/cloudwego/eino/schema"
)

// scriptedModel is a deterministic chat model: a real implementation of
// Eino's model.ToolCallingChatModel that needs no network. It answers from
// a script, asks for the weather tool when the question is about the
// weather and no tool result is in the conversation yet, and streams its
// reply in chunks of a few words: the first after firstChunk (a model's
// time to first token), the others every perChunk. Like provider models it
// runs its own callbacks, so that its start carries its config and its end
// its token usage.
type scriptedModel struct {
	name       string
	firstChunk time.Duration
	perChunk   time.Duration
	tools      []*schema.ToolInfo
}

var _ model.ToolCallingChatModel = (*scriptedModel)(nil)

func (m *scriptedModel) GetType() string          { return "Scripted" }
func (m *scriptedModel) IsCallbacksEnabled() bool { return true }

func (m *scriptedModel) WithTools(tools []*schema.ToolInfo) (model.ToolCallingChatModel, error) {
	c := *m
	c.tools = tools
	return &c, nil
}

// reply is the scripted answer to msgs.
func (m *scriptedModel) reply(msgs []*schema.Message) *schema.Message {
	last := msgs[len(msgs)-1]
	if last.Role == schema.Tool {
		return &schema.Message{Role: schema.Assistant, Content: "Here is what I found: " + last.Content +
			". Pack light clothes and sunglasses; the evening may be cooler, so take a jacket too.",
			ResponseMeta: &schema.ResponseMeta{FinishReason: "stop"}}
	}
	q := ""
	for _, msg := range msgs {
		if msg.Role == schema.User {
			q = msg.Content
		}
	}
	if len(m.tools) > 0 && strings.Contains(strings.ToLower(q), "weather") {
		city := "Paris"
		if i := strings.LastIndex(q, " in "); i >= 0 {
			city = strings.Trim(q[i+4:], "?!. ")
		}
		return &schema.Message{Role: schema.Assistant,
			ToolCalls: []schema.ToolCall{{ID: "call_" + city, Type: "function",
				Function: schema.FunctionCall{Name: "weather", Arguments: `{"city":"` + city + `"}`}}},
			ResponseMeta: &schema.ResponseMeta{FinishReason: "tool_calls"}}
	}
	return &schema.Message{Role: schema.Assistant, Content: "I am a scripted assistant: I can tell you the weather " +
		"of any city, plan a trip with you, and answer questions about your bookings. Ask me about the weather in a city.",
		ResponseMeta: &schema.ResponseMeta{FinishReason: "stop"}}
}

func (m *scriptedModel) usage(msgs []*schema.Message, out *schema.Message) *model.TokenUsage {
	in := 0
	for _, msg := range msgs {
		in += len(strings.Fields(msg.Content)) + 4
	}
	o := len(strings.Fields(out.Content)) + 8*len(out.ToolCalls)
	return &model.TokenUsage{PromptTokens: in, CompletionTokens: o, TotalTokens: in + o}
}

func (m *scriptedModel) start(ctx context.Context, msgs []*schema.Message) context.Context {
	ctx = callbacks.EnsureRunInfo(ctx, m.GetType(), components.ComponentOfChatModel)
	return callbacks.OnStart(ctx, &model.CallbackInput{Messages: msgs, Tools: m.tools,
		Config: &model.Config{Model: m.name, Temperature: 0.3, MaxTokens: 512}})
}

// Generate answers at once, after the time the whole stream would take.
func (m *scriptedModel) Generate(ctx context.Context, msgs []*schema.Message, _ ...model.Option) (*schema.Message, error) {
	ctx = m.start(ctx, msgs)
	out := m.reply(msgs)
	if err := sleep(ctx, m.firstChunk+time.Duration(len(chunks(out.Content))-1)*m.perChunk); err != nil {
		callbacks.OnError(ctx, err)
		return nil, err
	}
	callbacks.OnEnd(ctx, &model.CallbackOutput{Message: out, TokenUsage: m.usage(msgs, out)})
	return out, nil
}

// Stream streams the reply in chunks of four words; the last chunk
// carries the tool calls, the finish reason and the usage.
func (m *scriptedModel) Stream(ctx context.Context, msgs []*schema.Message, _ ...model.Option) (*schema.StreamReader[*schema.Message], error) {
	ctx = m.start(ctx, msgs)
	out := m.reply(msgs)
	parts := chunks(out.Content)
	sr, sw := schema.Pipe[*model.CallbackOutput](1)
	go func() {
		defer sw.Close()
		for i, p := range parts {
			wait := m.perChunk
			if i == 0 {
				wait = m.firstChunk
			}
			if err := sleep(ctx, wait); err != nil {
				sw.Send(nil, err)
				return
			}
			o := &model.CallbackOutput{Message: &schema.Message{Role: schema.Assistant, Content: p}}
			if i == len(parts)-1 {
				o.Message.ToolCalls = out.ToolCalls
				o.Message.ResponseMeta = out.ResponseMeta
				o.TokenUsage = m.usage(msgs, out)
			}
			if sw.Send(o, nil) {
				return // the reader closed the stream
			}
		}
	}()
	_, cbOut := callbacks.OnEndWithStreamOutput(ctx, sr)
	return schema.StreamReaderWithConvert(cbOut, func(o *model.CallbackOutput) (*schema.Message, error) {
		return o.Message, nil
	}), nil
}

// chunks cuts s into pieces of four words (one empty piece for "").
func chunks(s string) []string {
	words := strings.SplitAfter(s, " ")
	var out []string
	for len(words) > 4 {
		out = append(out, strings.Join(words[:4], ""))
		words = words[4:]
	}
	return append(out, strings.Join(words, ""))
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
