package engine

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/sampling"
	"github.com/flowtel/flowtel/internal/testkit"
)

// sampledWorkload runs n runs through e, the same for any engine given
// the same seed: apps, flows, 1 to 3 nodes, node errors and run codes.
// Runs join callers with the trace ids of ids (sampled, random) so that
// decisions on trace-ids are comparable across engines. It returns the
// trace ids of the runs that failed.
func sampledWorkload(e *Engine, seed uint64, ids []encode.TraceID) map[encode.TraceID]bool {
	r := rand.New(rand.NewPCG(seed, seed+1))
	failed := map[encode.TraceID]bool{}
	for i, id := range ids {
		parent := SpanContext{TraceID: id, SpanID: encode.SpanID{1}, Sampled: true, Random: true}
		run := e.StartRun(RunInfo{AppID: []string{"a", "b"}[i%2], FlowID: []string{"f1", "f2", "f3"}[i%3], Parent: parent})
		bad := false
		for k := range 1 + r.IntN(3) {
			n := run.StartNode("n:1", []string{"llm", "plugin", "end"}[k], "x")
			if r.IntN(30) == 0 {
				n.RecordError(errors.New("tool failed"))
				bad = true
			}
			n.End()
		}
		code := 0
		if r.IntN(40) == 0 {
			code, bad = 10001, true
		}
		run.End(code, "")
		if bad {
			failed[id] = true
		}
	}
	return failed
}

func randIDs(n int, seed uint64) []encode.TraceID {
	r := rand.New(rand.NewPCG(seed, seed))
	ids := make([]encode.TraceID, n)
	for i := range ids {
		ids[i] = randTraceID(r)
	}
	return ids
}

func exportedIDs(sink *MemorySink) map[encode.TraceID]bool {
	out := map[encode.TraceID]bool{}
	for _, r := range sink.Runs() {
		out[r.TraceID] = true
	}
	return out
}

// comparableMetrics keeps the series whose values do not depend on how
// long runs took (counts, not bucket placement or sums) and that are not
// the engine's own export accounting.
func comparableMetrics(t *testing.T, e *Engine) map[string]float64 {
	out := promSamples(t, scrape(t, e))
	maps.DeleteFunc(out, func(k string, _ float64) bool {
		return strings.Contains(k, "_bucket") || strings.Contains(k, "_sum") || strings.HasPrefix(k, "flowtel_") ||
			strings.HasPrefix(k, "go_") || strings.HasPrefix(k, "process_")
	})
	return out
}

// TestTailSamplingEngine runs the same workload through an engine with a
// tail policy and one without: the sampled engine exports exactly the
// failed runs and the consistent 10 % of the rest, counts the others as
// sampled out with the identity holding, and both expose the same metrics.
func TestTailSamplingEngine(t *testing.T) {
	ids := randIDs(3000, 11)
	sampled, sinkS := newTestEngine(t, WithTailSampling(TailPolicy{KeepErrors: true, Ratio: 0.1}))
	plain, sinkP := newTestEngine(t)
	failed := sampledWorkload(sampled, 5, ids)
	if f2 := sampledWorkload(plain, 5, ids); !maps.Equal(failed, f2) {
		t.Fatal("workload not reproducible")
	}
	flush(t, sampled)
	flush(t, plain)

	th, _ := sampling.ThresholdFromProbability(0.1)
	want := map[encode.TraceID]bool{}
	for _, id := range ids {
		if failed[id] || sampling.TraceIDRandomness(id) >= th {
			want[id] = true
		}
	}
	if got := exportedIDs(sinkS); !maps.Equal(got, want) {
		t.Fatalf("exported %d runs, the policy keeps %d", len(got), len(want))
	}
	for _, r := range sinkS.Runs() {
		if r.TraceFlags != 3 {
			t.Fatalf("exported run carries flags %02x, want sampled and random", r.TraceFlags)
		}
	}
	if got := exportedIDs(sinkP); len(got) != len(ids) {
		t.Fatalf("unsampled engine exported %d of %d", len(got), len(ids))
	}
	sS, sP := sampled.Stats(), plain.Stats()
	checkIdentity(t, sS)
	checkIdentity(t, sP)
	if sS.Accepted != sP.Accepted || sS.Exported+sS.SampledOut != sP.Exported || sS.InFlight != 0 || sS.Dropped != 0 {
		t.Fatalf("sampled %+v, plain %+v", sS, sP)
	}
	if sS.RunsSampledOut != uint64(len(ids)-len(want)) || sS.RunsHeadOut != 0 || sP.RunsSampledOut != 0 {
		t.Fatalf("runs sampled out %d (head %d), want %d", sS.RunsSampledOut, sS.RunsHeadOut, len(ids)-len(want))
	}
	mS, mP := comparableMetrics(t, sampled), comparableMetrics(t, plain)
	if len(mP) == 0 || !maps.Equal(mS, mP) {
		for k, v := range mP {
			if mS[k] != v {
				t.Errorf("%s: sampled %v, plain %v", k, mS[k], v)
			}
		}
		t.Fatalf("metrics differ (%d series)", len(mP))
	}
	key := func(bs []Bottleneck) map[string][2]uint64 {
		out := map[string][2]uint64{}
		for _, b := range bs {
			out[b.NodeType] = [2]uint64{b.Count, b.Errors}
		}
		return out
	}
	if bS, bP := key(sampled.Bottlenecks()), key(plain.Bottlenecks()); len(bP) == 0 || !maps.Equal(bS, bP) {
		t.Fatalf("bottlenecks differ: %v vs %v", bS, bP)
	}
}

