package engine

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/hdr"
	"github.com/flowtel/flowtel/internal/sampling"
	"github.com/flowtel/flowtel/internal/w3c"
)

// Sampling: which runs are exported. Every run is captured and folded into
// the metrics whatever is decided; only the trace (and, by default, the
// run log) of a run sampled out is not exported, and it is counted in
// Stats.SampledOut, apart from drops.
//
// Two decisions combine:
//
//   - The head decision, at StartRun, by a Sampler. It is what the run
//     propagates as its sampled flag to the services it calls. The default
//     is parent-based: a run joining a caller follows the caller's sampled
//     flag; a root run is sampled. A root decision by ratio is consistent
//     with OpenTelemetry's probability sampling: it compares the 56 random
//     bits of the trace-id with a threshold, and writes that threshold as
//     th in the ot tracestate entry, so every service sampling at the same
//     ratio keeps the same traces, and a lower ratio keeps a subset.
//   - The tail decision, once per ended run, by a TailPolicy: errors,
//     slow runs, a ratio of the rest, rules per flow or app, a cap per
//     second, and an optional function of the user. It sees only runs the
//     head kept: a run the head sampled out is never exported, since the
//     services around it were told not to record it.
//
// A run dropped by the tail decision has already told the services it
// called that it was sampled: they record and export their part, which
// then lacks this service's spans (their parent span is missing). Use the
// same consistent ratio everywhere, or tail rules that keep what callees
// keep (errors propagate as errors), when whole traces matter.

// ErrInvalidSampler reports a sampler setting that cannot be used.
var ErrInvalidSampler = errors.New("engine: invalid sampler")

// samplerKind is how a Sampler decides a root run.
type samplerKind uint8

const (
	sampleAlways samplerKind = iota
	sampleNever
	sampleRatio
)

// Sampler is a head sampling decision, made when a run starts. The zero
// Sampler is ParentBased(AlwaysOn()), the default.
type Sampler struct {
	kind        samplerKind
	independent bool   // decide joined runs too, ignoring the caller's flag
	th          uint64 // rejection threshold of sampleRatio
	thValue     string // "th:..." for the ot entry
	rootState   string // "ot=th:...", the tracestate of a sampled ratio root
	ratio       float64
}

// AlwaysOn samples every root run. A root run it samples carries no th
// (no ot tracestate entry): OpenTelemetry's SDK specification asks of
// AlwaysOn only that it sample, and the TraceState probability sampling
// guideline, which has the independent samplers AlwaysOn and
// TraceIDRatio encode the threshold of their probability (th:0 for
// AlwaysOn), writes no MUST or SHOULD for it; OpenTelemetry's SDKs' own
// AlwaysOn writes none. The default sampler so sends and exports no
// tracestate of its own (9 bytes more a span to encode and send, a
// header more on every call), and its spans have an unknown probability,
// as those of OpenTelemetry's default sampler do. TraceIDRatio(1) samples
// the same runs and writes th:0, for a backend that should be told; an
// Independent AlwaysOn writes th:0 over a caller's th, which it must not
// keep.
func AlwaysOn() Sampler { return Sampler{} }

// AlwaysOff samples no root run.
func AlwaysOff() Sampler { return Sampler{kind: sampleNever} }

// TraceIDRatio samples a fraction p of root runs, consistently with
// OpenTelemetry's probability sampling: a run is sampled when the 56 random
// bits of its trace-id reach the rejection threshold of p (rounded to 4
// significant hex digits of p and of 1-p, as the specification's reference
// algorithm rounds), and a sampled
// run carries that threshold as th in its ot tracestate entry. p = 0 is
// AlwaysOff and p = 1 AlwaysOn with th:0; p must be in [0, 1]. A p between
// 0 and 2^-56, the smallest probability a threshold expresses, samples
// as 2^-56 (th:ffffffffffffff), and String says so.
func TraceIDRatio(p float64) (Sampler, error) {
	switch {
	case p == 0:
		return Sampler{kind: sampleNever}, nil
	case !(p > 0 && p <= 1):
		return Sampler{}, fmt.Errorf("%w: ratio %v not in [0, 1]", ErrInvalidSampler, p)
	}
	p = max(p, sampling.MinProbability)
	th, err := sampling.ThresholdFromProbability(p)
	if err != nil {
		return Sampler{}, fmt.Errorf("%w: %w", ErrInvalidSampler, err)
	}
	thValue := "th:" + string(sampling.AppendTh(nil, th))
	return Sampler{kind: sampleRatio, th: th, thValue: thValue, rootState: sampling.OTKey + "=" + thValue, ratio: p}, nil
}

// ParentBased returns root for root runs; a run joining a caller follows
// the caller's sampled flag. It is the default, with root AlwaysOn. Of the
// specification's ParentBased, flowtel has root alone: the four optional
// delegates keep their defaults (a sampled parent, remote or local, is
// followed as AlwaysOn would, one not sampled as AlwaysOff would). To
// decide joined runs some other way, use Independent, or a TailPolicy.
func ParentBased(root Sampler) Sampler {
	root.independent = false
	return root
}

