package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/sampling"
	"github.com/flowtel/flowtel/internal/testkit"
	"github.com/flowtel/flowtel/internal/w3c"
)

// exportedOT returns the ot entry of an exported run's tracestate.
func exportedOT(t *testing.T, r *encode.Run) sampling.OT {
	t.Helper()
	ts, err := w3c.ParseTraceState(r.TraceState)
	if err != nil {
		t.Fatalf("exported tracestate %q: %v", r.TraceState, err)
	}
	ot, _ := ts.Get(sampling.OTKey)
	return sampling.ParseOT(ot)
}

// TestTailRatioRaisesTh checks the threshold an exported span carries
// after a tail Ratio: a run the ratio keeps was sampled with the higher of
// the head's threshold and the ratio's, and its th must say so, or a
// backend counting spans by their adjusted count (1/probability) counts
// it as if the ratio had not applied. A run kept as failed was kept
// whatever its randomness: its th stays the head's.
func TestTailRatioRaisesTh(t *testing.T) {
	tail, _ := sampling.ThresholdFromProbability(0.25) // th:c
	e, sink := newTestEngine(t, WithTailSampling(TailPolicy{KeepErrors: true, Ratio: 0.25}))
	r := rand.New(rand.NewPCG(3, 4))
	failed := map[encode.TraceID]bool{}
	headTh := map[encode.TraceID]string{}
	for i := range 3000 {
		var parent SpanContext
		head := ""
		switch i % 3 {
		case 1:
			head = "8"
		case 2:
			head = "e"
		}
		if head != "" {
			th, _ := sampling.ParseTh(head)
			id := randTraceID(r)
			for sampling.TraceIDRandomness(id) < th {
				id = randTraceID(r) // a caller that sampled it consistently
			}
			parent = SpanContext{TraceID: id, SpanID: encode.SpanID{1}, TraceState: "a=1,ot=th:" + head, Sampled: true, Random: true}
		}
		run := e.StartRun(RunInfo{FlowID: "f", Parent: parent})
		code := 0
		if i%7 == 0 {
			code = 1
			failed[run.SpanContext().TraceID] = true
		}
		headTh[run.SpanContext().TraceID] = head
		run.End(code, "")
	}
	flush(t, e)
	runs := sink.Runs()
	if len(runs) == 0 {
		t.Fatal("nothing exported")
	}
	for i := range runs {
		x := &runs[i]
		ot := exportedOT(t, x)
		r := sampling.TraceIDRandomness(x.TraceID)
		want, wantSet := uint64(0), false
		if h := headTh[x.TraceID]; h != "" {
			want, _ = sampling.ParseTh(h)
			wantSet = true
		}
		if !failed[x.TraceID] {
			if r < tail {
				t.Fatalf("run %x kept below the ratio", x.TraceID)
			}
			want, wantSet = max(want, tail), true
		}
		if ot.HasTh != wantSet || ot.Th != want {
			t.Fatalf("run %x (failed %v, head th %q) exported with tracestate %q, want th %x (set %v)",
				x.TraceID, failed[x.TraceID], headTh[x.TraceID], x.TraceState, want, wantSet)
		}
	}
	checkIdentity(t, e.Stats())
}

// TestTailRatioReadsRv checks that the tail Ratio decides on the trace's
// randomness as the head does: the explicit rv of the ot entry when there
// is one, not the trace-id's, or the tail contradicts every other
// participant that read rv (a trace a 0.5 head keeps at every service is
// dropped here, one they all drop is kept).
func TestTailRatioReadsRv(t *testing.T) {
	e, sink := newTestEngine(t, WithTailSampling(TailPolicy{Ratio: 0.5}))
	lowID := encode.TraceID{0: 1}                                                // trace-id randomness 0
	highID := encode.TraceID{0: 2, 9: 0xff, 10: 0xff, 11: 0xff, 12: 0xff, 15: 1} // trace-id randomness >= th:8
	keep := SpanContext{TraceID: lowID, SpanID: encode.SpanID{1}, TraceState: "ot=rv:ffffffffffffff", Sampled: true, Random: true}
	drop := SpanContext{TraceID: highID, SpanID: encode.SpanID{1}, TraceState: "ot=rv:00000000000000", Sampled: true, Random: true}
	e.StartRun(RunInfo{Parent: keep}).End(0, "")
	e.StartRun(RunInfo{Parent: drop}).End(0, "")
	flush(t, e)
	runs := sink.Runs()
	if len(runs) != 1 || runs[0].TraceID != lowID {
		ids := []encode.TraceID{}
		for _, r := range runs {
			ids = append(ids, r.TraceID)
		}
		t.Fatalf("exported %x, want only %x (rv ff..ff passes th:8, rv 0 does not)", ids, lowID)
	}
	if got := runs[0].TraceState; got != "ot=th:8;rv:ffffffffffffff" {
		t.Fatalf("exported tracestate %q, want ot=th:8;rv:ffffffffffffff", got)
	}
	if s := e.Stats(); s.RunsSampledOut != 1 {
		t.Fatalf("runs sampled out %d, want 1", s.RunsSampledOut)
	}
}

