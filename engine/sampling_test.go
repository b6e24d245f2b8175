package engine

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/sampling"
	"github.com/flowtel/flowtel/internal/w3c"
)

func randTraceID(r *rand.Rand) (id encode.TraceID) {
	for id.IsZero() {
		for i := range id {
			id[i] = byte(r.Uint32())
		}
	}
	return id
}

func TestSamplerFromEnv(t *testing.T) {
	tests := []struct {
		sampler, arg string
		want         string
		err          string
	}{
		{"", "", "parentbased_always_on", ""},
		{"always_on", "", "always_on", ""},
		{"always_off", "", "always_off", ""},
		{"parentbased_always_off", "", "parentbased_always_off", ""},
		{"traceidratio", "0.25", "traceidratio(0.25)", ""},
		{"parentbased_traceidratio", "", "parentbased_traceidratio(1)", ""},
		{"parentbased_traceidratio", "0", "parentbased_always_off", ""},
		{" TraceIdRatio ", "0.5", "traceidratio(0.5)", ""},
		{"always_on", "half", "always_on", ""}, // an argument always_on takes none of
		// What the specification ignores, with a warning: an argument
		// that is not a ratio is unset (1.0), a sampler name it does not
		// know is unset (parentbased_always_on). Each is reported.
		{"traceidratio", "1.5", "traceidratio(1)", "OTEL_TRACES_SAMPLER_ARG"},
		{"traceidratio", "-0.1", "traceidratio(1)", "OTEL_TRACES_SAMPLER_ARG"},
		{"parentbased_traceidratio", "NaN", "parentbased_traceidratio(1)", "OTEL_TRACES_SAMPLER_ARG"},
		{"traceidratio", "half", "traceidratio(1)", "OTEL_TRACES_SAMPLER_ARG"},
		{"traceidratio", "Inf", "traceidratio(1)", "OTEL_TRACES_SAMPLER_ARG"},
		{"traceidratio", "1e400", "traceidratio(1)", "OTEL_TRACES_SAMPLER_ARG"},
		{"jaeger_remote", "", "parentbased_always_on", "OTEL_TRACES_SAMPLER"},
		{"parentbased_xray", "0.5", "parentbased_always_on", "OTEL_TRACES_SAMPLER"},
		{"parentbased_", "", "parentbased_always_on", "OTEL_TRACES_SAMPLER"},
	}
	for _, tt := range tests {
		env := map[string]string{"OTEL_TRACES_SAMPLER": tt.sampler, "OTEL_TRACES_SAMPLER_ARG": tt.arg}
		s, err := SamplerFromEnv(func(k string) string { return env[k] })
		if s.String() != tt.want {
			t.Errorf("%q %q: %v, want %s", tt.sampler, tt.arg, s, tt.want)
		}
		if tt.err == "" && err != nil {
			t.Errorf("%q %q: %v", tt.sampler, tt.arg, err)
		}
		if tt.err != "" && (err == nil || !errors.Is(err, ErrInvalidSampler) || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%q %q: error %v, want one naming %s", tt.sampler, tt.arg, err, tt.err)
		}
	}
	// A hostile value is reported on one short line.
	for _, v := range []string{strings.Repeat("\n\x1b[31mlevel=ERROR ", 1<<16), "\xff\xfe" + strings.Repeat("é", 100)} {
		for _, env := range []map[string]string{{"OTEL_TRACES_SAMPLER": v}, {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": v}} {
			_, err := SamplerFromEnv(func(k string) string { return env[k] })
			if err == nil || len(err.Error()) > 400 || strings.ContainsAny(err.Error(), "\n\x1b") {
				t.Errorf("hostile value reported as %.300q", err)
			}
		}
	}
}

// TestHeadRatioConsistent is the consistent-ratio property across two
// engines: the same trace ids at the same ratio give the same decisions,
// and a lower ratio's sampled set is a subset of a higher one's. A sampled
// root carries its threshold as th.
func TestHeadRatioConsistent(t *testing.T) {
	ratios := []float64{1, 0.5, 0.1, 0.01}
	var a, b []Sampler
	for _, p := range ratios {
		s1, err := TraceIDRatio(p)
		if err != nil {
			t.Fatal(err)
		}
		s2, _ := TraceIDRatio(p)
		a, b = append(a, ParentBased(s1)), append(b, s2)
	}
	r := rand.New(rand.NewPCG(1, 2))
	counts := make([]int, len(ratios))
	const n = 50000
	for range n {
		id := randTraceID(r)
		prev := true
		for i := range ratios {
			s1, ts1 := a[i].decide(headParent{}, id)
			s2, ts2 := b[i].decide(headParent{}, id)
			if s1 != s2 || ts1 != ts2 {
				t.Fatalf("ratio %v: two engines disagree on %x: %v %q / %v %q", ratios[i], id, s1, ts1, s2, ts2)
			}
			if s1 && !prev {
				t.Fatalf("%x sampled at %v but not at %v", id, ratios[i], ratios[i-1])
			}
			prev = s1
			if s1 {
				counts[i]++
				ts, err := w3c.ParseTraceState(ts1)
				ot, _ := ts.Get("ot")
				o := sampling.ParseOT(ot)
				if err != nil || !o.HasTh || o.Th != a[i].th {
					t.Fatalf("sampled root tracestate %q", ts1)
				}
			} else if ts1 != "" {
				t.Fatalf("unsampled root carries %q", ts1)
			}
		}
	}
	for i, p := range ratios {
		if got := float64(counts[i]) / n; got < p*0.9-0.002 || got > p*1.1+0.002 {
			t.Fatalf("ratio %v sampled %v", p, got)
		}
	}
}

// TestHeadParentBased checks parent-based joins: the caller's flag is
// followed whatever the root sampler; a th the caller's own randomness
// contradicts is erased; an independent ratio sampler decides by itself.
func TestHeadParentBased(t *testing.T) {
	half, _ := TraceIDRatio(0.5)
	low := encode.TraceID{9: 0x10}  // randomness 0x10000000000000 < th:8
	high := encode.TraceID{9: 0xc0} // randomness 0xc0000000000000 >= th:8
	for _, root := range []Sampler{AlwaysOn(), AlwaysOff(), half} {
		s := ParentBased(root)
		for _, sampled := range []bool{false, true} {
			got, ts := s.decide(headParent{joined: true, sampled: sampled, random: true, traceState: "a=1"}, low)
			if got != sampled || ts != "a=1" {
				t.Fatalf("%v: caller sampled=%v gave %v %q", s, sampled, got, ts)
			}
		}
	}
	s := ParentBased(AlwaysOn())
	if _, ts := s.decide(headParent{joined: true, sampled: true, random: true, traceState: "a=1,ot=th:8;x:y"}, high); ts != "a=1,ot=th:8;x:y" {
		t.Fatalf("consistent th changed: %q", ts)
	}
	if _, ts := s.decide(headParent{joined: true, sampled: true, random: true, traceState: "a=1,ot=th:8;x:y"}, low); ts != "ot=x:y,a=1" {
		t.Fatalf("inconsistent th kept: %q", ts)
	}
	if _, ts := s.decide(headParent{joined: true, sampled: true, random: true, traceState: "ot=th:8"}, low); ts != "" {
		t.Fatalf("inconsistent th kept: %q", ts)
	}
	// A caller that wrote th without rv decided on its trace-id, random
	// flag or not (the randomness is rv or the trace-id's): below th, the
	// th is as inconsistent as with the flag set.
	if _, ts := s.decide(headParent{joined: true, sampled: true, random: false, traceState: "ot=th:8"}, low); ts != "" {
		t.Fatalf("inconsistent th kept without the random flag: %q", ts)
	}
	if _, ts := s.decide(headParent{joined: true, sampled: true, random: false, traceState: "ot=th:8"}, high); ts != "ot=th:8" {
		t.Fatalf("consistent th changed without the random flag: %q", ts)
	}
	if _, ts := s.decide(headParent{joined: true, sampled: true, traceState: "ot=th:8;rv:c0000000000000"}, low); ts != "ot=th:8;rv:c0000000000000" {
		t.Fatalf("explicit rv not used: %q", ts)
	}
	ind := Independent(half)
	if got, _ := ind.decide(headParent{joined: true, sampled: true, random: true}, low); got {
		t.Fatal("independent ratio followed the caller")
	}
	if got, ts := ind.decide(headParent{joined: true, sampled: false, random: true, traceState: "a=1"}, high); !got || ts != "ot=th:8,a=1" {
		t.Fatalf("independent ratio: %v %q", got, ts)
	}
}

// tailRun makes an ended run.
func tailRun(r *rand.Rand, app, flow string, d time.Duration, code int64, nodeErr bool) *encode.Run {
	run := &encode.Run{TraceID: randTraceID(r), AppID: app, FlowID: flow, StartUnixNano: 1e9, EndUnixNano: 1e9 + int64(d), Code: code}
	if code != 0 {
		run.Status = encode.StatusError
	}
	n := &encode.Node{NodeID: "llm:1", NodeType: "llm", StartUnixNano: 1e9, EndUnixNano: 1e9 + int64(d)/2}
	if nodeErr {
		n.Status = encode.StatusError
	}
	run.Nodes = []*encode.Node{n}
	return run
}

// TestTailPolicyKeptSet checks, on a generated workload, that the kept set
// is exactly what the policy says: errors, failed nodes, slow runs, the
// consistent ratio of the rest, and rules per flow and app.
func TestTailPolicyKeptSet(t *testing.T) {
	p := TailPolicy{
		KeepErrors: true,
		SlowerThan: 500 * time.Millisecond,
		Ratio:      0.01,
		Rules: []TailRule{
			{FlowID: "chat", Policy: TailPolicy{KeepErrors: true, Ratio: 0.5}},
			{AppID: "quiet", Policy: TailPolicy{}},
			{AppID: "quiet", FlowID: "audit", Policy: TailPolicy{Ratio: 1}},
		},
	}
	ts, err := newTailSampler(&p)
	if err != nil {
		t.Fatal(err)
	}
	th1, _ := sampling.ThresholdFromProbability(0.01)
	th50, _ := sampling.ThresholdFromProbability(0.5)
	r := rand.New(rand.NewPCG(3, 4))
	kept := 0
	for i := range 20000 {
		app := []string{"a", "quiet"}[i%2]
		flow := []string{"f", "chat", "audit"}[i%3]
		d := time.Duration(r.IntN(1000)) * time.Millisecond
		code := int64(0)
		if r.IntN(50) == 0 {
			code = 3
		}
		run := tailRun(r, app, flow, d, code, r.IntN(40) == 0)
		failed := code != 0 || run.Nodes[0].Status == encode.StatusError
		rnd := sampling.TraceIDRandomness(run.TraceID)
		var want bool
		switch {
		case app == "quiet" && flow == "audit":
			want = true
		case flow == "chat":
			want = failed || rnd >= th50
		case app == "quiet":
			want = false
		default:
			want = failed || d > 500*time.Millisecond || rnd >= th1
		}
		if got := ts.keep(run, int64(i)); got != want {
			t.Fatalf("run %d (%s/%s %v code %d failed %v): kept %v, want %v", i, app, flow, d, code, failed, got, want)
		}
		if want {
			kept++
		}
	}
	t.Logf("kept %d of 20000", kept)
}

// TestTailPolicyRelativeSlow checks SlowestFraction against the flow's
// quantile, and that it waits for MinRunsForQuantile runs.
func TestTailPolicyRelativeSlow(t *testing.T) {
	ts, err := newTailSampler(&TailPolicy{SlowestFraction: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	var asked []float64
	ts.quantile = func(app, flow string, f float64, now int64) (int64, bool) {
		asked = append(asked, f)
		return int64(200 * time.Millisecond), flow == "known"
	}
	r := rand.New(rand.NewPCG(5, 6))
	for _, tt := range []struct {
		flow string
		d    time.Duration
		want bool
	}{
		{"known", 300 * time.Millisecond, true},
		{"known", 100 * time.Millisecond, false},
		{"young", time.Hour, false},
	} {
		if got := ts.keep(tailRun(r, "a", tt.flow, tt.d, 0, false), 0); got != tt.want {
			t.Fatalf("%s %v: kept %v", tt.flow, tt.d, got)
		}
	}
	if len(asked) != 3 || asked[0] != 0.01 {
		t.Fatalf("quantile asked %v", asked)
	}
}

// TestTailPolicyCap checks the cap's priority: errors win over slow runs,
// slow runs over the ratio, with the reserve learned from the previous
// second; refused runs are sampled out.
func TestTailPolicyCap(t *testing.T) {
	ts, err := newTailSampler(&TailPolicy{KeepErrors: true, SlowerThan: time.Second, Ratio: 1, MaxPerSecond: 10})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 8))
	sec := int64(time.Second)
	// Second 0: 20 ratio runs first, then 4 slow, then 4 errors. Without
	// history the ratio takes the first 10 places; nothing is left.
	var got []bool
	feed := func(now int64, n int, d time.Duration, code int64) {
		for range n {
			got = append(got, ts.keep(tailRun(r, "a", "f", d, code, false), now))
		}
	}
	count := func(from, to int) (k int) {
		for _, g := range got[from:to] {
			if g {
				k++
			}
		}
		return k
	}
	feed(0, 20, time.Millisecond, 0)
	feed(1, 4, 2*time.Second, 0)
	feed(2, 4, time.Millisecond, 5)
	if a, b, c := count(0, 20), count(20, 24), count(24, 28); a != 10 || b != 0 || c != 0 {
		t.Fatalf("second 0: ratio %d slow %d errors %d", a, b, c)
	}
	// Second 1: the previous second saw 4 errors and 4 slow runs, so the
	// ratio may fill only 2 places, slow runs 6, errors all 10.
	got = got[:0]
	feed(sec, 20, time.Millisecond, 0)
	feed(sec+1, 4, 2*time.Second, 0)
	feed(sec+2, 4, time.Millisecond, 5)
	if a, b, c := count(0, 20), count(20, 24), count(24, 28); a != 2 || b != 4 || c != 4 {
		t.Fatalf("second 1: ratio %d slow %d errors %d", a, b, c)
	}
	// Second 3 (a gap): the reserve is forgotten.
	got = got[:0]
	feed(3*sec, 12, time.Millisecond, 0)
	if a := count(0, 12); a != 10 {
		t.Fatalf("second 3: ratio %d", a)
	}
}

// TestTailPolicyDecide checks the user function and its read-only view.
func TestTailPolicyDecide(t *testing.T) {
	var seen []string
	ts, err := newTailSampler(&TailPolicy{Decide: func(v RunView) TailDecision {
		seen = append(seen, v.FlowID())
		if v.NumNodes() != 1 || v.Node(0).Type() != "llm" || v.Duration() <= 0 {
			t.Errorf("view %+v", v)
		}
		switch v.FlowID() {
		case "keep":
			return TailKeep
		case "drop":
			return TailDrop
		}
		return TailDefault
	}})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(9, 10))
	for flow, want := range map[string]bool{"keep": true, "drop": false, "other": false} {
		if got := ts.keep(tailRun(r, "a", flow, time.Second, 1, false), 0); got != want {
			t.Fatalf("%s: kept %v", flow, got)
		}
	}
	if len(seen) != 3 {
		t.Fatalf("Decide called %d times", len(seen))
	}
}