// TestHeadSamplingConsistentEngines is the consistent-ratio property
// across engines: runs joining the same random trace ids at the same ratio
// are exported alike by two engines, and a lower ratio exports a subset.
func TestHeadSamplingConsistentEngines(t *testing.T) {
	ids := randIDs(4000, 12)
	mk := func(p float64) *MemorySink {
		s, err := TraceIDRatio(p)
		if err != nil {
			t.Fatal(err)
		}
		e, sink := newTestEngine(t, WithSampler(Independent(s)))
		sampledWorkload(e, 6, ids)
		flush(t, e)
		checkIdentity(t, e.Stats())
		return sink
	}
	a, b, low := exportedIDs(mk(0.3)), exportedIDs(mk(0.3)), exportedIDs(mk(0.05))
	if !maps.Equal(a, b) {
		t.Fatalf("same ratio: %d and %d runs exported", len(a), len(b))
	}
	for id := range low {
		if !a[id] {
			t.Fatalf("%x exported at 5 %% but not at 30 %%", id)
		}
	}
	if len(low) == 0 || len(low) >= len(a) || len(a) > len(ids)*2/5 || len(a) < len(ids)/5 {
		t.Fatalf("exported %d at 30 %%, %d at 5 %% of %d", len(a), len(low), len(ids))
	}
}

// TestHeadSamplingJoins checks parent-based joins and the flags a run
// carries: a run joining an unsampled caller is neither exported nor
// passed on as sampled; a sampled caller's is; the random flag is kept as
// received, and set on traces flowtel starts. (propagation's
// TestSamplingFlags checks the same through the headers.)
func TestHeadSamplingJoins(t *testing.T) {
	e, sink := newTestEngine(t)
	id := encode.TraceID{0x4b, 0xf9, 15: 0x36}
	for _, tt := range []struct{ sampled, random bool }{{false, false}, {false, true}, {true, false}, {true, true}} {
		before := len(sink.Runs())
		run := e.StartRun(RunInfo{FlowID: "f", Parent: SpanContext{TraceID: id, SpanID: encode.SpanID{1}, Sampled: tt.sampled, Random: tt.random}})
		for _, sc := range []SpanContext{run.SpanContext(), run.StartNode("n:1", "n", "n").SpanContext()} {
			if sc.TraceID != id || sc.Sampled != tt.sampled || sc.Random != tt.random {
				t.Fatalf("caller %+v: span context %+v", tt, sc)
			}
		}
		run.End(0, "")
		flush(t, e)
		if got := len(sink.Runs()) - before; got != map[bool]int{true: 1}[tt.sampled] {
			t.Fatalf("caller %+v: %d runs exported", tt, got)
		}
	}
	root := e.StartRun(RunInfo{FlowID: "root"})
	if sc := root.SpanContext(); !sc.Sampled || !sc.Random {
		t.Fatalf("root run %+v", sc)
	}
	root.End(0, "")
	flush(t, e)
	s := e.Stats()
	checkIdentity(t, s)
	if s.RunsHeadOut != 2 || s.RunsSampledOut != 2 {
		t.Fatalf("head out %d, sampled out %d", s.RunsHeadOut, s.RunsSampledOut)
	}
	off, offSink := newTestEngine(t, WithSampler(AlwaysOff()))
	r := off.StartRun(RunInfo{})
	if sc := r.SpanContext(); sc.Sampled || !sc.Random {
		t.Fatalf("AlwaysOff root %+v", sc)
	}
	r.End(0, "")
	flush(t, off)
	if len(offSink.Runs()) != 0 || off.Stats().SampledOut != 1 {
		t.Fatalf("AlwaysOff exported %d, stats %+v", len(offSink.Runs()), off.Stats())
	}
}

