package engine

import (
	"errors"
	"math"
	"strconv"
	"sync/atomic"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/hdr"
)

// The GenAI metrics. The first four are the OpenTelemetry GenAI semantic
// conventions' client metrics, version 1.41.0 (names, units, bucket bounds
// and attributes as they give them); that version defines no metric of
// tools, agents or workflows, nor of usage per application, so the last
// three are flowtel's own, named as its other metrics are. Prometheus
// names: the OTLP name with '.' as '_', then the unit's suffix
// (gen_ai_client_operation_duration_seconds, gen_ai_client_token_usage).
const (
	MetricGenAITokenUsage         = "gen_ai.client.token.usage"                     // histogram, {token}
	MetricGenAIOperationDuration  = "gen_ai.client.operation.duration"              // histogram, s
	MetricGenAITimeToFirstChunk   = "gen_ai.client.operation.time_to_first_chunk"   // histogram, s
	MetricGenAITimePerOutputChunk = "gen_ai.client.operation.time_per_output_chunk" // histogram, s
	MetricGenAIToolDuration       = "flowtel_gen_ai_tool_duration_seconds"          // histogram, s
	MetricGenAIWorkflowDuration   = "flowtel_gen_ai_workflow_duration_seconds"      // histogram, s
	MetricGenAITokens             = "flowtel_gen_ai_tokens_total"                   // counter, {token}
)

// The GenAI attribute keys the engine reads from Node.SetAttributes and
// writes as metric attributes (package genai names them for callers).
const (
	keyGenAIOperation    = "gen_ai.operation.name"
	keyGenAIProvider     = "gen_ai.provider.name"
	keyGenAISystem       = "gen_ai.system" // deprecated for gen_ai.provider.name
	keyGenAIRequestModel = "gen_ai.request.model"
	keyGenAIRespModel    = "gen_ai.response.model"
	keyGenAIInputTokens  = "gen_ai.usage.input_tokens"
	keyGenAIOutputTokens = "gen_ai.usage.output_tokens"
	keyGenAITokenType    = "gen_ai.token.type"
	keyGenAIToolName     = "gen_ai.tool.name"
	keyGenAIAgentName    = "gen_ai.agent.name"
	keyGenAIWorkflowName = "gen_ai.workflow.name"
	keyErrorType         = "error.type"
	keyServerAddress     = "server.address"
	keyServerPort        = "server.port"
	errorTypeOther       = "_OTHER" // the conventions' error.type when no better one is known
	unitSeconds          = "s"
	unitTokens           = "{token}"
)

// genAIDurationBounds and genAITokenBounds are the explicit bucket bounds
// the conventions give: seconds for the durations (time to first chunk
// and time per output chunk included), tokens for token usage.
var (
	genAIDurationBounds = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92}
	genAITokenBounds    = []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864}
	// genAIDurationMicros are genAIDurationBounds in microseconds, the
	// unit durations are recorded in; exact, so a bucket's count is exact.
	genAIDurationMicros = func() (b [genAIBounds]int64) {
		for i, s := range genAIDurationBounds {
			b[i] = int64(math.Round(s * 1e6))
		}
		return b
	}()
	genAITokenInts = func() (b [genAIBounds]int64) {
		for i, v := range genAITokenBounds {
			b[i] = int64(v)
		}
		return b
	}()
)

// genAIBounds is the number of bounds of every GenAI histogram.
const genAIBounds = 14

// boundedHist is a histogram over one family's fixed explicit bounds: the
// conventions give the bounds, so the counts per bucket are all it keeps
// (about 150 bytes a series, against an HDR histogram's 184 KiB per core).
// The pipeline goroutine records, into the fold (histFold), and adds the
// fold to the atomics once a drain (genAIMetrics.flush); collectors read
// the atomics. A collection counts the buckets it read, so _count always
// equals the +Inf bucket.
type boundedHist struct {
	counts [genAIBounds + 1]atomic.Uint64
	sum    atomic.Uint64 // microseconds or tokens
	// min and max hold the value plus one; zero is none yet.
	min, max atomic.Int64
	fold     histFold
}