// Independent returns s deciding every run by itself, joined or not (the
// OTEL_TRACES_SAMPLER values without "parentbased_"). A ratio sampler stays
// consistent across services, since it reads the trace-id, not the caller.
// A run it samples carries its own threshold as th, not the caller's:
// th:0 under AlwaysOn when the caller's ot entry had a th.
func Independent(s Sampler) Sampler {
	s.independent = true
	return s
}

// String names the sampler as OTEL_TRACES_SAMPLER would.
func (s Sampler) String() string {
	name := [...]string{sampleAlways: "always_on", sampleNever: "always_off", sampleRatio: "traceidratio"}[s.kind]
	if !s.independent {
		name = "parentbased_" + name
	}
	if s.kind == sampleRatio {
		name += "(" + strconv.FormatFloat(s.ratio, 'g', -1, 64) + ")"
	}
	return name
}

// SamplerFromEnv reads OTEL_TRACES_SAMPLER (always_on, always_off,
// traceidratio and their parentbased_ forms, in any case; default
// parentbased_always_on) and OTEL_TRACES_SAMPLER_ARG (the ratio of
// traceidratio, 0 to 1; default 1.0) with getenv. It returns the sampler
// the specification gives whatever the values: an argument that is not
// a ratio is ignored (1.0), and so is a sampler name flowtel does not
// know (parentbased_always_on), each reported in err, which wraps
// ErrInvalidSampler and names the variable and its value (quoted in
// ASCII, cut to 32 bytes). The specification asks that such a value be
// logged and ignored, as otlp.NewFromEnv does; a program that prefers to
// refuse it returns err.
func SamplerFromEnv(getenv func(string) string) (Sampler, error) {
	raw := getenv("OTEL_TRACES_SAMPLER")
	name := strings.TrimSpace(strings.ToLower(raw))
	parent := true
	if rest, ok := strings.CutPrefix(name, "parentbased_"); ok {
		name = rest
		if name == "" {
			name = "?" // "parentbased_" alone names no sampler
		}
	} else if name != "" {
		parent = false
	}
	var s Sampler
	var err error
	switch name {
	case "", "always_on":
		s = AlwaysOn()
	case "always_off":
		s = AlwaysOff()
	case "traceidratio":
		s, _ = TraceIDRatio(1)
		if arg := strings.TrimSpace(getenv("OTEL_TRACES_SAMPLER_ARG")); arg != "" {
			v, perr := strconv.ParseFloat(arg, 64)
			r, rerr := TraceIDRatio(v)
			if perr != nil || rerr != nil {
				return sampleParent(s, parent), fmt.Errorf("%w: OTEL_TRACES_SAMPLER_ARG=%s is not a ratio in [0, 1]: ignored, the ratio is 1",
					ErrInvalidSampler, w3c.QuoteBounded(arg))
			}
			s = r
		}
	default:
		parent = true
		err = fmt.Errorf("%w: OTEL_TRACES_SAMPLER=%s is not always_on, always_off, traceidratio or their parentbased_ forms: ignored, the sampler is parentbased_always_on",
			ErrInvalidSampler, w3c.QuoteBounded(raw))
	}
	return sampleParent(s, parent), err
}

// sampleParent returns s parent-based or independent.
func sampleParent(s Sampler, parent bool) Sampler {
	if parent {
		return ParentBased(s)
	}
	return Independent(s)
}

// headParent is what the head decision needs of a caller.
type headParent struct {
	joined     bool
	sampled    bool
	random     bool // the caller's random trace-id flag
	traceState string
}

// decide returns the head decision for a run with trace-id id and the
// tracestate it carries. A root run's trace-id is random (flowtel draws
// it), and its tracestate is empty; a sampled ratio root gets "ot=th:...".
// A joined run keeps the caller's tracestate, except that a parent-based
// decision erases a th the caller's own flags contradict (a sampled
// caller whose randomness is below its threshold), and an independent
// decision that samples writes its own th: th:0 for AlwaysOn over a
// caller's th (it keeps every run, whatever the caller's probability),
// the ratio's threshold for a ratio, erased when it no longer fits the ot
// entry. Only those cases allocate.
func (s *Sampler) decide(p headParent, id encode.TraceID) (sampled bool, traceState string) {
	traceState = p.traceState
	if p.joined && !s.independent {
		if p.sampled && p.traceState != "" {
			traceState = eraseInconsistentTh(p.traceState, id)
		}
		return p.sampled, traceState
	}
	switch s.kind {
	case sampleAlways:
		if p.joined && strings.Contains(traceState, "th:") && callerTh(traceState) {
			traceState = withTh(traceState, 0, true)
		}
		return true, traceState
	case sampleNever:
		return false, traceState
	}
	ts, err := w3c.ParseTraceState(traceState)
	ot, _ := ts.Get(sampling.OTKey)
	r, ok := sampling.ParseOT(ot).Randomness(id, !p.joined || p.random)
	if !ok {
		// An unknown randomness: the trace-id is the only common value,
		// and OpenTelemetry presumes it random too (with a warning).
		r = sampling.TraceIDRandomness(id)
	}
	if !sampling.Keep(r, s.th) {
		return false, traceState
	}
	if !p.joined {
		return true, s.rootState
	}
	if err == nil {
		traceState = withTh(traceState, s.th, true)
	}
	return true, traceState
}

