package main

import (
	"time"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/genai"
)

// staticError is an error whose message is a constant, so that recording
// it allocates nothing.
type staticError string

func (e staticError) Error() string { return string(e) }

const errNode = staticError("tool call failed: upstream returned 503")

// The GenAI conventions' values of the workload's model and tool calls,
// the same for both drivers.
const (
	llmProvider      = "iflytek"
	llmRequestModel  = "spark-4"
	llmResponseModel = "spark-4.0-ultra"
	llmFinishReason  = "stop"
	toolName         = "web_search"
	toolType         = "function"
)

// toolCallType is the node type of an LLM node's tool call (StartChild),
// a type of its own: the engine ranks node types (Bottlenecks) and its
// node metrics are by type, and under "tool" the calls, which last from
// the LLM node's start to its first chunk (0.1-0.8 s in the realistic
// workload), were one row with the workflow's tool nodes (20-500 ms).
const toolCallType = "tool-call"

// flowtelDriver records the workload through flowtel's engine.
type flowtelDriver struct {
	eng     *engine.Engine
	info    engine.RunInfo
	in, out []engine.Attr
	toolOut []engine.Attr
	cfg     []engine.Attr
	llm     []engine.Attr // the GenAI attributes of an LLM node
	usage   engine.Usage
	payload string
	answer  string
}

func newFlowtelDriver(eng *engine.Engine, wl *workload) *flowtelDriver {
	d := &flowtelDriver{
		eng: eng,
		info: engine.RunInfo{
			FlowID: "flow-7b1c", AppID: "app-42", UID: "user-1001", ChatID: "chat-9",
			BotID: "bot-3", Sub: "spf", Caller: "workflow", LogCaller: "chat", Question: wl.question,
		},
		payload: wl.payload, answer: wl.answer,
		usage: engine.Usage{QuestionTokens: int64(wl.tokens / 8), PromptTokens: int64(wl.tokens * 3 / 4), CompletionTokens: int64(wl.tokens / 4), TotalTokens: int64(wl.tokens)},
	}
	for _, a := range wl.in {
		d.in = append(d.in, engine.String(a.key, a.val))
	}
	for _, a := range wl.out {
		d.out = append(d.out, engine.String(a.key, a.val))
	}
	for _, a := range wl.cfg {
		d.cfg = append(d.cfg, engine.String(a.key, a.val))
	}
	d.llm = []engine.Attr{
		genai.OperationName(genai.OpChat), genai.ProviderName(llmProvider),
		genai.RequestModel(llmRequestModel), genai.ResponseModel(llmResponseModel),
		genai.FinishReason(llmFinishReason),
		genai.UsageInputTokens(d.usage.PromptTokens), genai.UsageOutputTokens(d.usage.CompletionTokens),
	}
	d.toolOut = append([]engine.Attr{engine.String("result", wl.payload)}, d.out...)
	d.toolOut = d.toolOut[:len(d.out)] // the payload replaces one output value
	return d
}

func (d *flowtelDriver) startRun(s *slot) {
	s.run = d.eng.StartRun(d.info)
	s.live = s.run.IsRecording()
}

// startNode starts node i of the run's current step with its inputs and
// configuration.
func (d *flowtelDriver) startNode(s *slot, spec *nodeSpec, i int) {
	n := s.run.StartNode(spec.id, spec.typ, spec.name)
	s.nodes[i] = n
	if len(d.in) > 0 {
		n.Input(d.in...)
	}
	if len(d.cfg) > 0 {
		n.Config(d.cfg...)
	}
	s.calls[i] = engine.Node{}
	// A node that is not open (its run refused, or dropped at a limit)
	// starts no call: the engine is offered no span for it.
	s.called[i] = spec.llm && n.IsRecording()
	if s.called[i] {
		call := n.StartChild(spec.call, toolCallType, toolName)
		call.SetSpanKind(engine.SpanKindClient)
		call.SetAttributes(genai.OperationName(genai.OpExecuteTool), genai.ToolName(toolName),
			genai.ToolCallID(spec.callID), genai.ToolType(toolType))
		s.calls[i] = call
	}
}

// endCall ends node i's tool call if it is still open.
func (d *flowtelDriver) endCall(s *slot, i int) {
	if c := s.calls[i]; c.IsRecording() {
		c.End()
	}
}

// firstChunk records an LLM node's first streamed frame and how long the
// model took to send it.
func (d *flowtelDriver) firstChunk(s *slot, i int, cost time.Duration) {
	d.endCall(s, i)
	n := s.nodes[i]
	n.FirstTokenCost(cost)
	n.FirstFrame()
	n.Chunk() // the stream's first chunk; endNode records the last
}

// endNode records node i's outputs, usage and logs and ends it, or records
// an exception at the error rate. An LLM node carries the GenAI
// conventions' attributes, its tool call their tool attributes.
func (d *flowtelDriver) endNode(w *worker, s *slot, spec *nodeSpec, i int) int {
	n := s.nodes[i]
	spans := 1
	if s.called[i] {
		d.endCall(s, i)
		s.calls[i], s.called[i] = engine.Node{}, false
		spans++
	}
	if spec.llm {
		if w.firstFrame {
			n.Chunk() // the stream's last chunk: time per output chunk
		}
		n.SetAttributes(d.llm...)
	}
	d.record(n, spec)
	if w.fails() {
		n.RecordError(errNode)
		s.failed = true
	} else {
		n.End()
	}
	return spans
}

// record writes what both synthetic workloads record of a node before it
// ends: an LLM's usage and output, the outputs, the message log and the
// successors.
func (d *flowtelDriver) record(n engine.Node, spec *nodeSpec) {
	switch {
	case spec.llm:
		n.Usage(d.usage)
		n.LLMOutput(d.payload)
		if len(d.out) > 0 {
			n.Output(d.out...)
		}
	case spec.tool:
		if len(d.toolOut) > 0 {
			n.Output(d.toolOut...)
		}
	default:
		if len(d.out) > 0 {
			n.Output(d.out...)
		}
	}
	if spec.message {
		n.Info("message sent to the user")
	}
	if len(spec.next) > 0 {
		n.Next(spec.next...)
	}
}

func (d *flowtelDriver) endRun(s *slot) {
	s.run.Answer(d.answer)
	if s.failed {
		s.run.End(500, "node failed")
	} else {
		s.run.End(0, "success")
	}
	s.run = engine.Run{}
}

// stepV1 does one step of s exactly as dc34226's flowtel driver did
// (-workload synthetic-v1): it starts every node of the step and records
// its inputs, configuration, first frame, usage, LLM output, outputs, log
// and successors, then ends them all in order (or records an exception at
// the error rate). An LLM node carries no GenAI attributes and calls no
// tool. It returns the spans offered: one per node.
func (d *flowtelDriver) stepV1(w *worker, s *slot, st step) int {
	nodes := s.nodes[:len(st)]
	for i := range st {
		spec := &st[i]
		n := s.run.StartNode(spec.id, spec.typ, spec.name)
		nodes[i] = n
		if len(d.in) > 0 {
			n.Input(d.in...)
		}
		if len(d.cfg) > 0 {
			n.Config(d.cfg...)
		}
		if spec.llm && w.firstFrame {
			n.FirstFrame()
		}
		d.record(n, spec)
	}
	for i := range nodes {
		if w.fails() {
			nodes[i].RecordError(errNode)
			s.failed = true
		} else {
			nodes[i].End()
		}
	}
	return len(st)
}
