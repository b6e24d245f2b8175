package engine

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
)

// TestFlatMeansPlain: every Node call, the bridge's writers among them,
// leaves a node that the pipeline's short read (nodeRecord.flat) takes
// for plain only if it is plain (nodeRecord.plain): a call that made a
// node not plain without setting rare would have its record released
// without its reset, and its fields exported by the record's next node.
// Every exported method of Node must be in the table (or known to write
// nothing): a new one fails the test until it is.
func TestFlatMeansPlain(t *testing.T) {
	long := strings.Repeat("x", 2000)
	many := make([]Attr, 40)
	for i := range many {
		many[i] = Int64("k", int64(i))
	}
	cases := []struct {
		name  string
		plain bool // flat must accept it
		f     func(n Node)
	}{
		{"nothing", true, func(Node) {}},
		{"Input", true, func(n Node) { n.Input(String("a", "b")) }},
		{"Output", true, func(n Node) { n.Output(Int64("c", 1)) }},
		{"Config", true, func(n Node) { n.Config(String("d", "e")) }},
		{"Input Output Config", true, func(n Node) { n.Input(String("a", "b")); n.Output(Int64("c", 1)); n.Config(String("d", "e")) }},
		{"lists twice", true, func(n Node) { n.Input(String("a", "b")); n.Input(String("c", "d")) }},
		{"long value", true, func(n Node) { n.Input(String("a", long)) }},
		{"SpanContext", true, func(n Node) { n.SpanContext() }},
		{"StartChild", true, func(n Node) { n.StartChild("c:1", "c", "child").End() }},
		{"bytes", false, func(n Node) { n.Input(Bytes("b", []byte("raw"))) }},
		{"off the pool", false, func(n Node) { n.Input(many...) }},
		{"past Limits.Attrs", false, func(n Node) { n.Input(many[:20]...); n.Output(many[:20]...) }},
		{"SetAttributes", false, func(n Node) { n.SetAttributes(String("gen_ai.system", "x")) }},
		{"SetCode", false, func(n Node) { n.SetCode(3) }},
		{"InfoEvent", false, func(n Node) { n.InfoEvent(String("a", "b")) }},
		{"ErrorEvent", false, func(n Node) { n.ErrorEvent(String("a", "b")) }},
		{"Usage", false, func(n Node) { n.Usage(Usage{PromptTokens: 1}) }},
		{"LLMOutput", false, func(n Node) { n.LLMOutput("out") }},
		{"FirstFrame", false, func(n Node) { n.FirstFrame() }},
		{"FirstTokenCost", false, func(n Node) { n.FirstTokenCost(time.Millisecond) }},
		{"Info", false, func(n Node) { n.Info("i") }},
		{"Error", false, func(n Node) { n.Error("e") }},
		{"Fail", false, func(n Node) { n.Fail("f") }},
		{"Cancel", false, func(n Node) { n.Cancel("c") }},
		{"RecordError", false, func(n Node) { n.RecordError(errors.New("x")) }},
		{"Next", false, func(n Node) { n.Next("b:1") }},
		{"SetSpanKind", false, func(n Node) { n.SetSpanKind(SpanKindClient) }},
		{"Chunk", false, func(n Node) { n.Chunk() }},
		{"setStatus", false, func(n Node) { n.setStatus(encode.StatusError, "s") }},
		{"rename", false, func(n Node) { n.rename("other") }},
		{"setShape", false, func(n Node) { n.setShape(encode.SpanID{1}, encode.SpanKindClient) }},
		{"recordException", false, func(n Node) { n.recordException(errors.New("x"), "", false) }},
	}
	covered := map[string]bool{"End": true, "IsRecording": true}
	for _, c := range cases {
		covered[strings.Fields(c.name)[0]] = true
	}
	for m := range reflect.TypeFor[Node]().Methods() {
		if !covered[m.Name] {
			t.Errorf("Node.%s is not in the table: does it make a node not plain, and set rare then?", m.Name)
		}
	}
	e, err := New(WithLimits(Limits{Attrs: 32}))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(t.Context())
	for _, c := range cases {
		// Twice: on a new record, then on the same record reused
		// (released plain or in full by the run before).
		for round := range 2 {
			r := e.StartRun(RunInfo{FlowID: "f"})
			h := r.StartNode("a:1", "a", "n")
			checkReopened(t, c.name, h.n)
			c.f(h)
			h.End() // RecordError and Cancel have ended it: a counted no-op
			n := h.n
			if flat, plain := n.flat(), n.plain(); flat && !plain {
				t.Errorf("%s (round %d): flat says plain, plain says not", c.name, round)
			} else if c.plain && !flat {
				t.Errorf("%s (round %d): a plain node flat does not take for one", c.name, round)
			}
			r.End(0, "")
			if err := e.ForceFlush(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
	}
}