// TestIndependentJoinTh checks the th a run joining a caller exports when
// its sampler decides by itself (OTEL_TRACES_SAMPLER without
// "parentbased_"): the threshold of its own decision, never the caller's.
// An independent AlwaysOn keeps every run, th:0, where it forwarded the
// caller's (a caller at 1% made each of its spans count 100 times); an
// independent ratio whose th no longer fits the ot entry erases it, where
// it forwarded the caller's (th:0 from a caller at 100% on a span kept
// at 10%).
func TestIndependentJoinTh(t *testing.T) {
	id := encode.TraceID{0: 1, 8: 0xff, 9: 0xff, 10: 0xff, 11: 0xff} // randomness >= every th here
	tenth, _ := TraceIDRatio(0.1)                                    // th:e666
	pad := strings.Repeat("x", 256-len("th:0;p:"))                   // an ot value of 256 characters
	for _, tt := range []struct {
		s          Sampler
		state      string
		want       string
		wantSample bool
	}{
		{Independent(AlwaysOn()), "a=1,ot=th:fd70a;rv:ffffffffffffff", "ot=th:0;rv:ffffffffffffff,a=1", true},
		{Independent(AlwaysOn()), "a=1,ot=x:y", "a=1,ot=x:y", true}, // no th: nothing to correct
		{Independent(AlwaysOn()), "a=1", "a=1", true},
		{Independent(tenth), "ot=th:0;p:" + pad, "ot=p:" + pad, true},
		{Independent(tenth), "a=1,ot=th:0", "ot=th:e666,a=1", true},
		// A sub-key ending in a space is valid inside the value, not
		// last, where removing the second th leaves it: the space goes,
		// where th:8 stayed (before 3edf732) or the ot entry went whole,
		// its rv with it.
		{Independent(tenth), "a=1,ot=th:8;x ;th:9", "ot=th:e666;x,a=1", true},
		{Independent(tenth), "ot=th:8;rv:ffffffffffffff;x ;th:9", "ot=th:e666;rv:ffffffffffffff;x", true},
		{ParentBased(AlwaysOn()), "a=1,ot=th:fd70a", "a=1,ot=th:fd70a", true},
	} {
		for _, sampled := range []bool{false, true} {
			got, ts := tt.s.decide(headParent{joined: true, sampled: sampled, random: true, traceState: tt.state}, id)
			if tt.s.independent || sampled {
				if got != tt.wantSample || ts != tt.want {
					t.Errorf("%v, caller sampled=%v %q: %v %q, want %v %q", tt.s, sampled, tt.state, got, ts, tt.wantSample, tt.want)
				}
			}
		}
	}
	// Through an engine, as exported.
	e, sink := newTestEngine(t, WithSampler(Independent(AlwaysOn())))
	parent := SpanContext{TraceID: id, SpanID: encode.SpanID{1}, TraceState: "ot=th:fd70a", Sampled: true, Random: true}
	run := e.StartRun(RunInfo{Parent: parent})
	if sc := run.SpanContext(); sc.TraceState != "ot=th:0" {
		t.Fatalf("propagates %q, want ot=th:0", sc.TraceState)
	}
	run.End(0, "")
	flush(t, e)
	if runs := sink.Runs(); len(runs) != 1 || runs[0].TraceState != "ot=th:0" {
		t.Fatalf("exported %+v, want one run with ot=th:0", runs)
	}
}