// histFold is what the pipeline recorded into a boundedHist and has not
// yet added to it: plain memory, the pipeline goroutine's only. The
// pipeline is the histogram's one writer, so the fold holds its sum, min
// and max as they are once flushed (saturated as satAdd does, so that
// each record that saturates counts once, as it did when each record
// stored its sum), and the counts not yet added. Recording into the
// atomics took a locked add and, for the sum, a locked exchange (Store)
// per value, and the loadgen's LLM nodes record five values each:
// TestGenAIFoldCPUTime 80.80 -> 57.46 ns a GenAI node (6 alternated
// pairs, 6 of 6). observeRun, which flushes once a run, pays the flush
// per run instead (TestObserveRunCPUTime nodes=genai 69.29 -> 79.12).
type histFold struct {
	counts [genAIBounds + 1]uint64
	sum    uint64
	lo, hi int64
	// next is the histogram held after this one (genAIMetrics.held).
	next *boundedHist
	held bool
}

// record adds v (microseconds or tokens, never negative) to the bucket of
// the first bound at least v, in h's fold.
func (g *genAIMetrics) record(h *boundedHist, v int64, bounds *[genAIBounds]int64) {
	v = max(v, 0)
	f := g.hold(h)
	f.counts[genAIBucket(v, bounds)]++
	f.sum = g.satAdd(f.sum, uint64(v))
	f.minMax(v, v)
}

// hold returns h's fold, listed for the next flush.
func (g *genAIMetrics) hold(h *boundedHist) *histFold {
	f := &h.fold
	if !f.held {
		f.held, f.next, g.held = true, g.held, h
	}
	return f
}

// minMax widens the fold's min and max to lo and hi.
func (f *histFold) minMax(lo, hi int64) {
	if f.lo == 0 || lo+1 < f.lo {
		f.lo = lo + 1
	}
	f.hi = max(f.hi, hi+1)
}

// flush adds f's counts to h and stores its sum, min and max (one
// writer: a store where they changed).
func (f *histFold) flush(h *boundedHist) {
	for i, c := range &f.counts {
		if c != 0 {
			h.counts[i].Add(c)
			f.counts[i] = 0
		}
	}
	if h.sum.Load() != f.sum {
		h.sum.Store(f.sum)
	}
	if h.min.Load() != f.lo {
		h.min.Store(f.lo)
	}
	if h.max.Load() != f.hi {
		h.max.Store(f.hi)
	}
}

// satAdd returns the sum cur + v held at math.MaxInt64 (so that it
// exports as the same positive number as an int64 or a float64), counting
// each add that reached it in the fold's saturations. cur is at most
// math.MaxInt64.
func (g *genAIMetrics) satAdd(cur, v uint64) uint64 {
	if v > math.MaxInt64-cur {
		g.sat++
		return math.MaxInt64
	}
	return cur + v
}

// flush adds what the fold holds to the series and to
// Stats.SumsSaturated (sat): the pipeline calls it once a drain and
// before a batch leaves (Metrics.flushFold), so that a collection after
// a drain, Drain or ForceFlush sees every node the drain folded.
func (g *genAIMetrics) flush(sat *atomic.Uint64) {
	for h := g.held; h != nil; {
		f := &h.fold
		f.flush(h)
		h, f.next, f.held = f.next, nil, false
	}
	g.held = nil
	for s := g.heldApps; s != nil; {
		f := &s.fold
		if s.input.Load() != f.input {
			s.input.Store(f.input)
		}
		if s.output.Load() != f.output {
			s.output.Store(f.output)
		}
		s, f.next, f.held = f.next, nil, false
	}
	g.heldApps = nil
	if g.sat != 0 {
		sat.Add(g.sat)
		g.sat = 0
	}
}

// genAIBucket returns the bucket of v: the index of the first bound at
// least v, or genAIBounds above them all.
func genAIBucket(v int64, bounds *[genAIBounds]int64) int {
	i := 0
	for i < genAIBounds && v > bounds[i] {
		i++
	}
	return i
}

// genAIOpSeries is one series of the client operation metrics, token
// usage included: one lookup per call. The conventions give error.type to
// gen_ai.client.operation.duration only, so a collection merges, for the
// token usage and the chunk metrics, the series that differ only by it
// (the last label, genAIOpTokenLabels before it).
type genAIOpSeries struct{ dur, firstChunk, perChunk, input, output boundedHist }

// genAIAppSeries is one series of flowtel_gen_ai_tokens_total: its sums,
// and the fold of them (the pipeline's only, as histFold's).
type genAIAppSeries struct {
	input, output atomic.Uint64
	fold          appFold
}

// appFold is a genAIAppSeries' sums as they are once flushed, as
// histFold's.
type appFold struct {
	input, output uint64
	// next is the series held after this one (genAIMetrics.heldApps).
	next *genAIAppSeries
	held bool
}

