package engine

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// These tests run owners that keep writing while the pipeline closes
// their records (shutdown, idle timeout, the run's end). Under -race they
// prove that no write lands in a record being exported or reused; without
// it they check the accounting.

func TestOwnerWritesDuringShutdown(t *testing.T) {
	for round := 0; round < 20; round++ {
		sink := &MemorySink{}
		e, err := New(WithSink(sink), WithBatch(16, time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					run := e.StartRun(RunInfo{FlowID: "f"})
					for i := 0; i < 3; i++ {
						run.Answer("a")
						run.Info("i")
						n := run.StartNode("a:1", "a", "a")
						n.Input(Int("i", i))
						n.Info("x")
						n.End()
					}
					run.End(0, "")
				}
			}()
		}
		time.Sleep(2 * time.Millisecond)
		if err := e.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		close(stop)
		wg.Wait()
		checkDrained(t, fmt.Sprint("round ", round), e.Stats())
	}
}

func TestNodeWritesWhileRunEnds(t *testing.T) {
	sink := &MemorySink{}
	e, err := New(WithSink(sink), WithBatch(16, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 200; round++ {
		run := e.StartRun(RunInfo{})
		n := run.StartNode("branch:1", "tool", "slow branch")
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; i < 50; i++ {
				n.Input(Int("i", i)) // stale once the run has closed the node
				n.Info("still working")
			}
			n.End()
		}()
		run.End(0, "")
		<-done
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := e.Stats()
	checkIdentity(t, s)
	runs := sink.Runs()
	if s.InFlight != 0 || len(runs) != 200 {
		t.Fatalf("stats %+v, %d runs", s, len(runs))
	}
	for _, r := range runs {
		n := r.Nodes[0]
		if n.Incomplete != (n.Status != 0) {
			t.Fatalf("node %+v", n)
		}
	}
}

func TestStartNodeRacesEnd(t *testing.T) {
	e, err := New(WithSink(&MemorySink{}), WithBatch(16, time.Millisecond), WithLimits(Limits{RunsInFlight: 8}))
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 500; round++ {
		run := e.StartRun(RunInfo{})
		var wg sync.WaitGroup
		for g := 0; g < 3; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				run.StartNode("n:1", "n", "n").End()
			}()
		}
		run.End(0, "") // races the branches: each node is in this run or refused
		wg.Wait()
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkDrained(t, "500 rounds", e.Stats())
}

// TestStartChildRacesEnd has parallel branches start children below their
// nodes, and grandchildren on other goroutines, while the run ends: each
// child is in its parent's run, under a span of that run, or refused.
func TestStartChildRacesEnd(t *testing.T) {
	sink := &MemorySink{}
	e, err := New(WithSink(sink), WithBatch(16, time.Millisecond), WithLimits(Limits{RunsInFlight: 8}))
	if err != nil {
		t.Fatal(err)
	}
	const rounds = 300
	for round := 0; round < rounds; round++ {
		run := e.StartRun(RunInfo{})
		var wg sync.WaitGroup
		for g := 0; g < 3; g++ {
			n := run.StartNode("agent:1", "agent", "agent")
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 3; i++ {
					c := n.StartChild("plugin:1", "plugin", "tool")
					wg.Add(1)
					go func() { // a parallel tool call owns its child
						defer wg.Done()
						c.StartChild("llm:1", "llm", "retry").End()
						c.End()
					}()
				}
				n.End()
			}()
		}
		run.End(0, "") // races the branches
		wg.Wait()
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := e.Stats()
	checkIdentity(t, s)
	runs := sink.Runs()
	if s.InFlight != 0 || len(runs) == 0 { // runs past RunsInFlight are dropped and counted
		t.Fatalf("stats %+v, %d runs", s, len(runs))
	}
	for _, r := range runs {
		spans := map[[8]byte]bool{}
		for _, n := range r.Nodes {
			spans[n.SpanID] = true
		}
		for _, n := range r.Nodes {
			if !n.ParentSpanID.IsZero() && !spans[n.ParentSpanID] {
				t.Fatalf("node %s's parent %x is not in its run", n.NodeName, n.ParentSpanID)
			}
		}
	}
}
