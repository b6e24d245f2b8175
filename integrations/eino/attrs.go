package eino

import (
	"context"
	"unicode/utf8"

	"github.com/cloudwego/eino/callbacks"
	"github.com/cloudwego/eino/components/model"
	"github.com/cloudwego/eino/components/retriever"
	"github.com/cloudwego/eino/components/tool"
	"github.com/cloudwego/eino/compose"
	"github.com/cloudwego/eino/schema"

	"github.com/flowtel/flowtel/engine"
)

// Span attribute keys of the OpenTelemetry GenAI semantic conventions
// (v1.41.0), written as they are with Node.SetAttributes: on the node's
// span, not in the run trace log.
const (
	KeyOperation    = "gen_ai.operation.name"               // "chat", "execute_tool", "retrieval"
	KeyRequestModel = "gen_ai.request.model"                // llm
	KeyTemperature  = "gen_ai.request.temperature"          // llm
	KeyTopP         = "gen_ai.request.top_p"                // llm
	KeyMaxTokens    = "gen_ai.request.max_tokens"           // llm
	KeyFinishReason = "gen_ai.response.finish_reasons"      // llm: the last one given
	KeyFirstChunk   = "gen_ai.response.time_to_first_chunk" // llm, streamed: seconds from the model's start
	KeyToolName     = "gen_ai.tool.name"                    // tool
	KeyToolCallID   = "gen_ai.tool.call.id"                 // tool
)

// Node data keys: the run trace log's data.input, data.output and
// data.config, which the engine also writes on the span under "input.",
// "output." and "config.".
const (
	KeyModel         = "model"          // config: the model's name
	KeyComponentType = "eino.type"      // config: RunInfo.Type, the component's implementation
	KeyQuery         = "query"          // input: the last message, or the retriever's query
	KeyMessages      = "messages"       // input: messages sent to the model
	KeyToolArgs      = "arguments"      // input: a tool's arguments (JSON)
	KeyToolResult    = "result"         // output: a tool's result
	KeyTopK          = "top_k"          // config: the retriever's
	KeyDocuments     = "documents"      // output: documents retrieved
	KeyChunks        = "chunks"         // output: chunks streamed
	KeyTimePerChunk  = "time_per_chunk" // output, seconds: (last - first) / (chunks - 1)
	KeyInput         = "input"          // input: a string input
	KeyOutput        = "output"         // output: a string output (a model's goes to llm_output)
)

// attrs gathers a few attributes on the stack, so that each of the
// engine's Config, Input and Output is called once per callback: every call
// claims the node's record.
type attrs struct {
	a [6]engine.Attr
	n int
}

func (b *attrs) add(a engine.Attr) {
	if b.n < len(b.a) {
		b.a[b.n] = a
		b.n++
	}
}

func (b *attrs) list() []engine.Attr { return b.a[:b.n] }

// input records what the component's start callback carries.
func (h *Handler) input(s *span, ctx context.Context, info *callbacks.RunInfo, in callbacks.CallbackInput) {
	var cfg, inp, sp attrs
	if info.Type != "" {
		cfg.add(engine.String(KeyComponentType, info.Type))
	}
	max := h.cfg.maxValue
	switch s.kind {
	case kindModel:
		sp.add(engine.String(KeyOperation, "chat"))
		var msgs []*schema.Message
		switch v := in.(type) {
		case *model.CallbackInput:
			msgs = v.Messages
			if c := v.Config; c != nil {
				if c.Model != "" {
					cfg.add(engine.String(KeyModel, c.Model))
					sp.add(engine.String(KeyRequestModel, c.Model))
				}
				if c.Temperature != 0 {
					sp.add(engine.Float64(KeyTemperature, float64(c.Temperature)))
				}
				if c.TopP != 0 {
					sp.add(engine.Float64(KeyTopP, float64(c.TopP)))
				}
				if c.MaxTokens != 0 {
					sp.add(engine.Int(KeyMaxTokens, c.MaxTokens))
				}
			}
		case []*schema.Message:
			msgs = v
		}
		if len(msgs) > 0 {
			inp.add(engine.Int(KeyMessages, len(msgs)))
			if m := msgs[len(msgs)-1]; m != nil {
				inp.add(engine.String(KeyQuery, bound(m.Content, max)))
			}
		}
	case kindTool:
		sp.add(engine.String(KeyOperation, "execute_tool"))
		sp.add(engine.String(KeyToolName, info.Name))
		if id := compose.GetToolCallID(ctx); id != "" {
			sp.add(engine.String(KeyToolCallID, id))
		}
		var args string
		switch v := in.(type) {
		case *tool.CallbackInput:
			args = v.ArgumentsInJSON
		case string:
			args = v
		case *schema.ToolArgument:
			args = v.Text
		}
		inp.add(engine.String(KeyToolArgs, bound(args, max)))
	case kindRetriever:
		sp.add(engine.String(KeyOperation, "retrieval"))
		switch v := in.(type) {
		case *retriever.CallbackInput:
			inp.add(engine.String(KeyQuery, bound(v.Query, max)))
			if v.TopK != 0 {
				cfg.add(engine.Int(KeyTopK, v.TopK))
			}
		case string:
			inp.add(engine.String(KeyQuery, bound(v, max)))
		}
	default:
		if v, ok := in.(string); ok {
			inp.add(engine.String(KeyInput, bound(v, max)))
		}
	}
	if cfg.n > 0 {
		s.node.Config(cfg.list()...)
	}
	if inp.n > 0 {
		s.node.Input(inp.list()...)
	}
	if sp.n > 0 {
		s.node.SetAttributes(sp.list()...)
	}
}