// genAIMetrics are the GenAI families of Metrics.
type genAIMetrics struct {
	// ops: genAIOpLabels.
	ops *hdr.Vec[genAIOpSeries]
	// tools: gen_ai.tool.name, error.type.
	tools *hdr.Vec[boundedHist]
	// flows: gen_ai.operation.name, gen_ai.agent.name,
	// gen_ai.workflow.name, error.type.
	flows *hdr.Vec[boundedHist]
	// apps: app_id, func.
	apps *hdr.Vec[genAIAppSeries]
	// spanNames: name and kind GenAI spans as the conventions do
	// (WithGenAISpanNames).
	spanNames bool
	// delta belongs to Metrics.mu.
	delta genAIDelta
	// ports are the labels of the server.port values the fold has seen,
	// at most portLimit (the family's Limit), and lastPort (plus one) and
	// lastPortLabel the last one it used: the pipeline goroutine's only.
	ports         map[int64]string
	portLimit     int
	lastPort      int64
	lastPortLabel string
	// held and heldApps list the series whose fold holds what the
	// pipeline recorded since the last flush, sat the sums it saturated:
	// the pipeline goroutine's only.
	held     *boundedHist
	heldApps *genAIAppSeries
	sat      uint64
}

// genAIOpLabels are the labels of the client operation metrics: the
// attributes the conventions give them (required, conditionally required
// and recommended), error.type last, which all but the duration leave
// out (genAIOpTokenLabels).
var (
	genAIOpLabels = []string{keyGenAIOperation, keyGenAIProvider, keyGenAIRequestModel, keyGenAIRespModel,
		keyServerAddress, keyServerPort, keyErrorType}
	genAIOpTokenLabels = genAIOpLabels[:genAIOpTokenLen]
	genAIToolLabels    = []string{keyGenAIToolName, keyErrorType}
	genAIFlowLabels    = []string{keyGenAIOperation, keyGenAIAgentName, keyGenAIWorkflowName, keyErrorType}
)

// genAIOpTokenLen is the number of labels of gen_ai.client.token.usage
// (before gen_ai.token.type) and of the chunk metrics: genAIOpLabels but
// error.type.
const genAIOpTokenLen = 6

func (g *genAIMetrics) init(limit int, spanNames bool) error {
	var e1, e3, e4, e5 error
	g.ops, e1 = hdr.NewVec(genAIOpLabels, limit, func() *genAIOpSeries { return new(genAIOpSeries) })
	g.tools, e3 = hdr.NewVec(genAIToolLabels, limit, func() *boundedHist { return new(boundedHist) })
	g.flows, e4 = hdr.NewVec(genAIFlowLabels, limit, func() *boundedHist { return new(boundedHist) })
	g.apps, e5 = hdr.NewVec([]string{"app_id", "func"}, limit, func() *genAIAppSeries { return new(genAIAppSeries) })
	g.spanNames = spanNames
	g.ports, g.portLimit = make(map[int64]string), limit
	return errors.Join(e1, e3, e4, e5)
}

// genAINode is what the fold reads from a node's attributes.
type genAINode struct {
	op, provider, reqModel, respModel, errType string
	tool, agent, workflow, server, system      string
	input, output                              int64
	hasInput, hasOutput                        bool
	// port is server.port, -1 when not an int (hasPort: set at all).
	port    int64
	hasPort bool
}

// read fills g from attrs in one pass; it reports whether the node
// carries gen_ai.operation.name. Comparing the "gen_ai." prefix once and
// switching on the rest (most cases at most 16 bytes, compared inline, not
// by runtime.memequal) did no better: TestObserveRunCPUTime nodes=genai
// 65.60 -> 66.14 ns a node (+0.8 %, p=0.003, 6 alternated pairs).
func (g *genAINode) read(attrs []encode.Attr) bool {
	for i := range attrs {
		a := &attrs[i]
		switch a.Key {
		case keyGenAIOperation:
			g.op = genAIString(a.Value)
		case keyGenAIProvider:
			g.provider = genAIString(a.Value)
		case keyGenAISystem:
			g.system = genAIString(a.Value)
		case keyGenAIRequestModel:
			g.reqModel = genAIString(a.Value)
		case keyGenAIRespModel:
			g.respModel = genAIString(a.Value)
		case keyErrorType:
			g.errType = genAIString(a.Value)
		case keyGenAIToolName:
			g.tool = genAIString(a.Value)
		case keyGenAIAgentName:
			g.agent = genAIString(a.Value)
		case keyGenAIWorkflowName:
			g.workflow = genAIString(a.Value)
		case keyGenAIInputTokens:
			g.input, g.hasInput = a.Value.Int64(), a.Value.Kind() == encode.KindInt64
		case keyGenAIOutputTokens:
			g.output, g.hasOutput = a.Value.Int64(), a.Value.Kind() == encode.KindInt64
		case keyServerAddress:
			g.server = genAIString(a.Value)
		case keyServerPort:
			g.port, g.hasPort = -1, true
			if a.Value.Kind() == encode.KindInt64 {
				g.port = a.Value.Int64()
			}
		}
	}
	return g.op != ""
}