// TestSamplingAllocs keeps the capture path's budgets with samplers on:
// a ratio root run and a parent-based join allocate what they did.
func TestSamplingAllocs(t *testing.T) {
	half, _ := TraceIDRatio(0.5)
	e, err := New(WithSampler(half), WithTailSampling(TailPolicy{KeepErrors: true, Ratio: 0.01, SlowestFraction: 0.01}))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	warm(t, e, 2048, 4)
	parent := SpanContext{TraceID: encode.TraceID{1, 2, 3, 9: 0xf0}, SpanID: encode.SpanID{1}, Sampled: true, Random: true,
		TraceState: "ot=th:8,rojo=00f067aa0ba902b7"}
	testkit.WantAllocs(t, 0, func() {
		r := e.StartRun(RunInfo{FlowID: "f"})
		r.StartNode("llm:1", "llm", "LLM").End()
		r.End(0, "")
	})
	testkit.WantAllocs(t, 0, func() {
		r := e.StartRun(RunInfo{FlowID: "f", Parent: parent})
		r.End(0, "")
	})
}

// BenchmarkSamplingDecision is the cost the decision adds per run on the
// pipeline: the head flag test and a tail policy of errors, a fixed and a
// relative slowness threshold and a ratio, and the head decision of a
// ratio root at StartRun.
func BenchmarkSamplingDecision(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	runs := make([]*encode.Run, 1024)
	for i := range runs {
		runs[i] = tailRun(r, "app", "flow", 0, 0, false)
	}
	b.Run("tail/errors+slow+ratio", func(b *testing.B) {
		ts, _ := newTailSampler(&TailPolicy{KeepErrors: true, SlowerThan: 1e9, Ratio: 0.01})
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			ts.keep(runs[i&1023], int64(i))
		}
	})
	b.Run("tail/errors+slow+ratio+cap", func(b *testing.B) {
		ts, _ := newTailSampler(&TailPolicy{KeepErrors: true, SlowerThan: 1e9, Ratio: 0.01, MaxPerSecond: 100})
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			ts.keep(runs[i&1023], int64(i))
		}
	})
	b.Run("head/ratio-root", func(b *testing.B) {
		s, _ := TraceIDRatio(0.01)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			s.decide(headParent{}, runs[i&1023].TraceID)
		}
	})
	b.Run("head/parent-based-join", func(b *testing.B) {
		s := ParentBased(AlwaysOn())
		p := headParent{joined: true, sampled: true, random: true, traceState: "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			s.decide(p, runs[i&1023].TraceID)
		}
	})
	b.Run("head/parent-based-join-with-th", func(b *testing.B) {
		s := ParentBased(AlwaysOn())
		// A consistent th (th:0 keeps everything) is checked and kept.
		p := headParent{joined: true, sampled: true, random: true, traceState: "ot=th:0,rojo=00f067aa0ba902b7"}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			s.decide(p, runs[i&1023].TraceID)
		}
	})
}