// TestTailCapCounted checks that a run the tail policy keeps but
// MaxPerSecond refuses is counted as such (Stats.RunsCapOut), apart from
// the runs the policy itself left out: a cap that throws away failed runs
// must show, not hide among the ratio's ordinary refusals.
func TestTailCapCounted(t *testing.T) {
	e, sink := newTestEngine(t, WithTailSampling(TailPolicy{KeepErrors: true, Ratio: 0.5, MaxPerSecond: 5}))
	th, _ := sampling.ThresholdFromProbability(0.5)
	const n = 200
	var policyKeeps uint64
	for i := range n {
		run := e.StartRun(RunInfo{FlowID: "f"})
		code := 0
		if i%2 == 0 {
			code = 1
		}
		if code != 0 || sampling.TraceIDRandomness(run.SpanContext().TraceID) >= th {
			policyKeeps++
		}
		run.End(code, "")
	}
	flush(t, e)
	s := e.Stats()
	checkIdentity(t, s)
	exported := uint64(len(sink.Runs()))
	if exported+s.RunsSampledOut != n || s.RunsHeadOut != 0 {
		t.Fatalf("exported %d + sampled out %d (head %d) != %d", exported, s.RunsSampledOut, s.RunsHeadOut, n)
	}
	if s.RunsCapOut == 0 || exported+s.RunsCapOut != policyKeeps {
		t.Fatalf("runs capped %d, exported %d: want the %d runs the policy keeps", s.RunsCapOut, exported, policyKeeps)
	}
}

// TestExportedThConsistent is the consistency rule of probability
// sampling as a property over chains of engines: whatever the samplers
// (parent-based or independent, AlwaysOn, AlwaysOff, ratios), the tail
// policies and the tracestate the first caller sends (th, rv, both, none,
// consistent or not), every run exported with a th has a randomness (its
// rv, else its trace-id's when the trace-id is random) at or above it,
// and every run a hop passes on as sampled with a th does too: a
// threshold a span carries is one it could have been sampled with.
func TestExportedThConsistent(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	ratios := []float64{1, 0.5, 0.25, 0.1, 0.01}
	samplers := []Sampler{ParentBased(AlwaysOn()), Independent(AlwaysOn()), ParentBased(AlwaysOff()), Independent(AlwaysOff())}
	for _, p := range ratios {
		s, _ := TraceIDRatio(p)
		samplers = append(samplers, ParentBased(s), Independent(s))
	}
	policies := []TailPolicy{{}, {Ratio: 0.5}, {KeepErrors: true, Ratio: 0.1}, {Ratio: 0.01}, {KeepErrors: true, Ratio: 0.25, MaxPerSecond: 1000}}
	const hops = 3
	var engines [hops]*Engine
	var sinks [hops]*MemorySink
	var names [hops]string
	randomness := func(sc SpanContext, ts string) (uint64, bool) {
		st, err := w3c.ParseTraceState(ts)
		if err != nil {
			t.Fatalf("tracestate %q: %v", ts, err)
		}
		v, _ := st.Get(sampling.OTKey)
		// rv, else the trace-id's, random flag or not: a th written
		// without rv was decided on the trace-id.
		return sampling.ParseOT(v).Randomness(sc.TraceID, true)
	}
	thOf := func(ts string) (uint64, bool) {
		st, _ := w3c.ParseTraceState(ts)
		v, _ := st.Get(sampling.OTKey)
		o := sampling.ParseOT(v)
		return o.Th, o.HasTh
	}
	for round := range 40 {
		for h := range hops {
			s, p := samplers[r.IntN(len(samplers))], policies[r.IntN(len(policies))]
			engines[h], sinks[h] = newTestEngine(t, WithSampler(s), WithTailSampling(p))
			names[h] = fmt.Sprintf("%v %+v", s, p)
		}
		for range 200 {
			id := randTraceID(r)
			states := []string{"", "ot=th:8", "ot=th:c", "ot=th:0", "ot=rv:" + fmt.Sprintf("%014x", r.Uint64()&(sampling.MaxThreshold-1)),
				"a=1,ot=th:e;rv:" + fmt.Sprintf("%014x", r.Uint64()&(sampling.MaxThreshold-1)), "ot=th:fd70a"}
			parent := SpanContext{TraceID: id, SpanID: encode.SpanID{1}, TraceState: states[r.IntN(len(states))],
				Sampled: r.IntN(4) != 0, Random: r.IntN(4) != 0}
			for h := range hops {
				run := engines[h].StartRun(RunInfo{FlowID: "f", Parent: parent})
				sc := run.SpanContext()
				if th, ok := thOf(sc.TraceState); ok && sc.Sampled {
					if rv, known := randomness(sc, sc.TraceState); known && rv < th {
						t.Fatalf("round %d hop %d (%s): caller %+v: passes on sampled %q, randomness %x below th %x",
							round, h, names[h], parent, sc.TraceState, rv, th)
					}
				}
				code := 0
				if r.IntN(5) == 0 {
					code = 1
				}
				run.End(code, "")
				parent = sc
			}
		}
		for h := range hops {
			flush(t, engines[h])
			for _, x := range sinks[h].Runs() {
				sc := SpanContext{TraceID: x.TraceID, Random: x.TraceFlags&w3c.FlagRandom != 0}
				if th, ok := thOf(x.TraceState); ok {
					if rv, known := randomness(sc, x.TraceState); known && rv < th {
						t.Fatalf("round %d hop %d (%s): exported %x with %q: randomness %x below th %x", round, h, names[h], x.TraceID, x.TraceState, rv, th)
					}
				}
			}
			checkIdentity(t, engines[h].Stats())
			_ = engines[h].Shutdown(context.Background())
		}
	}
}

