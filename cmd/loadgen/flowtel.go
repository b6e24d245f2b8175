package main

import (
	"github.com/flowtel/flowtel/engine"
)

// staticError is an error whose message is a constant, so that recording
// it allocates nothing.
type staticError string

func (e staticError) Error() string { return string(e) }

const errNode = staticError("tool call failed: upstream returned 503")

// flowtelDriver records the workload through flowtel's engine.
type flowtelDriver struct {
	eng        *engine.Engine
	info       engine.RunInfo
	in, out    []engine.Attr
	toolOut    []engine.Attr
	cfg        []engine.Attr
	usage      engine.Usage
	payload    string
	answer     string
	firstFrame bool
}

func newFlowtelDriver(eng *engine.Engine, wl *workload) *flowtelDriver {
	d := &flowtelDriver{
		eng: eng,
		info: engine.RunInfo{
			FlowID: "flow-7b1c", AppID: "app-42", UID: "user-1001", ChatID: "chat-9",
			BotID: "bot-3", Sub: "spf", Caller: "workflow", LogCaller: "chat", Question: wl.question,
		},
		payload: wl.payload, answer: wl.answer, firstFrame: wl.firstFrame,
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
	d.toolOut = append([]engine.Attr{engine.String("result", wl.payload)}, d.out...)
	d.toolOut = d.toolOut[:len(d.out)] // the payload replaces one output value
	return d
}

func (d *flowtelDriver) startRun(w *worker, s *slot) {
	s.run = d.eng.StartRun(d.info)
	s.live = s.run.IsRecording()
	w.ctr.produced.Add(1)
}

func (d *flowtelDriver) runStep(w *worker, s *slot, st step) {
	if cap(s.nodes) < len(st) {
		s.nodes = make([]engine.Node, len(st))
	}
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
		switch {
		case spec.llm:
			if d.firstFrame {
				n.FirstFrame()
			}
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
	for i := range nodes {
		if w.fails() {
			nodes[i].RecordError(errNode)
			s.failed = true
		} else {
			nodes[i].End()
		}
	}
	if s.live {
		w.ctr.produced.Add(uint64(len(st)))
		w.ctr.nodes.Add(uint64(len(st)))
	} else {
		// The engine counts these as dropped, for the run's reason.
		w.ctr.produced.Add(uint64(len(st)))
		w.ctr.refused.Add(uint64(len(st)))
	}
}

func (d *flowtelDriver) endRun(_ *worker, s *slot) {
	s.run.Answer(d.answer)
	if s.failed {
		s.run.End(500, "node failed")
	} else {
		s.run.End(0, "success")
	}
	s.run = engine.Run{}
}