func TestTailPolicyValidate(t *testing.T) {
	if ts, err := newTailSampler(&TailPolicy{RunLogAlways: true}); ts != nil || err != nil {
		t.Fatalf("the zero policy compiled to %v, %v", ts, err)
	}
	for _, p := range []TailPolicy{
		{SlowerThan: -1}, {SlowestFraction: 1}, {SlowestFraction: -0.1}, {Ratio: 1.1}, {Ratio: -1}, {MaxPerSecond: -1},
		{Rules: []TailRule{{FlowID: "x", Policy: TailPolicy{Ratio: 2}}}},
		{Rules: []TailRule{{FlowID: "x", Policy: TailPolicy{MaxPerSecond: 1}}}},
	} {
		if _, err := newTailSampler(&p); !errors.Is(err, ErrInvalidSampler) {
			t.Fatalf("%+v accepted: %v", p, err)
		}
		if err := p.Validate(); !errors.Is(err, ErrInvalidSampler) {
			t.Fatalf("%+v: Validate = %v, want what New says", p, err)
		}
	}
	if err := (TailPolicy{KeepErrors: true, Ratio: 0.1, RunLogAlways: true}).Validate(); err != nil {
		t.Fatalf("Validate refused a valid policy: %v", err)
	}
}

// TestWindowQuantile checks the quantile of a histogram less its past
// state: only the values recorded since count.
func TestWindowQuantile(t *testing.T) {
	var cur, base []hdrBucket
	for v := int64(1); v <= 100; v++ {
		cur = append(cur, hdrBucket{v, 2})
		if v <= 50 {
			base = append(base, hdrBucket{v, 2})
		}
	}
	base = append(base, hdrBucket{200, 5}) // a bucket since emptied cannot go negative
	for _, tt := range []struct {
		p    float64
		want int64
	}{{0.99, 100}, {0.5, 75}, {0.01, 51}, {1, 100}} {
		if v, n := windowQuantile(cur, base, tt.p); v != tt.want || n != 100 {
			t.Fatalf("p %v: %d of %d, want %d of 100", tt.p, v, n, tt.want)
		}
	}
	if v, n := windowQuantile(cur, nil, 0.5); v != 50 || n != 200 {
		t.Fatalf("no base: %d of %d", v, n)
	}
	if _, n := windowQuantile(cur, cur, 0.5); n != 0 {
		t.Fatalf("nothing new: %d", n)
	}
}