// callerTh reports whether the tracestate ts holds a valid th in its ot
// entry.
func callerTh(ts string) bool {
	st, err := w3c.ParseTraceState(ts)
	ot, _ := st.Get(sampling.OTKey)
	return err == nil && sampling.ParseOT(ot).HasTh
}

// eraseInconsistentTh returns ts without the th of its ot entry when that
// threshold says the trace should not have been sampled, as the
// specification asks of a parent-based sampler; else ts itself. Without
// rv the trace-id's randomness is read, random flag or not: a caller that
// wrote th decided on rv or on the trace-id, and decide presumes the same.
func eraseInconsistentTh(ts string, id encode.TraceID) string {
	if !strings.Contains(ts, "th:") {
		return ts // no threshold anywhere: nothing to check
	}
	st, err := w3c.ParseTraceState(ts)
	ot, found := st.Get(sampling.OTKey)
	if !found {
		return ts
	}
	o := sampling.ParseOT(ot)
	r, _ := o.Randomness(id, true)
	if !o.HasTh || sampling.Keep(r, o.Th) {
		return ts
	}
	if err != nil {
		return ts
	}
	return withTh(ts, 0, false)
}

// withTh returns the tracestate ts with the th of its ot entry set to t,
// or erased when set is false or when t does not fit (an ot value past
// 256 characters, a header past w3c.MaxTraceStateBytes): a span must not
// carry a threshold it was not sampled with, and one with none has an
// unknown probability, which the specification allows. An ot entry it
// changes moves to the front, as W3C asks of a vendor updating its entry.
// It returns ts itself, without allocating, when nothing changes, and ts
// unchanged when it is not a valid tracestate.
func withTh(ts string, t uint64, set bool) string {
	st, err := w3c.ParseTraceState(ts)
	if err != nil {
		return ts
	}
	ot, _ := st.Get(sampling.OTKey)
	v, fits := sampling.SetThreshold(ot, t, set)
	if !fits {
		v, _ = sampling.SetThreshold(ot, 0, false)
	}
	if v == ot {
		return ts
	}
	if v == "" {
		return st.Delete(sampling.OTKey).String()
	}
	out, err := st.Insert(sampling.OTKey, v)
	if err != nil {
		// v is no valid value: a caller's sub-key ending in a space is now
		// last, where W3C wants no blank. The space goes, not the entry,
		// whose rv the next participants decide on.
		out, err = st.Insert(sampling.OTKey, strings.TrimRight(v, " "))
	}
	if err != nil {
		return st.Delete(sampling.OTKey).String() // rather than keep a th it should not
	}
	if s := out.String(); len(s) <= w3c.MaxTraceStateBytes || !set {
		return s
	}
	return withTh(ts, 0, false)
}

// TailDecision is what a TailPolicy's Decide function says of a run.
type TailDecision int8

// Tail decisions.
const (
	// TailDefault leaves the run to the policy's rules.
	TailDefault TailDecision = iota
	// TailKeep keeps the run, with the priority of an error under the cap.
	TailKeep
	// TailDrop samples the run out.
	TailDrop
)

// TailRule is a policy for the runs of one flow, one app, or one flow of
// one app (an empty field matches any; New refuses a rule with both empty,
// two rules for the same app and flow, and a rule whose AppID or FlowID
// is longer than Limits.ValueBytes, to which a run's are cut). The most
// specific rule that matches a run applies instead of the policy's own
// fields (the app's flow, then the flow, then the app, whatever the
// order of Rules); its Decide is the policy's. A rule whose Policy sets
// no field keeps none of its runs (a zero TailPolicy given to
// WithTailSampling keeps every run: there is no tail sampling then);
// Ratio 1 keeps them all. Rules, MaxPerSecond, Decide and RunLogAlways
// apply to the whole policy: New refuses them in a rule.
type TailRule struct {
	AppID, FlowID string
	Policy        TailPolicy
}

