package main

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// nodeSpec is one node of a workflow plan, with everything the drivers
// need precomputed so that the hot loop builds no strings.
type nodeSpec struct {
	id, typ, name string
	spanName      string // "run_node:" + id, for the SDK driver
	next          []string
	llm           bool // sets usage, GenAI attributes, LLM output and first frame
	// call is the node id of the tool call an LLM node makes below itself
	// (a child span), callSpan its span name for the SDK driver, callID
	// its gen_ai.tool.call.id; empty for other nodes.
	call, callSpan, callID string
	tool                   bool // carries the payload as its output
	message                bool // logs an info entry
	// lat is how long the node takes in the timed workload.
	lat latency
}

// latency is the range of a node type's duration in the timed workload,
// drawn log-uniformly (most calls are quick, a few slow), and for LLM
// nodes the range of the first streamed chunk's delay.
type latency struct {
	min, max           time.Duration
	firstMin, firstMax time.Duration
}

// latencies are the node durations of the realistic workload, by what the
// node waits for: a model streams its answer, a tool or retrieval calls a
// service, code and control nodes run in the engine.
var (
	latLLM     = latency{min: 300 * time.Millisecond, max: 3 * time.Second, firstMin: 100 * time.Millisecond, firstMax: 800 * time.Millisecond}
	latTool    = latency{min: 20 * time.Millisecond, max: 500 * time.Millisecond}
	latCode    = latency{min: time.Millisecond, max: 20 * time.Millisecond}
	latControl = latency{min: 100 * time.Microsecond, max: 2 * time.Millisecond}
)

func latencyOfType(typ string) latency {
	switch typ {
	case "llm", "agent":
		return latLLM
	case "tool", "plugin", "knowledge":
		return latTool
	case "code":
		return latCode
	}
	return latControl
}

// step is what one visit of a run does: start every node of the step (one
// for a chain, several parallel branches for a fan-out), record them and
// end them.
type step []nodeSpec

// plan is one workflow: its steps in order.
type plan struct {
	name  string
	steps []step
	nodes int
	width int // nodes of the widest step
}

// The workloads: realistic (timed nodes), synthetic (nodes that take no
// time, for peak throughput) and synthetic-v1, the synthetic workload as
// commit dc34226 recorded it, for a before/after of the same work: each
// LLM node records FirstFrame, Usage and LLMOutput only, without the
// GenAI attributes, the tool call below it (one span fewer per LLM node),
// FirstTokenCost or Chunk; and a step starts and records all its nodes
// before it ends them. With the default flags a run is 9 spans (the run
// and 8 nodes) where synthetic's is 11. It runs flowtel only.
const (
	workloadRealistic   = "realistic"
	workloadSynthetic   = "synthetic"
	workloadSyntheticV1 = "synthetic-v1"
)

// Shapes a workload can take.
const (
	shapeChain     = "chain"
	shapeFanout    = "fanout"
	shapeIteration = "iteration"
	shapeMixed     = "mixed"
)

// maxMixWeight is the largest weight of a -mix type.
const maxMixWeight = 1_000_000

// parseMix parses "llm=30,tool=20,..." into types and cumulative weights.
func parseMix(s string) (types []string, cum []int, err error) {
	total := 0
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, nil, fmt.Errorf("node mix %q: want type=weight", part)
		}
		w, err := strconv.Atoi(v)
		if err != nil || w < 0 {
			return nil, nil, fmt.Errorf("node mix %q: weight is not a non-negative integer", part)
		}
		if w > maxMixWeight { // the weights' sum must stay a positive int
			return nil, nil, fmt.Errorf("node mix %q: weight is above %d", part, maxMixWeight)
		}
		switch k {
		case "llm", "tool", "plugin", "code", "knowledge", "decision", "message", "if-else", "variable", "agent", "question-answer":
		default:
			return nil, nil, fmt.Errorf("node mix %q: unknown node type %q", part, k)
		}
		if w == 0 {
			continue
		}
		total += w
		types = append(types, k)
		cum = append(cum, total)
	}
	if total == 0 {
		return nil, nil, fmt.Errorf("node mix %q: no type with a positive weight", s)
	}
	return types, cum, nil
}

