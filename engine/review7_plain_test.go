package engine

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/flowtel/flowtel/encode"
)

// shapeSink records, for every node exported, what a reused record could
// carry over from the node it held before.
type shapeSink struct {
	mu    sync.Mutex
	nodes map[string]string
}

func (s *shapeSink) Export(runs []*encode.Run) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range runs {
		for i := range r.Nodes {
			n := r.Nodes[i]
			s.nodes[n.NodeName] = nodeShape(n)
		}
	}
	return nil
}
func (s *shapeSink) ForceFlush(context.Context) error { return nil }
func (s *shapeSink) Shutdown(context.Context) error   { return nil }

func nodeShape(n *encode.Node) string {
	return fmt.Sprintf("in=%d out=%d cfg=%d attrs=%d next=%d events=%d usage=%v/%d code=%v/%d kind=%d status=%d/%q llm=%q ftc=%v chunks=%d",
		len(n.Input), len(n.Output), len(n.Config), len(n.Attrs), len(n.Next), len(n.Events),
		n.HasUsage, n.Usage.PromptTokens, n.HasCode, n.Code, n.Kind, n.Status, n.StatusMessage, n.LLMOutput, n.HasFirstTokenCost, n.Chunks)
}

// TestPlainAndRichNodesReuse: in runs mixing plain nodes (ids, times,
// pooled lists) with nodes that set the rare fields (events, next ids,
// usage, code, span kind, status message, LLM output, chunks), the records
// released short (resetPlain) and in full are reused for one another, and
// every node is exported with what it set, nothing of a record's earlier
// node: every plain node as a plain one, every rich one as the first,
// whose record was fresh.
func TestPlainAndRichNodesReuse(t *testing.T) {
	s := &shapeSink{nodes: map[string]string{}}
	e, err := New(WithSink(s))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for run := range 200 {
		r := e.StartRun(RunInfo{FlowID: "f"})
		for i := range 8 {
			name := fmt.Sprintf("r%d-n%d", run, i)
			n := r.StartNode(fmt.Sprintf("a:%d", i), "a", name)
			n.Input(String("k", "v"), Int64("i", 1))
			if (run+i)%3 == 0 {
				n.Next("b:1", "c:2")
				n.InfoEvent(String("e", "v"))
				n.Usage(encode.Usage{PromptTokens: 5})
				n.SetCode(7)
				n.SetSpanKind(SpanKindClient)
				n.Fail("bad")
				n.LLMOutput("out")
				n.Chunk()
				n.SetAttributes(Int64("x", 1))
			} else {
				n.Output(String("o", "v"))
			}
			n.End()
			if (run+i)%3 == 0 {
				want[name] = "rich"
				continue
			}
			plain := &encode.Node{Input: make([]encode.Attr, 2), Output: make([]encode.Attr, 1)}
			want[name] = nodeShape(plain)
		}
		r.End(0, "")
		if run%20 == 19 {
			if err := e.ForceFlush(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The first rich node had a fresh record: every later one exports
	// as it did.
	rich := s.nodes["r0-n0"]
	if rich == "" {
		t.Fatal("r0-n0 not exported")
	}
	bad := 0
	for name, w := range want {
		if w == "rich" {
			w = rich
		}
		if got := s.nodes[name]; got != w && bad < 5 {
			bad++
			t.Errorf("%s: %s\n want %s", name, got, w)
		}
	}
}
