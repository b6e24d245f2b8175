package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowtel/flowtel/internal/race"
)

// TestHostileChaos shares every handle among goroutines that call the
// whole public API in random order, with hostile values, while other
// goroutines flush, read the stats and metrics, and Shutdown races them.
// Sharing a Node or Run among goroutines breaks the documented contract, so
// the race detector reports the test's own misuse: it runs without -race.
func TestHostileChaos(t *testing.T) {
	if race.Enabled {
		t.Skip("shares handles against the concurrency contract; TestHostileChaosOwned runs under -race")
	}
	hostileChaos(t, false)
}

// TestHostileChaosOwned keeps the documented contract (one goroutine at
// a time on a Node and on a Run but for StartNode) for the race detector,
// sharing only open runs for StartNode and ended handles.
func TestHostileChaosOwned(t *testing.T) {
	hostileChaos(t, true)
}

func hostileChaos(t *testing.T, owned bool) {
	for round := 0; round < 6; round++ {
		sink := &MemorySink{}
		opts := []Option{WithSink(sink), WithBatch(8, time.Millisecond), WithLimits(Limits{RunsInFlight: 64, NodesPerRun: 16, Attrs: 4, Events: 4, ValueBytes: 64}), WithIdleTimeout(20 * time.Millisecond)}
		if round%2 == 1 {
			opts = append(opts, WithOverflow(Block, 5*time.Millisecond), WithRingCapacity(4), WithShards(1), WithStackTraces(true))
		}
		if round%3 == 2 {
			s, _ := TraceIDRatio(0.5)
			opts = append(opts, WithSampler(s), WithTailSampling(TailPolicy{}))
		}
		e, err := New(opts...)
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var runs []Run   // open or ended runs: StartNode may be called on any
		var ended []Node // nodes their owner ended: stale for every goroutine
		share := func(list *[]Run, h Run) {
			mu.Lock()
			if len(*list) > 200 {
				*list = (*list)[1:]
			}
			*list = append(*list, h)
			mu.Unlock()
		}
		pickShared := func(r *rand.Rand) Run {
			mu.Lock()
			defer mu.Unlock()
			if len(runs) == 0 {
				return Run{}
			}
			return runs[r.IntN(len(runs))]
		}
		pickEnded := func(r *rand.Rand) Node {
			mu.Lock()
			defer mu.Unlock()
			if len(ended) == 0 {
				return Node{}
			}
			return ended[r.IntN(len(ended))]
		}
		big := strings.Repeat("é", 100) + "\xff"
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for g := 0; g < 6; g++ {
			wg.Add(1)
			go func(seed uint64) {
				defer wg.Done()
				r := rand.New(rand.NewPCG(seed, uint64(round)))
				var myRuns []Run
				var myNodes []Node
				pickRun := func(r *rand.Rand) Run {
					if !owned {
						return pickShared(r)
					}
					if len(myRuns) == 0 {
						return Run{}
					}
					return myRuns[r.IntN(len(myRuns))]
				}
				pickNode := func(r *rand.Rand) Node {
					if !owned || r.IntN(4) == 0 {
						return pickEnded(r)
					}
					if len(myNodes) == 0 {
						return Node{}
					}
					return myNodes[r.IntN(len(myNodes))]
				}
				keepNode := func(n Node) {
					if len(myNodes) > 50 {
						myNodes = myNodes[1:]
					}
					myNodes = append(myNodes, n)
				}
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					switch r.IntN(24) {
					case 0, 1:
						parent := pickRun(r).SpanContext()
						run := e.StartRun(RunInfo{FlowID: big, Question: big, Parent: parent})
						share(&runs, run)
						if len(myRuns) > 50 {
							myRuns = myRuns[1:]
						}
						myRuns = append(myRuns, run)
					case 2, 3:
						keepNode(pickShared(r).StartNode(big, "llm", big))
					case 4:
						keepNode(pickNode(r).StartChild("c", "tool", "c"))
					case 5:
						pickNode(r).Input(String(big, big), Float64("nan", math.NaN()), Float64("inf", math.Inf(-1)), Int64("min", math.MinInt64), Bytes("b", []byte(big)))
					case 6:
						pickNode(r).Output(Duration("d", -time.Hour))
					case 7:
						n := pickNode(r)
						n.End()
						mu.Lock()
						if len(ended) > 200 {
							ended = ended[1:]
						}
						ended = append(ended, n)
						mu.Unlock()
					case 8:
						pickNode(r).Usage(Usage{PromptTokens: -5, CompletionTokens: math.MaxInt64, TotalTokens: math.MinInt64})
					case 9:
						pickNode(r).FirstTokenCost(time.Duration(r.Int64()-math.MaxInt64/2) * 2)
					case 10:
						n := pickNode(r)
						n.FirstFrame()
						n.Chunk()
						n.Chunk()
					case 11:
						pickNode(r).RecordError(errors.New(big))
					case 12:
						pickNode(r).Cancel(big)
					case 13:
						pickNode(r).Fail(big)
					case 14:
						pickNode(r).Next(big, "", big)
					case 15:
						n := pickNode(r)
						n.SetAttributes(Bool("x", true))
						n.SetCode(-1)
						n.SetSpanKind(SpanKind(r.IntN(300)))
						n.InfoEvent(String("k", big))
						n.ErrorEvent()
						n.LLMOutput(big)
					case 16:
						pickRun(r).End(r.IntN(3)-1, big)
					case 17:
						run := pickRun(r)
						run.Srv(big, big)
						run.SrvTag("", big)
						run.Answer(big)
						run.FirstFrame()
						run.Info(big)
						run.Error(big)
						run.SetAttributes(Int("i", i))
						_ = run.SID()
						_ = run.IsRecording()
					case 18:
						_ = e.Stats()
					case 19:
						_ = e.AppendPrometheus(nil)
						_ = e.Bottlenecks()
					case 20:
						ctx, cancel := context.WithTimeout(context.Background(), time.Duration(r.IntN(3))*time.Millisecond)
						_ = e.ForceFlush(ctx)
						cancel()
					case 21:
						e.RecordRequest(big, big, int64(r.IntN(5)), time.Duration(r.Int64N(1e9))-time.Second)
						e.RequestSeries(big, "", -1).Record(-1)
					case 22:
						n := pickNode(r)
						_ = n.SpanContext()
						_ = n.IsRecording()
						n.Config(String("c", big))
						n.Info(big)
						n.Error(big)
					case 23:
						_ = e.Resource()
					}
				}
			}(uint64(g))
		}
		time.Sleep(150 * time.Millisecond)
		var sw sync.WaitGroup
		for k := 0; k < 2; k++ {
			sw.Add(1)
			go func() {
				defer sw.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				if err := e.Shutdown(ctx); err != nil {
					t.Errorf("Shutdown: %v", err)
				}
			}()
		}
		sw.Wait()
		time.Sleep(20 * time.Millisecond)
		close(stop)
		wg.Wait()
		s := e.Stats()
		checkDrained(t, fmt.Sprint("round ", round), s)
		if err := e.Shutdown(context.Background()); err != nil {
			t.Fatalf("second Shutdown: %v", err)
		}
		t.Logf("round %d: %+v", round, s)
	}
}