// TailPolicy decides, once per ended run and before it is encoded, whether
// a run the head decision sampled is exported. The zero TailPolicy keeps
// every run (no tail sampling); a policy with any field set keeps a run
// when one of these holds:
//
//   - KeepErrors and the run failed: an error status (a non-zero code
//     unless the bridge set the status Ok, an incomplete run) or a node
//     with an error status;
//   - SlowerThan > 0 and the run lasted longer;
//   - SlowestFraction > 0 and the run is among the slowest of its flow:
//     longer than the (1-SlowestFraction) quantile of the runs of that app
//     and flow ended in the last 10 to 20 s (the engine's HDR request
//     histogram less its state one to two windows ago), recomputed once a
//     second (from one drain of every flow's histogram: a flow first seen
//     waits for the next), once the window holds MinRunsForQuantile runs;
//   - Ratio > 0 and the run's randomness reaches the threshold of Ratio
//     (the consistent decision of TraceIDRatio, on the explicit rv of the
//     run's ot tracestate entry when it has one, else on its trace-id).
//     A run so kept exports as th the higher of its head threshold and
//     Ratio's, the probability it was kept with; a run kept for an error
//     or as slow keeps the head's. Under MaxPerSecond no run exports a th
//     (see below).
//
// Rules override these fields per flow or app. MaxPerSecond, when set,
// caps the runs kept per second of the engine's clock: errors (and
// TailKeep) win over slow runs, and slow runs over the ratio — a lower
// class is kept only while the kept count stays under MaxPerSecond minus
// what the higher classes brought in the previous second. Runs refused by
// the cap are sampled out too, and counted in Stats.RunsCapOut. The cap
// bounds what the other fields keep: New refuses it without one of them
// (Ratio 1 keeps every run up to the cap). The cap admits runs in the order they end, whatever their randomness, so the
// probability a run it admits was kept with is unknown until its second
// ends, after the run is exported: a policy with MaxPerSecond erases the
// th of every run it keeps (rv and the rest of the tracestate stay), as
// OpenTelemetry's probability sampling asks of a stage whose probability
// is unknown, rather than export a threshold by which a backend would
// count the kept spans as all there were. Without a cap the th of every
// run kept is the probability it was kept with.
//
// Decide, when set, is called first with a read-only view of the run; a
// panic in it is recovered, the run dropped (DropPanic) and the error
// handler told (ErrPanic), and Decide is called for the next run. It
// runs on the engine's pipeline goroutine, once per ended run, so it must
// not block and should cost well under a microsecond (the pipeline
// spends a few hundred nanoseconds of CPU per span on a run, see
// PERFORMANCE.md's stage table): a map lookup or a few
// attribute reads are fine, a lock held by another goroutine or I/O is
// not. The view is valid only during the call.
type TailPolicy struct {
	KeepErrors      bool
	SlowerThan      time.Duration
	SlowestFraction float64
	Ratio           float64
	Rules           []TailRule
	MaxPerSecond    int
	Decide          func(RunView) TailDecision
	// RunLogAlways exports the run trace log of every run, sampled or not,
	// as the original system did; by default the log follows the trace.
	// The runs left out go to the sink's ExportLogs: New refuses it with a
	// sink that is not a LogSink.
	RunLogAlways bool
}

// MinRunsForQuantile is how many runs a flow's window needs before
// SlowestFraction applies to it.
const MinRunsForQuantile = 100

// active reports whether p samples at all (RunLogAlways alone does not).
func (p *TailPolicy) active() bool {
	return p.KeepErrors || p.SlowerThan > 0 || p.SlowestFraction > 0 || p.Ratio > 0 || len(p.Rules) > 0 ||
		p.MaxPerSecond > 0 || p.Decide != nil
}

// slowestFraction reports whether p or one of its rules sets
// SlowestFraction.
func (p *TailPolicy) slowestFraction() bool {
	return p.SlowestFraction > 0 || slices.ContainsFunc(p.Rules, func(r TailRule) bool { return r.Policy.SlowestFraction > 0 })
}

// Validate reports what New would refuse in p alone (a value out of
// range, a bad rule), naming the field, so that a program can check a
// policy from its flags or configuration before it builds the engine. New
// also refuses RunLogAlways with a sink that takes no run logs,
// SlowestFraction with MetricsConfig.SkipRunRequests, and a rule whose
// AppID or FlowID is longer than Limits.ValueBytes.
func (p TailPolicy) Validate() error {
	_, err := newTailSampler(&p)
	return err
}

// validate checks the fields once, at construction.
func (p *TailPolicy) validate(where string) error {
	switch {
	case p.SlowerThan < 0:
		return fmt.Errorf("%w: %sSlowerThan %v is negative", ErrInvalidSampler, where, p.SlowerThan)
	case !(p.SlowestFraction >= 0 && p.SlowestFraction < 1):
		return fmt.Errorf("%w: %sSlowestFraction %v not in [0, 1)", ErrInvalidSampler, where, p.SlowestFraction)
	case !(p.Ratio >= 0 && p.Ratio <= 1):
		return fmt.Errorf("%w: %sRatio %v not in [0, 1]", ErrInvalidSampler, where, p.Ratio)
	case p.MaxPerSecond < 0:
		return fmt.Errorf("%w: %sMaxPerSecond %d is negative", ErrInvalidSampler, where, p.MaxPerSecond)
	}
	return nil
}

// tailClass is why a run is kept, in priority order under the cap.
type tailClass uint8

const (
	tailDropped tailClass = iota
	tailError
	tailSlow
	tailRatio
	numTailClasses // the number of classes, for arrays indexed by class
)

// tailRule is a compiled policy: the fields the decision reads.
type tailRule struct {
	keepErrors bool
	slower     int64 // ns, 0 = off
	fraction   float64
	ratioTh    uint64
	ratio      bool
}

