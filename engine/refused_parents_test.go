package engine

import (
	"context"
	"encoding/binary"
	"sync"
	"testing"
)

// TestRefusedParentsConcurrent: goroutines refused at once, more than the
// ring's slots, each read back through Run.SpanContext and Node.SpanContext
// either their own parent whole or, when their slot was written again, the
// zero SpanContext: never another run's ids or a mix (run with -race).
func TestRefusedParentsConcurrent(t *testing.T) {
	e, err := New(WithLimits(Limits{RunsInFlight: 1}))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	hold := e.StartRun(RunInfo{})
	defer hold.End(0, "")
	states := []string{"", "a=1", "b=22,c=333"}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2 * refusedSlots {
				var p SpanContext
				binary.BigEndian.PutUint64(p.TraceID[:8], uint64(g+1))
				binary.BigEndian.PutUint64(p.TraceID[8:], uint64(i+1))
				binary.BigEndian.PutUint64(p.SpanID[:], uint64(g+1)<<32|uint64(i+1))
				p.TraceState, p.Sampled, p.Random = states[i%len(states)], i%2 == 0, i%3 == 0
				run := e.StartRun(RunInfo{Parent: p})
				node := run.StartNode("n", "t", "n")
				for _, sc := range []SpanContext{run.SpanContext(), node.SpanContext()} {
					if sc != p && sc != (SpanContext{}) {
						t.Errorf("refused run %d/%d: SpanContext %+v, want %+v or zero", g, i, sc, p)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}