// TestRunLogFollowsTrace checks the run-log setting: by default a run
// sampled out sends nothing; with RunLogAlways its run log still goes to a
// LogSink, its spans counted as sampled out all the same.
func TestRunLogFollowsTrace(t *testing.T) {
	for _, always := range []bool{false, true} {
		e, sink := newTestEngine(t, WithTailSampling(TailPolicy{KeepErrors: true, RunLogAlways: always}))
		ok := e.StartRun(RunInfo{FlowID: "ok"})
		ok.StartNode("n:1", "n", "n").End()
		ok.End(0, "")
		bad := e.StartRun(RunInfo{FlowID: "bad"})
		bad.End(10001, "failed")
		flush(t, e)
		s := e.Stats()
		checkIdentity(t, s)
		if len(sink.Runs()) != 1 || sink.Runs()[0].FlowID != "bad" || s.SampledOut != 2 || s.Exported != 1 {
			t.Fatalf("RunLogAlways=%v: exported %d runs, stats %+v", always, len(sink.Runs()), s)
		}
		logs := sink.LogRuns()
		if always != (len(logs) == 1) || always && (logs[0].FlowID != "ok" || len(logs[0].Nodes) != 1) {
			t.Fatalf("RunLogAlways=%v: %d run logs", always, len(logs))
		}
	}
}

// logCallSink is a MemorySink that also records the spans of the runs
// each ExportLogs call is given.
type logCallSink struct {
	MemorySink
	mu    sync.Mutex
	calls []int
}

func (s *logCallSink) ExportLogs(runs []*encode.Run) error {
	s.mu.Lock()
	s.calls = append(s.calls, encode.NumSpans(runs))
	s.mu.Unlock()
	return s.MemorySink.ExportLogs(runs)
}

// TestRunLogBatchBound checks that the run logs of runs sampled out
// (RunLogAlways) count toward a batch's size as the spans exported do: a
// batch of them leaves once it holds the batch's spans, rather than when
// the flush interval ends. Counted for the exported spans alone, every run
// of a workload sampling all out waited for the interval in one batch:
// with the load generator's 10,000 runs a second, RunsInFlight refused 99 %
// of the runs (engine.run_limit) and the sink encoded requests of tens of
// megabytes only to halve them.
func TestRunLogBatchBound(t *testing.T) {
	const batch, runs, nodes = 64, 200, 3
	sink := &logCallSink{}
	e, err := New(WithSink(sink), WithBatch(batch, time.Hour),
		WithTailSampling(TailPolicy{KeepErrors: true, RunLogAlways: true}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	for range runs {
		r := e.StartRun(RunInfo{FlowID: "ok"})
		for range nodes {
			r.StartNode("n:1", "n", "n").End()
		}
		r.End(0, "")
	}
	flush(t, e)
	checkIdentity(t, e.Stats())
	sink.mu.Lock()
	defer sink.mu.Unlock()
	total := 0
	for _, n := range sink.calls {
		// A batch leaves with the run that takes it to batch spans.
		if n > batch+nodes {
			t.Fatalf("an ExportLogs call took %d spans' run logs, more than a batch (%d) and a run: calls %v", n, batch, sink.calls)
		}
		total += n
	}
	if total != runs*(1+nodes) || len(sink.LogRuns()) != runs {
		t.Fatalf("run logs of %d spans, %d runs, want %d and %d", total, len(sink.LogRuns()), runs*(1+nodes), runs)
	}
}

// TestHeadSamplingKeepsMetrics checks that a head decision changes only
// what is exported: an engine sampling nothing exposes the same metrics as
// one sampling everything over the same workload.
func TestHeadSamplingKeepsMetrics(t *testing.T) {
	ids := randIDs(1000, 13)
	off, sinkOff := newTestEngine(t, WithSampler(Independent(AlwaysOff())))
	on, sinkOn := newTestEngine(t, WithSampler(Independent(AlwaysOn())))
	sampledWorkload(off, 7, ids)
	sampledWorkload(on, 7, ids)
	flush(t, off)
	flush(t, on)
	if len(sinkOff.Runs()) != 0 || len(sinkOn.Runs()) != len(ids) {
		t.Fatalf("exported %d and %d runs", len(sinkOff.Runs()), len(sinkOn.Runs()))
	}
	sOff := off.Stats()
	checkIdentity(t, sOff)
	if sOff.RunsHeadOut != uint64(len(ids)) || sOff.SampledOut != on.Stats().Exported {
		t.Fatalf("stats %+v", sOff)
	}
	if mOff, mOn := comparableMetrics(t, off), comparableMetrics(t, on); len(mOn) == 0 || !maps.Equal(mOff, mOn) {
		t.Fatalf("metrics differ: %v vs %v", mOff, mOn)
	}
}
