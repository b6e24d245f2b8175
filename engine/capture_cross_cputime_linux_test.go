//go:build linux

package engine

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"runtime/pprof"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/testkit"
)

var crossRounds = flag.Int("crossrounds", 3, "TestCaptureCrossCPUTime: rounds of the cross and same cases")

// TestCaptureCrossCPUTime prints, with -cputime, the caller's thread CPU
// time per span in the loadgen's synthetic shape (64 runs in flight, a
// node of each in turn, an LLM node with its tool call, nodes with next
// ids, a message node's log; StartRun and Run.End counted with the
// spans), with the pipeline's goroutine bound to the other CPU (cross:
// it reads and releases the records the caller reuses, as in the
// loadgen) or to the caller's (same: the records never leave the core).
// The difference is what lines moving between the cores cost the
// caller: the loadgen's capture stage took 259 ns a span on a quiet host
// and 148 squeezed onto one core. The pipeline's goroutine is bound by
// its sink, which locks it to its thread on its first batch (the engine
// never unlocks it) and sets the thread's CPU as the case asks. The
// median of 15 samples of 64 runs, per case and round:
//
//	go test -count=1 -run '^TestCaptureCrossCPUTime$' -v ./engine/ -cputime -crossrounds 3 | grep ^Benchmark
//
// At 120d4a2 (AMD EPYC, 2 vCPUs, a busy host), medians of 300 rounds:
// cross 336.0 ns a span, same 247.3. The cases are labelled for a CPU
// profile (-test.cpuprofile, pprof -tagfocus=case=cross): what cross
// added was stalls on lines the release had just written on the other
// core (the arena hands back the run record freed last), each at the
// first load or locked instruction after the stores: StartRun's store of
// the run's word (its encode.Run lines, reset by the release), reopen's
// first load of a node record, End's compare-and-swap, Next's append to
// the next ids' line, which nothing prefetched. Without StartNode's
// prefetch of the next record, cross took 175 ns a span where it took
// 133 (alternated in one process). Tried and not kept: that prefetch
// also asking for the next record's next id line took cross 368.5 ->
// 341.9, 386.8 -> 352.3, 367.4 -> 343.5 ns a span, its event line on top
// 328.4 -> 322.8, 279.5 -> 273.5, 316.7 -> 311.2 (medians of 2,000
// samples, alternated in one process), the hot caller unmoved; but the
// loadgen's process CPU per span was lower in 7 of 24 alternated pairs
// (medians of four sets of 6: 1,527 -> 1,718, 1,426 -> 1,556, 1,169 ->
// 1,178, 1,184 -> 1,354 ns, a host at load 20-30), as engine/doc.go's
// item (4) found without the other core.
// Prefetching the run record's StartRun lines and its first node when
// the arena hands it back: +2.0, +5.6, -3.6, +2.6 ns a span.
func TestCaptureCrossCPUTime(t *testing.T) {
	testkit.NeedTwoCPUs(t)
	sink := &pinSink{}
	sink.mask.Store(2)
	e, err := New(WithSink(sink), WithOverflow(Block, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	const open = 64
	var runs [open]Run
	info := RunInfo{FlowID: "flow"}
	llm := [7]Attr{String("gen_ai.operation.name", "chat"), String("gen_ai.provider.name", "openai"),
		String("gen_ai.request.model", "gpt-4o"), String("gen_ai.response.model", "gpt-4o"),
		Int64("gen_ai.usage.input_tokens", 10), Int64("gen_ai.usage.output_tokens", 20), String("gen_ai.response.id", "r1")}
	tool := [4]Attr{String("gen_ai.operation.name", "execute_tool"), String("gen_ai.tool.name", "search"),
		String("gen_ai.tool.call.id", "call_1"), String("gen_ai.tool.type", "function")}
	// A run: start, llm, tool, code, message, llm, tool, end (8 nodes, two
	// tool calls: 10 spans and the run's).
	kinds := [...]byte{'s', 'l', 't', 't', 'm', 'l', 't', 'e'}
	step := func(k byte) {
		for i := range runs {
			switch k {
			case 's':
				runs[i] = e.StartRun(info)
			case 'e':
				n := runs[i].StartNode("node-end:8", "node-end", "End")
				n.Input(attrs8[0], attrs8[1])
				n.Config(attrs8[6], attrs8[7])
				n.Output(attrs8[4], attrs8[5])
				n.Info("message sent to the user")
				n.End()
				runs[i].Answer("the answer")
				runs[i].End(0, "success")
				continue
			}
			n := runs[i].StartNode("tool:3", "tool", "Tool 3")
			n.Input(attrs8[0], attrs8[1])
			n.Config(attrs8[6], attrs8[7])
			switch k {
			case 'l':
				c := n.StartChild("tool-call:2", "tool", "search")
				c.SetSpanKind(SpanKindClient)
				c.SetAttributes(tool[:]...)
				n.FirstTokenCost(time.Millisecond)
				n.FirstFrame()
				n.Chunk()
				c.End()
				n.Chunk()
				n.SetAttributes(llm[:]...)
				n.Usage(Usage{PromptTokens: 10, CompletionTokens: 20, TotalTokens: 30})
				n.LLMOutput("the model's answer")
				n.Output(attrs8[4], attrs8[5])
			case 'm':
				n.Output(attrs8[4], attrs8[5])
				n.Info("message sent to the user")
			default:
				n.Output(attrs8[4], attrs8[5])
			}
			n.Next("tool:4")
			n.End()
		}
	}
	sample := func() int64 {
		t0 := testkit.ThreadCPU()
		for _, k := range kinds {
			step(k)
		}
		return testkit.ThreadCPU() - t0
	}
	const spans = open * 11 // 8 nodes, 2 tool calls, the run
	for range 200 {
		sample() // warm: records allocated, the clock calibrated
	}
	for range *crossRounds {
		for _, c := range []struct {
			name string
			mask uint64
		}{{"cross", 2}, {"same", 1}} {
			sink.mask.Store(c.mask)
			for range 20 {
				sample() // the pipeline moved, its records with it
			}
			var got [15]int64
			// Labelled, so that a profile (-cpuprofile) tells the cases apart.
			pprof.Do(context.Background(), pprof.Labels("case", c.name), func(context.Context) {
				for i := range got {
					got[i] = sample()
				}
			})
			sort.Slice(got[:], func(i, j int) bool { return got[i] < got[j] })
			fmt.Printf("BenchmarkCPUTime/CaptureCross/%s\t%d\t%.1f ns/op\n", c.name, len(got)*spans, float64(got[len(got)/2])/spans)
		}
	}
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := e.Stats(); s.Dropped != 0 || s.Exported != s.Accepted {
		t.Fatalf("accepted %d, exported %d, dropped %d", s.Accepted, s.Exported, s.Dropped)
	}
	if !sink.pinned.Load() {
		t.Fatal("the pipeline's goroutine was never bound to a CPU")
	}
}

// pinSink discards what it is handed, on the pipeline's goroutine, which
// it locks to its thread and binds to the CPUs of mask.
type pinSink struct {
	mask   atomic.Uint64
	pinned atomic.Bool
	cur    uint64 // the pipeline's goroutine's alone
}

func (s *pinSink) Export(runs []*encode.Run) error {
	if m := s.mask.Load(); m != s.cur {
		if s.cur == 0 {
			runtime.LockOSThread() // never unlocked: the engine's goroutine keeps its thread
		}
		if _, ok := testkit.SetAffinity(m); ok {
			s.cur = m
			s.pinned.Store(true)
		}
	}
	return nil
}

func (s *pinSink) ForceFlush(context.Context) error { return nil }
func (s *pinSink) Shutdown(context.Context) error   { return nil }