func compileTail(p *TailPolicy) (tailRule, error) {
	r := tailRule{keepErrors: p.KeepErrors, slower: int64(p.SlowerThan), fraction: p.SlowestFraction}
	if p.Ratio > 0 {
		th, err := sampling.ThresholdFromProbability(max(p.Ratio, sampling.MinProbability))
		if err != nil {
			return r, fmt.Errorf("%w: %w", ErrInvalidSampler, err)
		}
		r.ratioTh, r.ratio = th, true
	}
	return r, nil
}

// ruleKey finds a rule by app and flow; "" matches any.
type ruleKey struct{ app, flow string }

// tailSampler evaluates a TailPolicy. It belongs to the pipeline
// goroutine: nothing in it is shared.
type tailSampler struct {
	def      tailRule
	rules    map[ruleKey]*tailRule
	decide   func(RunView) TailDecision
	max      int
	window   int64               // start of the current second, engine clock
	kept     int                 // runs kept in the window
	seen     [numTailClasses]int // runs of each class that arrived in the window
	prevSeen [numTailClasses]int // and in the previous window
	// quantile returns the duration (ns) above which a run of app and
	// flow is among the slowest fraction, and whether it is known.
	quantile func(app, flow string, fraction float64, now int64) (int64, bool)
	// The last tracestate read and the last one rewritten: a root's is
	// the head sampler's own string, the same for every run, so that
	// neither is parsed, nor a new one built, once a run.
	otState     string
	ot          sampling.OT
	thIn, thOut string
	thInTh      uint64 // 0 while nothing is cached: raiseTh never writes th:0
	// capOut counts the runs the policy keeps and the cap refuses
	// (Stats.RunsCapOut); nil outside an engine.
	capOut *atomic.Uint64
	// panicked is the error of the last Decide that panicked, until the
	// pipeline drops its run (dropPanicked).
	panicked error
	// gate bounds the stacks of Decide's panics (the engine's; nil
	// outside an engine).
	gate *stackGate
	// The last tracestate whose th a cap erased, and the result.
	eraseIn, eraseOut string
}

// newTailSampler compiles p; it returns nil for the zero policy, which
// keeps every run.
func newTailSampler(p *TailPolicy) (*tailSampler, error) {
	if err := p.validate(""); err != nil {
		return nil, err
	}
	if !p.active() {
		return nil, nil
	}
	if p.MaxPerSecond > 0 && !p.KeepErrors && p.SlowerThan == 0 && p.SlowestFraction == 0 && p.Ratio == 0 && len(p.Rules) == 0 && p.Decide == nil {
		// The cap bounds what the other fields keep: alone, it keeps none.
		return nil, fmt.Errorf("%w: MaxPerSecond %d caps the runs the policy keeps, and no field keeps any (KeepErrors, SlowerThan, SlowestFraction, Ratio, Rules or Decide): every run would be sampled out; Ratio 1 keeps every run up to the cap",
			ErrInvalidSampler, p.MaxPerSecond)
	}
	def, err := compileTail(p)
	if err != nil {
		return nil, err
	}
	t := &tailSampler{def: def, decide: p.Decide, max: p.MaxPerSecond}
	if len(p.Rules) > 0 {
		t.rules = make(map[ruleKey]*tailRule, len(p.Rules))
	}
	for i := range p.Rules {
		rp := &p.Rules[i].Policy
		where := fmt.Sprintf("Rules[%d].Policy.", i)
		if err := rp.validate(where); err != nil {
			return nil, err
		}
		if len(rp.Rules) > 0 || rp.MaxPerSecond > 0 || rp.Decide != nil {
			return nil, fmt.Errorf("%w: %sRules, MaxPerSecond and Decide apply to the whole policy only", ErrInvalidSampler, where)
		}
		if rp.RunLogAlways {
			return nil, fmt.Errorf("%w: %sRunLogAlways applies to the whole policy only (the run logs of every run sampled out)", ErrInvalidSampler, where)
		}
		k := ruleKey{p.Rules[i].AppID, p.Rules[i].FlowID}
		if k == (ruleKey{}) {
			return nil, fmt.Errorf("%w: Rules[%d] names no AppID and no FlowID: it would apply to runs of neither alone (set the policy's own fields for every run)", ErrInvalidSampler, i)
		}
		if _, dup := t.rules[k]; dup {
			return nil, fmt.Errorf("%w: Rules[%d] names the AppID and FlowID of an earlier rule, which would always win", ErrInvalidSampler, i)
		}
		cr, err := compileTail(rp)
		if err != nil {
			return nil, err
		}
		t.rules[k] = &cr
	}
	return t, nil
}

// checkRuleIDs refuses a rule naming an app or flow id longer than
// valueBytes (Limits.ValueBytes): StartRun cuts a run's ids to it, so
// the rule would match no run, and its runs would take the policy's own
// fields, unseen.
func (p *TailPolicy) checkRuleIDs(valueBytes int) error {
	for i, r := range p.Rules {
		for _, f := range [...]struct{ name, id string }{{"AppID", r.AppID}, {"FlowID", r.FlowID}} {
			if len(f.id) > valueBytes {
				return fmt.Errorf("%w: Rules[%d].%s is %d bytes, more than Limits.ValueBytes (%d), to which a run's %s is cut: the rule would match no run",
					ErrInvalidSampler, i, f.name, len(f.id), valueBytes, f.name)
			}
		}
	}
	return nil
}