// TestTailRuleRunLogAlwaysRefused: RunLogAlways applies to the whole
// policy (the run logs of every run sampled out); in a rule it was taken
// and did nothing, so the run logs of that flow's runs sampled out were
// not exported though the configuration asked for them. New refuses it,
// naming the rule, as it refuses a rule's Rules, MaxPerSecond and Decide.
func TestTailRuleRunLogAlwaysRefused(t *testing.T) {
	p := TailPolicy{Ratio: 0.1, Rules: []TailRule{{FlowID: "audit", Policy: TailPolicy{Ratio: 0.5, RunLogAlways: true}}}}
	if err := p.Validate(); !errors.Is(err, ErrInvalidSampler) || !strings.Contains(err.Error(), "Rules[0].Policy.RunLogAlways") {
		t.Fatalf("Validate = %v, want ErrInvalidSampler naming Rules[0].Policy.RunLogAlways", err)
	}
	e, err := New(WithSink(&MemorySink{}), WithTailSampling(p))
	if e != nil {
		_ = e.Shutdown(context.Background())
	}
	if !errors.Is(err, ErrInvalidSampler) {
		t.Fatalf("New = %v, want ErrInvalidSampler", err)
	}
}

// FuzzWithTh: for any valid tracestate and threshold, withTh returns a
// valid tracestate of at most w3c.MaxTraceStateBytes whose ot entry
// holds that th (or, set false or when it does not fit, none), whose rv
// and other ot sub-keys are the input's, and whose other members are the
// input's in their order (the right-most dropped past 32 members).
func FuzzWithTh(f *testing.F) {
	for _, s := range []string{"", "ot=th:8", "a=1,ot=th:8;rv:0123456789abcd;x:y", "ot=x:y", "a=1,b=2",
		"ot=th:0;p:" + strings.Repeat("x", 250), strings.Repeat("k=v,", 31) + "ot=th:1", "a=" + strings.Repeat("v", 250) + ",b=" + strings.Repeat("w", 250)} {
		f.Add(s, uint64(0xe666), true)
		f.Add(s, uint64(0), false)
	}
	f.Fuzz(func(t *testing.T, ts string, th uint64, set bool) {
		in, err := w3c.ParseTraceState(ts)
		if err != nil {
			return
		}
		th &= sampling.MaxThreshold - 1
		out := withTh(ts, th, set)
		st, err := w3c.ParseTraceState(out)
		if err != nil || len(out) > w3c.MaxTraceStateBytes {
			t.Fatalf("withTh(%q, %x, %v) = %q: %v", ts, th, set, out, err)
		}
		otIn, _ := in.Get(sampling.OTKey)
		otOut, _ := st.Get(sampling.OTKey)
		o, oIn := sampling.ParseOT(otOut), sampling.ParseOT(otIn)
		if set && o.HasTh && o.Th != th || !set && strings.Contains(";"+otOut, ";th:") {
			t.Fatalf("withTh(%q, %x, %v) = %q", ts, th, set, out)
		}
		if o.HasRv != oIn.HasRv || o.Rv != oIn.Rv {
			t.Fatalf("withTh(%q) = %q changed rv", ts, out)
		}
		if strings.Contains(";"+otOut, ";th:") && !o.HasTh {
			t.Fatalf("withTh(%q, %x) = %q: a th that does not parse", ts, th, out)
		}
		var keysIn, keysOut []string
		for k, v := range in.All() {
			if k != sampling.OTKey {
				keysIn = append(keysIn, k+"="+v)
			}
		}
		for k, v := range st.All() {
			if k != sampling.OTKey {
				keysOut = append(keysOut, k+"="+v)
			}
		}
		if len(keysOut) > len(keysIn) || !slices.Equal(keysOut, keysIn[:len(keysOut)]) || len(keysOut) < min(len(keysIn), w3c.MaxTraceStateMembers-1) {
			t.Fatalf("withTh(%q) = %q: members %v, want %v", ts, out, keysOut, keysIn)
		}
	})
}