// output records what the component's end callback carries.
func (h *Handler) output(s *span, out callbacks.CallbackOutput) {
	n := s.node
	max := h.cfg.maxValue
	switch s.kind {
	case kindModel:
		var st modelStats
		st.add(out)
		st.record(n, max)
	case kindTool:
		switch v := out.(type) {
		case *tool.CallbackOutput:
			n.Output(engine.String(KeyToolResult, bound(v.Response, max)))
		case string:
			n.Output(engine.String(KeyToolResult, bound(v, max)))
		}
	case kindRetriever:
		switch v := out.(type) {
		case *retriever.CallbackOutput:
			n.Output(engine.Int(KeyDocuments, len(v.Docs)))
		case []*schema.Document:
			n.Output(engine.Int(KeyDocuments, len(v)))
		}
	default:
		switch v := out.(type) {
		case string:
			n.Output(engine.String(KeyOutput, bound(v, max)))
		case *schema.Message:
			if v != nil {
				n.Output(engine.String(KeyOutput, bound(v.Content, max)))
			}
		}
	}
}

// modelStats is what a model's output (or its chunks) carried.
type modelStats struct {
	content string // the whole content of a non-streamed output
	usage   engine.Usage
	hasUse  bool
	finish  string
}

// add reads one output or chunk: usage and finish reason are kept from the
// last one that has them (providers send them with the last chunk).
func (m *modelStats) add(out callbacks.CallbackOutput) {
	var msg *schema.Message
	switch v := out.(type) {
	case *model.CallbackOutput:
		msg = v.Message
		if t := v.TokenUsage; t != nil {
			// The component's own usage wins over its message's.
			m.setUsage(t.PromptTokens, t.CompletionTokens, t.TotalTokens)
			if msg != nil && msg.ResponseMeta != nil && msg.ResponseMeta.FinishReason != "" {
				m.finish = msg.ResponseMeta.FinishReason
			}
			if msg != nil {
				m.content = msg.Content
			}
			return
		}
	case *schema.Message:
		msg = v
	}
	if msg == nil {
		return
	}
	m.content = msg.Content
	if rm := msg.ResponseMeta; rm != nil {
		if rm.FinishReason != "" {
			m.finish = rm.FinishReason
		}
		if u := rm.Usage; u != nil {
			m.setUsage(u.PromptTokens, u.CompletionTokens, u.TotalTokens)
		}
	}
}

func (m *modelStats) setUsage(prompt, completion, total int) {
	m.usage = engine.Usage{PromptTokens: int64(prompt), CompletionTokens: int64(completion), TotalTokens: int64(total)}
	m.hasUse = true
}

// record writes what add gathered (a non-streamed output).
func (m *modelStats) record(n engine.Node, max int) {
	if m.content != "" {
		n.LLMOutput(bound(m.content, max))
	}
	var sp attrs
	m.recordMeta(n, &sp)
	if sp.n > 0 {
		n.SetAttributes(sp.list()...)
	}
}

// recordMeta adds the finish reason to the span attributes sp and sets the
// usage.
func (m *modelStats) recordMeta(n engine.Node, sp *attrs) {
	if m.finish != "" {
		sp.add(engine.String(KeyFinishReason, m.finish))
	}
	if m.hasUse {
		if m.usage.TotalTokens == 0 {
			m.usage.TotalTokens = m.usage.PromptTokens + m.usage.CompletionTokens
		}
		n.Usage(m.usage)
	}
}

// rootAnswer sets the run's answer from the outermost invocation's output.
func (h *Handler) rootAnswer(s *span, out callbacks.CallbackOutput) {
	switch v := out.(type) {
	case string:
		s.rs.run.Answer(bound(v, h.cfg.maxValue))
	case *schema.Message:
		if v != nil {
			s.rs.run.Answer(bound(v.Content, h.cfg.maxValue))
		}
	}
}

// question is the run's question from the outermost invocation's input:
// a string, or the content of the last message.
func question(in callbacks.CallbackInput) string {
	switch v := in.(type) {
	case string:
		return v
	case *schema.Message:
		if v != nil {
			return v.Content
		}
	case []*schema.Message:
		if len(v) > 0 && v[len(v)-1] != nil {
			return v[len(v)-1].Content
		}
	}
	return ""
}

// bound cuts s to at most max bytes at a UTF-8 boundary, without copying.
// max <= 0 keeps nothing.
func bound(s string, max int) string {
	if len(s) <= max {
		return s
	}
	if max <= 0 {
		return ""
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}