// rule returns the policy for a run of app and flow.
func (t *tailSampler) rule(app, flow string) *tailRule {
	if t.rules != nil {
		for _, k := range [...]ruleKey{{app, flow}, {"", flow}, {app, ""}} {
			if r, ok := t.rules[k]; ok {
				return r
			}
		}
	}
	return &t.def
}

// runFailed reports whether r ended in error or holds a node that did. A
// non-zero code fails the run unless its status is OK, which only the
// OpenTelemetry bridge sets and which is final, as the exported span says.
func runFailed(r *encode.Run) bool {
	if r.Status == encode.StatusError || (r.Code != 0 && r.Status != encode.StatusOK) {
		return true
	}
	for _, n := range r.Nodes {
		if n.Status == encode.StatusError {
			return true
		}
	}
	return false
}

// classify returns why the policy keeps r, or tailDropped, and for
// tailRatio the ratio's threshold.
func (t *tailSampler) classify(r *encode.Run, now int64) (tailClass, uint64) {
	if t.decide != nil {
		switch t.callDecide(r) {
		case TailKeep:
			return tailError, 0
		case TailDrop, tailPanicked:
			return tailDropped, 0
		}
	}
	p := t.rule(r.AppID, r.FlowID)
	if p.keepErrors && runFailed(r) {
		return tailError, 0
	}
	d := r.EndUnixNano - r.StartUnixNano
	if p.slower > 0 && d > p.slower {
		return tailSlow, 0
	}
	if p.fraction > 0 && t.quantile != nil {
		if q, ok := t.quantile(r.AppID, r.FlowID, p.fraction, now); ok && d > q {
			return tailSlow, 0
		}
	}
	if p.ratio && sampling.Keep(t.randomness(r), p.ratioTh) {
		return tailRatio, p.ratioTh
	}
	return tailDropped, 0
}

// tailPanicked is what callDecide returns for a Decide that panicked.
const tailPanicked TailDecision = -1

// callDecide calls the policy's Decide on r, once a run, recovering a
// panic: it runs on the pipeline goroutine, where a panic ended the
// process. The panic's error is left in t.panicked for the pipeline,
// which drops the run (DropPanic) rather than count it sampled out.
func (t *tailSampler) callDecide(r *encode.Run) (d TailDecision) {
	defer func() {
		if v := recover(); v != nil {
			d, t.panicked = tailPanicked, panicError(fmt.Sprintf("TailPolicy.Decide of a run of flow %.64q", r.FlowID), v, t.gate)
		}
	}()
	return t.decide(RunView{r})
}

// dropPanicked drops run r, of count nodes, whose tail decision panicked
// (tailSampler.panicked): its spans are counted under DropPanic, not as
// sampled out, and the error handler is told. It reports whether it did.
func (p *pipeline) dropPanicked(r *runRecord, count int) bool {
	t := p.e.tail
	if t == nil || t.panicked == nil {
		return false
	}
	err := t.panicked
	t.panicked = nil
	p.e.stats.panics.Add(1)
	p.e.stats.drop(DropPanic, uint64(1+count))
	if p.e.logSink != nil {
		p.e.stats.runLogsDropped.Add(1) // RunLogAlways: its run log goes with it
	}
	p.e.cfg.errorHandler(err)
	p.e.release(r)
	return true
}

// otOf returns the ot entry of the tracestate ts, valid (StartRun
// discards an invalid one).
func (t *tailSampler) otOf(ts string) sampling.OT {
	if ts == "" {
		return sampling.OT{}
	}
	if ts != t.otState {
		st, _ := w3c.ParseTraceState(ts)
		v, _ := st.Get(sampling.OTKey)
		t.otState, t.ot = ts, sampling.ParseOT(v)
	}
	return t.ot
}

// randomness returns the randomness of r's trace as the head decision
// reads it: the explicit rv of its ot entry, else its trace-id's (presumed
// random when the caller did not say, as OpenTelemetry presumes it), so
// that the tail ratio agrees with every participant at the same ratio.
func (t *tailSampler) randomness(r *encode.Run) uint64 {
	if o := t.otOf(r.TraceState); o.HasRv {
		return o.Rv
	}
	return sampling.TraceIDRandomness(r.TraceID)
}

// raiseTh gives r, kept by a ratio of threshold th, the threshold it was
// sampled with: the higher of the head's and th (a run without one was
// kept by the head whatever its randomness). A backend counts a span as
// 1/probability spans by its th; the head's alone would undercount what
// the tail ratio left out. A run kept for another reason (an error, a
// slow run) was kept whatever its randomness: its th stays the head's.
func (t *tailSampler) raiseTh(r *encode.Run, th uint64) {
	if o := t.otOf(r.TraceState); th == 0 || o.HasTh && o.Th >= th {
		return // Ratio 1 keeps whatever the head kept: nothing to raise
	}
	if r.TraceState != t.thIn || th != t.thInTh {
		t.thIn, t.thInTh, t.thOut = r.TraceState, th, withTh(r.TraceState, th, true)
	}
	r.TraceState = t.thOut
}