// TestTailCapErasesTh: a policy with MaxPerSecond keeps the runs of a
// second in the order they end until the cap is full, whatever their
// randomness, so the probability a kept run had is unknown when it is
// exported. Its spans carried the head's th (or the tail ratio's), which
// a backend counting spans by 1/probability took at its word, missing
// every run the cap refused. They now carry no th, as OpenTelemetry asks
// of a stage whose probability is unknown; rv and the other entries stay,
// and the cap allocates nothing per run for a tracestate it has seen.
func TestTailCapErasesTh(t *testing.T) {
	half, _ := TraceIDRatio(0.5)
	e, sink := newTestEngine(t, WithSampler(half), WithTailSampling(TailPolicy{KeepErrors: true, Ratio: 0.25, MaxPerSecond: 40}))
	const rv = "00f067aa0ba902"
	for i := range 400 {
		info := RunInfo{FlowID: "f"}
		if i%2 == 1 {
			// A caller that sampled at 1/2 with an explicit rv above it.
			info.Parent = SpanContext{TraceID: encode.TraceID{1, byte(i)}, SpanID: encode.SpanID{1}, Sampled: true,
				TraceState: "a=1,ot=th:8;rv:f" + rv[1:]}
		}
		run := e.StartRun(info)
		run.End(i%3, "")
	}
	flush(t, e)
	s := e.Stats()
	checkIdentity(t, s)
	runs := sink.Runs()
	if len(runs) == 0 || s.RunsCapOut == 0 {
		t.Fatalf("%d runs exported, %d capped: the cap did not apply", len(runs), s.RunsCapOut)
	}
	joined := 0
	for _, r := range runs {
		if o := exportedOT(t, &r); o.HasTh {
			t.Fatalf("run %x exported %q: a th under a cap", r.TraceID, r.TraceState)
		}
		if strings.Contains(r.TraceState, "a=1") {
			joined++
			if o := exportedOT(t, &r); !o.HasRv || !strings.Contains(r.TraceState, "rv:f"+rv[1:]) {
				t.Fatalf("joined run exported %q: rv lost", r.TraceState)
			}
		}
	}
	if joined == 0 {
		t.Fatal("no joined run exported")
	}

	// No per-run allocation: the root's tracestate is the head sampler's
	// string, and a caller's repeats.
	ts, _ := newTailSampler(&TailPolicy{KeepErrors: true, MaxPerSecond: 1 << 30})
	roots := &encode.Run{TraceState: half.rootState, Code: 1, Status: encode.StatusError}
	now := int64(0)
	testkit.WantAllocs(t, 0, func() {
		roots.TraceState = half.rootState
		now++
		if !ts.keep(roots, now) || roots.TraceState != "" {
			t.Fatalf("kept with %q", roots.TraceState)
		}
	})
}
