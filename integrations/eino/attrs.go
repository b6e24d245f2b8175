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
	KeyTimePerChunk  = "time_per_chunk" // output, seconds: (end of stream - first chunk) / (chunks - 1)
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

// The span attributes that never change, built once.
var (
	opChat      = engine.String(KeyOperation, "chat")
	opTool      = engine.String(KeyOperation, "execute_tool")
	opRetrieval = engine.String(KeyOperation, "retrieval")
)

// input records what the component's start callback carries. Each kind
// has a function of its own, so that the common nodes (lambdas, nested
// graphs) run on a small frame: Eino starts parallel nodes and stream
// readers on new goroutines, whose small first stack the model's frame
// (three attribute lists) made grow, a copy of the stack at every such
// node (runtime.newstack was a fifth of the handler's own time in
// BenchmarkGraph).
func (h *Handler) input(s *span, ctx context.Context, info *callbacks.RunInfo, in callbacks.CallbackInput) {
	switch s.kind {
	case kindModel:
		h.inputModel(s, info, in)
		return
	case kindTool:
		h.inputTool(s, ctx, info, in)
		return
	case kindRetriever:
		h.inputRetriever(s, info, in)
		return
	}
	if info.Type != "" {
		s.node.Config(engine.String(KeyComponentType, info.Type))
	}
	if v, ok := in.(string); ok {
		s.node.Input(engine.String(KeyInput, bound(v, h.cfg.maxValue)))
	}
}

//go:noinline
func (h *Handler) inputModel(s *span, info *callbacks.RunInfo, in callbacks.CallbackInput) {
	var cfg [2]engine.Attr
	var inp [2]engine.Attr
	var sp attrs
	nc, ni := 0, 0
	if info.Type != "" {
		cfg[nc] = engine.String(KeyComponentType, info.Type)
		nc++
	}
	sp.add(opChat)
	var msgs []*schema.Message
	switch v := in.(type) {
	case *model.CallbackInput:
		msgs = v.Messages
		if c := v.Config; c != nil {
			if c.Model != "" {
				cfg[nc] = engine.String(KeyModel, c.Model)
				nc++
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
		inp[ni] = engine.Int(KeyMessages, len(msgs))
		ni++
		if m := msgs[len(msgs)-1]; m != nil {
			inp[ni] = engine.String(KeyQuery, bound(m.Content, h.cfg.maxValue))
			ni++
		}
	}
	if nc > 0 {
		s.node.Config(cfg[:nc]...)
	}
	if ni > 0 {
		s.node.Input(inp[:ni]...)
	}
	s.node.SetAttributes(sp.list()...)
}

//go:noinline
func (h *Handler) inputTool(s *span, ctx context.Context, info *callbacks.RunInfo, in callbacks.CallbackInput) {
	if info.Type != "" {
		s.node.Config(engine.String(KeyComponentType, info.Type))
	}
	sp := [3]engine.Attr{opTool, engine.String(KeyToolName, info.Name)}
	n := 2
	if id := compose.GetToolCallID(ctx); id != "" {
		sp[n] = engine.String(KeyToolCallID, id)
		n++
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
	s.node.Input(engine.String(KeyToolArgs, bound(args, h.cfg.maxValue)))
	s.node.SetAttributes(sp[:n]...)
}

//go:noinline
func (h *Handler) inputRetriever(s *span, info *callbacks.RunInfo, in callbacks.CallbackInput) {
	var cfg [2]engine.Attr
	nc := 0
	if info.Type != "" {
		cfg[nc] = engine.String(KeyComponentType, info.Type)
		nc++
	}
	query, ok := "", false
	switch v := in.(type) {
	case *retriever.CallbackInput:
		query, ok = v.Query, true
		if v.TopK != 0 {
			cfg[nc] = engine.Int(KeyTopK, v.TopK)
			nc++
		}
	case string:
		query, ok = v, true
	}
	if nc > 0 {
		s.node.Config(cfg[:nc]...)
	}
	if ok {
		s.node.Input(engine.String(KeyQuery, bound(query, h.cfg.maxValue)))
	}
	s.node.SetAttributes(opRetrieval)
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
	if m.finish != "" {
		n.SetAttributes(engine.String(KeyFinishReason, m.finish))
	}
	m.recordUsage(n)
}

// recordUsage sets the node's usage, when the model gave one.
func (m *modelStats) recordUsage(n engine.Node) {
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