// keep decides r at engine-clock time now (ns), applying the cap, and
// sets the th of a run a ratio keeps.
func (t *tailSampler) keep(r *encode.Run, now int64) bool {
	c, th := t.classify(r, now)
	if !t.admit(c, now) {
		return false
	}
	switch {
	case t.max > 0:
		t.eraseTh(r)
	case c == tailRatio:
		t.raiseTh(r, th)
	}
	return true
}

// eraseTh removes the th of r's ot entry, for a run a policy with
// MaxPerSecond keeps. The cap admits the runs of a second in the order
// they end, whatever their randomness, until it is full: the probability
// a run was kept with is the policy's times the share of its second the
// cap let through, which is not known until the second ends, after the
// run is exported (a second that refuses nothing looks the same until it
// ends). A span whose probability is unknown must carry no threshold
// (OpenTelemetry's TraceState probability sampling: a stage that yields
// spans of unknown probability erases th), or a backend counting spans by
// their adjusted count (1/probability) would undercount what the cap
// left out. rv stays. Only a tracestate with a th is rebuilt, once for a
// run of the same tracestate as the last (a root's is the head sampler's
// string), so that the cap allocates nothing per run.
func (t *tailSampler) eraseTh(r *encode.Run) {
	ts := r.TraceState
	if !strings.Contains(ts, "th:") {
		return
	}
	if ts != t.eraseIn {
		t.eraseIn, t.eraseOut = ts, withTh(ts, 0, false)
	}
	r.TraceState = t.eraseOut
}

// admit applies the cap to a run of class c.
func (t *tailSampler) admit(c tailClass, now int64) bool {
	if t.max <= 0 {
		return c != tailDropped
	}
	if w := now - now%int64(time.Second); w != t.window {
		if w == t.window+int64(time.Second) {
			t.prevSeen = t.seen
		} else {
			t.prevSeen = [numTailClasses]int{}
		}
		t.window, t.kept, t.seen = w, 0, [numTailClasses]int{}
	}
	if c == tailDropped {
		return false
	}
	t.seen[c]++
	reserve := 0
	for hc := tailError; hc < c; hc++ {
		reserve += t.prevSeen[hc]
	}
	if t.kept >= t.max-min(reserve, t.max) {
		if t.capOut != nil {
			t.capOut.Add(1)
		}
		return false
	}
	t.kept++
	return true
}

// RunView is a read-only view of an ended run for a TailPolicy's Decide
// function, valid only during the call. The zero RunView is a run with no
// nodes, no attributes and every field zero.
type RunView struct{ r *encode.Run }

// zeroRun is what the zero RunView shows.
var zeroRun encode.Run

func (v RunView) run() *encode.Run {
	if v.r == nil {
		return &zeroRun
	}
	return v.r
}

// AppID returns the run's app id.
func (v RunView) AppID() string { return v.run().AppID }

// FlowID returns the run's flow id.
func (v RunView) FlowID() string { return v.run().FlowID }

// ServiceID returns the run's service id.
func (v RunView) ServiceID() string { return v.run().ServiceID }

// Code returns the run's return code (0 is success).
func (v RunView) Code() int64 { return v.run().Code }

// Failed reports whether the run ended in error (a non-zero code unless
// the bridge set the status Ok, an incomplete run) or holds a node that
// did.
func (v RunView) Failed() bool { return runFailed(v.run()) }

// Incomplete reports whether the engine closed the run (idle or shutdown).
func (v RunView) Incomplete() bool { return v.run().Incomplete }

// Duration returns how long the run lasted.
func (v RunView) Duration() time.Duration {
	r := v.run()
	return time.Duration(r.EndUnixNano - r.StartUnixNano)
}

// TraceID returns the run's trace id.
func (v RunView) TraceID() encode.TraceID { return v.run().TraceID }

// NumNodes returns the number of nodes the run holds.
func (v RunView) NumNodes() int { return len(v.run().Nodes) }

// Node returns the i-th node, in the order nodes ended; the zero NodeView
// when i is not in [0, NumNodes).
func (v RunView) Node(i int) NodeView {
	if ns := v.run().Nodes; uint(i) < uint(len(ns)) {
		return NodeView{ns[i]}
	}
	return NodeView{}
}

// Attr returns the value of the run attribute key, if set.
func (v RunView) Attr(key string) (encode.Value, bool) {
	for _, a := range v.run().Attrs {
		if a.Key == key {
			return a.Value, true
		}
	}
	return encode.Value{}, false
}

// NodeView is a read-only view of a node of a RunView. The zero NodeView
// is a node with every field zero.
type NodeView struct{ n *encode.Node }

// zeroNode is what the zero NodeView shows.
var zeroNode encode.Node

func (v NodeView) node() *encode.Node {
	if v.n == nil {
		return &zeroNode
	}
	return v.n
}

// ID returns the node id ("type:uuid").
func (v NodeView) ID() string { return v.node().NodeID }

// Type returns the node type.
func (v NodeView) Type() string { return v.node().NodeType }