// genAIString returns v's string, or "" when v is not a string: a Bytes
// value lives in the node's reused buffer, and a span name must not.
func genAIString(v encode.Value) string {
	if v.Kind() != encode.KindString {
		return ""
	}
	return v.Str()
}

// observeGenAIUsage folds a finished run's token usage. It runs on the
// pipeline goroutine, from observeRun, before the run is sampled and
// encoded, as observeGenAINode does for each node with attributes (a node
// without costs observeRun one length check).
func (m *Metrics) observeGenAIUsage(r *encode.Run) {
	if u := r.Usage; u.PromptTokens != 0 || u.CompletionTokens != 0 {
		raw := hdr.LabelValues{r.AppID, r.FlowID}
		s, _ := memoWith(m, &m.memo.apps, m.genai.apps, &raw, 2)
		g, f := &m.genai, &s.fold
		if !f.held {
			f.held, f.next, g.heldApps = true, g.heldApps, s
		}
		f.input = g.satAdd(f.input, uint64(max(u.PromptTokens, 0)))
		f.output = g.satAdd(f.output, uint64(max(u.CompletionTokens, 0)))
	}
}

// observeGenAINode folds a finished node with attributes into the GenAI
// families, if its attributes say it is a GenAI operation. One array of
// label values for its three families, where each has a literal (a frame
// of 384 bytes, where it is 768), did not help: TestObserveRunCPUTime
// nodes=genai 58.64 -> 59.16 ns a node (6 alternated pairs).
func (m *Metrics) observeGenAINode(n *encode.Node) {
	g := &m.genai
	var a genAINode
	if !a.read(n.Attrs) {
		return
	}
	errType := ""
	switch {
	case n.Cancelled:
		errType = "cancelled"
	case n.Status == encode.StatusError:
		errType = a.errType
		for i := len(n.Events) - 1; i >= 0 && errType == ""; i-- {
			if ev := &n.Events[i]; ev.Kind == encode.EventException {
				errType = ev.Type // RecordError's: the error's Go type
			}
		}
		if errType == "" {
			errType = errorTypeOther
		}
	}
	micros := (n.EndUnixNano - n.StartUnixNano) / 1e3
	switch a.op {
	case opExecuteTool:
		raw := hdr.LabelValues{a.tool, errType}
		s, _ := memoWith(m, &m.memo.tools, g.tools, &raw, 2)
		g.record(s, micros, &genAIDurationMicros)
		m.nameGenAISpan(n, a.op, a.tool, SpanKindInternal)
		return
	case opInvokeAgent, opCreateAgent, opInvokeWorkflow:
		raw := hdr.LabelValues{a.op, a.agent, a.workflow, errType}
		s, _ := memoWith(m, &m.memo.flows, g.flows, &raw, 4)
		g.record(s, micros, &genAIDurationMicros)
		name, kind := a.agent, SpanKindInternal
		switch a.op {
		case opInvokeWorkflow:
			name = a.workflow
		case opCreateAgent:
			kind = SpanKindClient
		}
		m.nameGenAISpan(n, a.op, name, kind)
		return
	}
	if a.provider == "" {
		a.provider = providerOfSystem(a.system)
	}
	raw := hdr.LabelValues{a.op, a.provider, a.reqModel, a.respModel, a.server, m.serverPort(&a), errType}
	s, _ := memoWith(m, &m.memo.ops, g.ops, &raw, len(genAIOpLabels))
	g.record(&s.dur, micros, &genAIDurationMicros)
	// Time to first chunk: the caller's measure from its request
	// (FirstTokenCost), else the first frame or chunk after the start.
	switch {
	case n.HasFirstTokenCost:
		g.record(&s.firstChunk, n.FirstTokenCostNano/1e3, &genAIDurationMicros)
	case n.FirstFrameUnixNano != 0:
		g.record(&s.firstChunk, (n.FirstFrameUnixNano-n.StartUnixNano)/1e3, &genAIDurationMicros)
	}
	if n.Chunks > 1 {
		// Each chunk after the first, counted in its bucket by Chunk.
		f := g.hold(&s.perChunk)
		for i, c := range &n.ChunkGaps {
			f.counts[i] += uint64(c)
		}
		f.sum = g.satAdd(f.sum, uint64(max(n.LastChunkUnixNano-n.FirstChunkUnixNano, 0)/1e3))
		f.minMax(n.ChunkGapMin/1e3, n.ChunkGapMax/1e3)
	}
	in, out, hasIn, hasOut := a.input, a.output, a.hasInput, a.hasOutput
	if n.HasUsage {
		if !hasIn {
			in, hasIn = n.Usage.PromptTokens, true
		}
		if !hasOut {
			out, hasOut = n.Usage.CompletionTokens, true
		}
	}
	if hasIn && m.tokenCount(in) {
		g.record(&s.input, in, &genAITokenInts)
	}
	if hasOut && m.tokenCount(out) {
		g.record(&s.output, out, &genAITokenInts)
	}
	kind := SpanKindClient
	if a.op == opRetrieval {
		kind = SpanKindInternal
	}
	m.nameGenAISpan(n, a.op, a.reqModel, kind)
}

