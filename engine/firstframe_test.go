package engine

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
)

// streamSink checks, for every run exported, that the first frame the
// pipeline found as it read the nodes (encode.Run.StreamStartUnixNano)
// is the one encode.Run.FirstFrameMillis finds walking them.
type streamSink struct {
	mu             sync.Mutex
	t              *testing.T
	runs, withMark int
}

func (s *streamSink) Export(runs []*encode.Run) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range runs {
		s.runs++
		if r.StreamStartUnixNano != 0 {
			s.withMark++
		}
		got, gotOK := r.FirstFrameMillis()
		walk := *r
		walk.StreamStartUnixNano = 0
		want, wantOK := walk.FirstFrameMillis()
		if got != want || gotOK != wantOK {
			s.t.Errorf("run %s: first frame %d %v, walking the nodes %d %v", r.FlowID, got, gotOK, want, wantOK)
		}
	}
	return nil
}
func (s *streamSink) ForceFlush(context.Context) error { return nil }
func (s *streamSink) Shutdown(context.Context) error   { return nil }

// TestStreamStartFound: runs with no stream node, one first, one after
// others, two, nodes that end out of their start order (the trace's
// order is the ends'), and a first frame set by the run's owner.
func TestStreamStartFound(t *testing.T) {
	s := &streamSink{t: t}
	e, err := New(WithSink(s), WithBatch(8, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	shapes := [][]string{
		{},
		{"llm:1", "code:2"},
		{"message:1", "llm:2"},
		{"llm:1", "node-end:2", "message:3"},
		{"messages:1", "node-endx", "message"},
	}
	for i, ids := range shapes {
		for _, reversed := range []bool{false, true} {
			for _, owner := range []bool{false, true} {
				r := e.StartRun(RunInfo{FlowID: fmt.Sprintf("shape%d/%v/%v", i, reversed, owner)})
				var nodes []Node
				for _, id := range ids {
					nodes = append(nodes, r.StartNode(id, "t", id))
					time.Sleep(time.Millisecond)
				}
				if owner {
					r.FirstFrame()
				}
				for k := range nodes {
					if reversed {
						k = len(nodes) - 1 - k
					}
					nodes[k].End()
					time.Sleep(time.Millisecond)
				}
				r.End(0, "")
			}
		}
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.runs != 4*len(shapes) || s.withMark == 0 {
		t.Fatalf("%d runs exported, %d with the first frame found, of %d", s.runs, s.withMark, 4*len(shapes))
	}
}