// Name returns the node name.
func (v NodeView) Name() string { return v.node().NodeName }

// Failed reports whether the node ended with an error status.
func (v NodeView) Failed() bool { return v.node().Status == encode.StatusError }

// Duration returns how long the node lasted.
func (v NodeView) Duration() time.Duration {
	n := v.node()
	return time.Duration(n.EndUnixNano - n.StartUnixNano)
}

// flowQuantiles answers SlowestFraction from the engine's request
// histograms (server_request_time by app and flow). A flow's threshold is
// the quantile of the runs that ended in a recent window: the histogram now
// less its buckets as they were quantileWindow to twice that ago, so that
// the quick runs that end first when a workload starts, and any old
// regime, stop counting. It is recomputed at most once a second, for at
// most maxFlowQuantiles flows (a flow past them is never "slow" by this
// rule), from a pass that drains the histograms of every flow together
// once a second (hdr.Batch): each membarrier of a drain interrupts every
// running thread of the process, and drained one by one they made one per
// flow and P each second. A flow first asked for after a pass has no
// threshold until the next.
type flowQuantiles struct {
	m     *Metrics
	flows map[ruleKey]*flowQuantile
	batch hdr.Batch
	// passAt is the engine clock of the last pass, if passed.
	passAt int64
	passed bool
}

// hdrBucket is a populated HDR bucket: its lowest value and its count.
type hdrBucket struct{ v, c int64 }

type flowQuantile struct {
	h        *hdr.Histogram // the flow's series of server_request_time
	snap     hdr.Snapshot
	at       int64 // engine clock of the pass the buckets are from, if read
	read     bool
	drained  bool  // a pass has drained h
	rotated  int64 // engine clock of the last window rotation
	fraction float64
	th       int64 // ns
	ok       bool
	cur      []hdrBucket // the buckets of the pass at
	base     []hdrBucket // buckets one to two windows ago, subtracted
	next     []hdrBucket // buckets one window ago, the next base
}

// Quantile settings.
const (
	maxFlowQuantiles = 1024             // flows whose quantile is kept, as the metrics bound their series
	quantileWindow   = 10 * time.Second // runs ended in the last 10 to 20 s make the quantile
)

func newFlowQuantiles(m *Metrics) *flowQuantiles {
	return &flowQuantiles{m: m, flows: map[ruleKey]*flowQuantile{}}
}

func (f *flowQuantiles) get(app, flow string, fraction float64, now int64) (int64, bool) {
	if f.m.cfg.SkipRunRequests {
		return 0, false
	}
	k := ruleKey{app, flow}
	q := f.flows[k]
	if q == nil {
		if len(f.flows) >= maxFlowQuantiles {
			return 0, false
		}
		lv := hdr.LabelValues{f.m.label(app), f.m.label(flow)}
		q = &flowQuantile{h: f.m.reqTime.With(&lv), rotated: now}
		f.flows[k] = q
	}
	// Flags, not a sentinel time: now less math.MinInt64 wraps below a
	// second.
	if q.read && now-q.at < int64(time.Second) && q.fraction == fraction {
		return q.th, q.ok
	}
	if !f.passed || now-f.passAt >= int64(time.Second) {
		f.pass(now)
	}
	if !q.drained {
		return 0, false // asked for since the last pass
	}
	if !q.read || q.at != f.passAt {
		q.h.SnapshotDrained(&q.snap)
		q.cur = q.cur[:0]
		q.snap.ForEachBucket(func(v, c int64) bool {
			q.cur = append(q.cur, hdrBucket{v, c})
			return true
		})
		q.at, q.read = f.passAt, true
		if now-q.rotated >= int64(quantileWindow) {
			q.base, q.next = q.next, append(q.base[:0], q.cur...)
			q.rotated = now
		}
	}
	q.fraction = fraction
	v, n := windowQuantile(q.cur, q.base, 1-fraction)
	q.th, q.ok = v*int64(time.Microsecond), n >= MinRunsForQuantile
	return q.th, q.ok
}

// pass drains the histograms of every flow together.
func (f *flowQuantiles) pass(now int64) {
	for _, q := range f.flows {
		f.batch.Add(q.h)
		q.drained = true
	}
	f.batch.Drain()
	f.passAt, f.passed = now, true
}

// windowQuantile returns the value at quantile p of the buckets cur less
// base (both ascending by value, base a past state of the same histogram),
// and how many values that difference holds.
func windowQuantile(cur, base []hdrBucket, p float64) (value, n int64) {
	delta := func(yield func(v, c int64) bool) {
		j := 0
		for _, b := range cur {
			for j < len(base) && base[j].v < b.v {
				j++
			}
			c := b.c
			if j < len(base) && base[j].v == b.v {
				c -= base[j].c
			}
			if c > 0 && !yield(b.v, c) {
				return
			}
		}
	}
	delta(func(_, c int64) bool { n += c; return true })
	if n == 0 {
		return 0, 0
	}
	rank := int64(math.Ceil(p * float64(n)))
	var acc int64
	delta(func(v, c int64) bool {
		acc += c
		value = v
		return acc < rank
	})
	return value, n
}