// planner builds plans from the workload flags with a seeded source, so
// that every mode runs exactly the same workflows.
type planner struct {
	rng    *rand.Rand
	types  []string
	cum    []int
	nodes  int
	fanout int
}

func (p *planner) pickType() string {
	x := p.rng.IntN(p.cum[len(p.cum)-1])
	for i, c := range p.cum {
		if x < c {
			return p.types[i]
		}
	}
	return p.types[len(p.types)-1]
}

func newNode(typ string, seq int) nodeSpec {
	id := typ + ":" + strconv.Itoa(seq)
	if typ == "end" {
		id = "node-end:" + strconv.Itoa(seq)
		typ = "node-end"
	}
	ns := nodeSpec{
		id: id, typ: typ, name: strings.ToUpper(typ[:1]) + typ[1:] + " " + strconv.Itoa(seq),
		spanName: "run_node:" + id,
		llm:      typ == "llm" || typ == "agent",
		tool:     typ == "tool" || typ == "plugin" || typ == "code" || typ == "knowledge",
		message:  typ == "message" || typ == "node-end",
		lat:      latencyOfType(typ),
	}
	if ns.llm {
		ns.call = "tool-call:" + strconv.Itoa(seq)
		ns.callSpan = "run_node:" + ns.call
		ns.callID = "call_" + strconv.Itoa(seq)
	}
	return ns
}

// build returns a plan of the given shape with p.nodes nodes: a start node,
// the body, and an end node (a single node plan is just a start node).
func (p *planner) build(shape string) plan {
	n := p.nodes
	seq := 0
	next := func(typ string) nodeSpec { seq++; return newNode(typ, seq) }
	var steps []step
	add := func(s step) { steps = append(steps, s) }
	add(step{next("start")})
	body := n - 2
	if n == 1 {
		body = 0
	}
	switch shape {
	case shapeChain:
		for i := 0; i < body; i++ {
			add(step{next(p.pickType())})
		}
	case shapeFanout:
		// A decision node, then groups of parallel branches of width fanout.
		for body > 0 {
			add(step{next("decision")})
			body--
			w := min(p.fanout, body)
			if w == 0 {
				break
			}
			s := make(step, 0, w)
			for i := 0; i < w; i++ {
				s = append(s, next(p.pickType()))
			}
			add(s)
			body -= w
		}
	case shapeIteration:
		// An iteration node, then its body of up to 3 nodes repeated.
		loop := []string{"llm", "tool", "code"}
		for body > 0 {
			add(step{next("iteration")})
			body--
			for i := 0; i < len(loop) && body > 0; i++ {
				add(step{next(loop[i])})
				body--
			}
		}
	}
	if n > 1 {
		add(step{next("end")})
	}
	// Link each step's nodes to the first node of the next step.
	for i := 0; i+1 < len(steps); i++ {
		ids := []string{steps[i+1][0].id}
		for j := range steps[i] {
			steps[i][j].next = ids
		}
	}
	total, width := 0, 0
	for _, s := range steps {
		total += len(s)
		width = max(width, len(s))
	}
	return plan{name: shape, steps: steps, nodes: total, width: width}
}

// plans returns the plans a shape flag stands for; "mixed" cycles through
// chain, fan-out and iteration runs.
func (p *planner) plans(shape string) ([]plan, error) {
	switch shape {
	case shapeChain, shapeFanout, shapeIteration:
		return []plan{p.build(shape)}, nil
	case shapeMixed:
		return []plan{p.build(shapeChain), p.build(shapeFanout), p.build(shapeIteration)}, nil
	}
	return nil, fmt.Errorf("shape %q: want chain, fanout, iteration or mixed", shape)
}

// payload returns a deterministic printable string of n bytes.
func payload(n int) string {
	const text = "The quick brown fox consults the knowledge base and answers in streaming tokens. "
	var b strings.Builder
	b.Grow(n)
	for b.Len() < n {
		b.WriteString(text[:min(len(text), n-b.Len())])
	}
	return b.String()
}