// tokenCount reports whether n is a number of tokens. A negative count
// (Node.Usage, gen_ai.usage.* attributes) is left out of
// gen_ai.client.token.usage, where a 0 would add a call that used no
// tokens, and counted in Stats.ValuesTruncated; the span keeps it, as it
// keeps a value whose label is cut.
func (m *Metrics) tokenCount(n int64) bool {
	if n < 0 {
		m.e.stats.valuesTruncated.Add(1)
		return false
	}
	return true
}

// providerOfSystem returns the gen_ai.provider.name of a node that gives
// only the deprecated gen_ai.system (an instrumentation of the
// conventions before v1.37.0, through otelbridge): the same value, or its
// new name where the conventions renamed it. The metrics then carry the
// attribute the conventions require of them; the span keeps what the
// caller wrote.
func providerOfSystem(system string) string {
	switch system {
	case "vertex_ai":
		return "gcp.vertex_ai"
	case "gemini":
		return "gcp.gemini"
	case "az.ai.inference":
		return "azure.ai.inference"
	case "az.ai.openai":
		return "azure.ai.openai"
	case "xai":
		return "x_ai"
	}
	return system
}

// serverPort returns the label of a's server.port: "" when it has none.
// A port that is not an int from 0 to 65535 (a string, -1, 70000) is
// left out, counted in Stats.ValuesTruncated, as a negative token count
// is; the span keeps it as given. The label of a port is formatted once
// and kept (the last one used checked first, then a map), so that a node
// of a port seen before allocates nothing. At most portLimit ports are
// kept: each took a lookup in the operation series, which were then full
// (a port kept has a series of its own, or found the series full, and
// series are never removed), so a port past them would find no series
// of its own: it is given portOverflow, a label no series holds, and the
// lookup goes to the overflow series, counted there, with no allocation.
func (m *Metrics) serverPort(a *genAINode) string {
	if !a.hasPort {
		return ""
	}
	p := a.port
	if p < 0 || p > math.MaxUint16 {
		m.e.stats.valuesTruncated.Add(1)
		return ""
	}
	g := &m.genai
	if p+1 == g.lastPort {
		return g.lastPortLabel
	}
	l, ok := g.ports[p]
	if !ok {
		if len(g.ports) >= g.portLimit {
			return portOverflow
		}
		l = strconv.FormatInt(p, 10)
		g.ports[p] = l
	}
	g.lastPort, g.lastPortLabel = p+1, l
	return l
}

// portOverflow is the server.port label of a port past genAIMetrics'
// portLimit: not a number, so no series of a port holds it.
const portOverflow = "_OTHER"

// Values of gen_ai.operation.name the fold tells apart.
const (
	opExecuteTool    = "execute_tool"
	opInvokeAgent    = "invoke_agent"
	opCreateAgent    = "create_agent"
	opInvokeWorkflow = "invoke_workflow"
	opRetrieval      = "retrieval"
)

// nameGenAISpan names n's span "{op} {name}" and gives it kind when span
// names are on (WithGenAISpanNames); the kind only when the caller set none. The
// strings are the node's own attribute values: nothing is copied.
func (m *Metrics) nameGenAISpan(n *encode.Node, op, name string, kind SpanKind) {
	if !m.genai.spanNames {
		return
	}
	n.SpanName = [2]string{op, name}
	if n.Kind == 0 {
		n.Kind = kind
	}
}
