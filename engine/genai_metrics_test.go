package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/testkit"
)

// genAIRun returns a run whose GenAI nodes have known values: a streamed
// chat call (1.5 s, first token 300 ms, 5 chunks 150 to 250 ms apart, 340 + 56
// tokens), a chat call that failed with error.type timeout (50 ms), a tool
// (120 ms), an agent (2 s) and a node without attributes.
func genAIRun() *encode.Run {
	const ms = int64(time.Millisecond)
	str := func(k, v string) encode.Attr { return encode.Attr{Key: k, Value: encode.StringValue(v)} }
	chat := []encode.Attr{str("gen_ai.operation.name", "chat"), str("gen_ai.provider.name", "iflytek"),
		str("gen_ai.request.model", "spark-4"), str("gen_ai.response.model", "spark-4.0")}
	llm := &encode.Node{NodeID: "llm:1", NodeType: "llm", StartUnixNano: 0, EndUnixNano: 1500 * ms, Attrs: chat,
		Usage: encode.Usage{PromptTokens: 340, CompletionTokens: 56, TotalTokens: 396}, HasUsage: true,
		FirstTokenCostNano: 300 * ms, HasFirstTokenCost: true, Chunks: 5, FirstChunkUnixNano: 400 * ms, LastChunkUnixNano: 1200 * ms,
		ChunkGapMin: 150 * ms, ChunkGapMax: 250 * ms}
	llm.ChunkGaps[4], llm.ChunkGaps[5] = 1, 3 // 150 ms, then 250, 200 and 200 ms
	failed := &encode.Node{NodeID: "llm:2", NodeType: "llm", StartUnixNano: 0, EndUnixNano: 50 * ms,
		Attrs: append(slices.Clone(chat[:3]), str("error.type", "timeout")), Status: encode.StatusError}
	tool := &encode.Node{NodeID: "plugin:1", NodeType: "plugin", StartUnixNano: 0, EndUnixNano: 120 * ms,
		Attrs: []encode.Attr{str("gen_ai.operation.name", "execute_tool"), str("gen_ai.tool.name", "weather")}}
	agent := &encode.Node{NodeID: "agent:1", NodeType: "agent", StartUnixNano: 0, EndUnixNano: 2000 * ms,
		Attrs: []encode.Attr{str("gen_ai.operation.name", "invoke_agent"), str("gen_ai.agent.name", "planner")}}
	code := &encode.Node{NodeID: "code:1", NodeType: "code", StartUnixNano: 0, EndUnixNano: ms}
	// A tool that failed with a Go error (RecordError) and one cancelled.
	toolErr := &encode.Node{NodeID: "plugin:2", NodeType: "plugin", StartUnixNano: 0, EndUnixNano: 10 * ms, Status: encode.StatusError,
		Attrs:  tool.Attrs,
		Events: []encode.Event{{Kind: encode.EventInfo, Message: "calling"}, {Kind: encode.EventException, Type: "*url.Error", Message: "refused"}}}
	toolCancelled := &encode.Node{NodeID: "plugin:3", NodeType: "plugin", StartUnixNano: 0, EndUnixNano: 10 * ms,
		Status: encode.StatusError, Cancelled: true, Attrs: tool.Attrs}
	return &encode.Run{AppID: "app", FlowID: "flow", StartUnixNano: 0, EndUnixNano: 3000 * ms,
		Usage: llm.Usage, Nodes: []*encode.Node{llm, failed, tool, agent, code, toolErr, toolCancelled}}
}

// TestGenAIMetrics folds two runs of genAIRun and checks every GenAI
// family exactly, in the Prometheus text and in the OTLP request decoded
// with the official types: names, units, bounds, attributes, buckets,
// counts and sums.
func TestGenAIMetrics(t *testing.T) {
	e := newMetricsEngine(t, WithMetrics(MetricsConfig{ServerHost: "h", ServerName: "s", PID: "1"}))
	for range 2 {
		e.metrics.observeRun(genAIRun())
	}
	text := string(e.AppendPrometheus(nil))
	const chat = `gen_ai_operation_name="chat",gen_ai_provider_name="iflytek",gen_ai_request_model="spark-4"`
	for _, want := range []string{
		"# TYPE gen_ai_client_operation_duration_seconds histogram\n",
		`gen_ai_client_operation_duration_seconds_bucket{` + chat + `,gen_ai_response_model="spark-4.0",le="1.28"} 0` + "\n",
		`gen_ai_client_operation_duration_seconds_bucket{` + chat + `,gen_ai_response_model="spark-4.0",le="2.56"} 2` + "\n",
		`gen_ai_client_operation_duration_seconds_sum{` + chat + `,gen_ai_response_model="spark-4.0"} 3` + "\n",
		`gen_ai_client_operation_duration_seconds_count{` + chat + `,error_type="timeout"} 2` + "\n",
		`gen_ai_client_operation_duration_seconds_sum{` + chat + `,error_type="timeout"} 0.1` + "\n",
		"# TYPE gen_ai_client_token_usage histogram\n",
		`gen_ai_client_token_usage_bucket{` + chat + `,gen_ai_response_model="spark-4.0",gen_ai_token_type="input",le="256"} 0` + "\n",
		`gen_ai_client_token_usage_bucket{` + chat + `,gen_ai_response_model="spark-4.0",gen_ai_token_type="input",le="1024"} 2` + "\n",
		`gen_ai_client_token_usage_sum{` + chat + `,gen_ai_response_model="spark-4.0",gen_ai_token_type="output"} 112` + "\n",
		`gen_ai_client_operation_time_to_first_chunk_seconds_sum{` + chat + `,gen_ai_response_model="spark-4.0"} 0.6` + "\n",
		`gen_ai_client_operation_time_to_first_chunk_seconds_count{` + chat + `,gen_ai_response_model="spark-4.0"} 2` + "\n",
		`gen_ai_client_operation_time_per_output_chunk_seconds_bucket{` + chat + `,gen_ai_response_model="spark-4.0",le="0.08"} 0` + "\n",
		`gen_ai_client_operation_time_per_output_chunk_seconds_bucket{` + chat + `,gen_ai_response_model="spark-4.0",le="0.16"} 2` + "\n",
		`gen_ai_client_operation_time_per_output_chunk_seconds_bucket{` + chat + `,gen_ai_response_model="spark-4.0",le="0.32"} 8` + "\n",
		`gen_ai_client_operation_time_per_output_chunk_seconds_sum{` + chat + `,gen_ai_response_model="spark-4.0"} 1.6` + "\n",
		`flowtel_gen_ai_tool_duration_seconds_sum{gen_ai_tool_name="weather"} 0.24` + "\n",
		`flowtel_gen_ai_tool_duration_seconds_count{gen_ai_tool_name="weather"} 2` + "\n",
		`flowtel_gen_ai_tool_duration_seconds_count{gen_ai_tool_name="weather",error_type="*url.Error"} 2` + "\n",
		`flowtel_gen_ai_tool_duration_seconds_count{gen_ai_tool_name="weather",error_type="cancelled"} 2` + "\n",
		`flowtel_gen_ai_workflow_duration_seconds_sum{gen_ai_operation_name="invoke_agent",gen_ai_agent_name="planner"} 4` + "\n",
		"# TYPE flowtel_gen_ai_tokens_total counter\n",
		`flowtel_gen_ai_tokens_total{server_host="h",server_name="s",pid="1",app_id="app",func="flow",gen_ai_token_type="input"} 680` + "\n",
		`flowtel_gen_ai_tokens_total{server_host="h",server_name="s",pid="1",app_id="app",func="flow",gen_ai_token_type="output"} 112` + "\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// The failed call streamed nothing: no chunk series for it.
	if strings.Contains(text, `time_to_first_chunk_seconds_count{`+chat+`,error_type="timeout"}`) {
		t.Error("a call that did not stream has a time_to_first_chunk series")
	}

	d := collectOTLP(t, e)
	units := map[string]string{MetricGenAITokenUsage: "{token}", MetricGenAIOperationDuration: "s", MetricGenAITimeToFirstChunk: "s",
		MetricGenAITimePerOutputChunk: "s", MetricGenAIToolDuration: "s", MetricGenAIWorkflowDuration: "s", MetricGenAITokens: "{token}"}
	for name, unit := range units {
		if d.units[name] != unit {
			t.Errorf("%s: unit %q, want %q", name, d.units[name], unit)
		}
	}
	ok := map[string]string{"gen_ai.operation.name": "chat", "gen_ai.provider.name": "iflytek",
		"gen_ai.request.model": "spark-4", "gen_ai.response.model": "spark-4.0"}
	find := func(name string, attrs map[string]string) point { t.Helper(); return d.exact(t, name, attrs) }
	dur := find(MetricGenAIOperationDuration, ok)
	if dur.count != 2 || dur.sum != 3 || dur.min != 1.5 || dur.max != 1.5 || !slices.Equal(dur.bounds, genAIDurationBounds) ||
		!slices.Equal(dur.buckets, []uint64{0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0}) {
		t.Errorf("operation duration: %+v", dur)
	}
	in := find(MetricGenAITokenUsage, with(ok, "gen_ai.token.type", "input"))
	if in.count != 2 || in.sum != 680 || in.min != 340 || !slices.Equal(in.bounds, genAITokenBounds) || in.buckets[5] != 2 {
		t.Errorf("input tokens: %+v", in)
	}
	perChunk := find(MetricGenAITimePerOutputChunk, ok)
	if perChunk.count != 8 || perChunk.sum != 1.6 || perChunk.buckets[4] != 2 || perChunk.buckets[5] != 6 || perChunk.min != 0.15 || perChunk.max != 0.25 {
		t.Errorf("time per output chunk: %+v", perChunk)
	}
	first := find(MetricGenAITimeToFirstChunk, ok)
	if first.count != 2 || first.sum != 0.6 || first.max != 0.3 {
		t.Errorf("time to first chunk: %+v", first)
	}
	failed := find(MetricGenAIOperationDuration, map[string]string{"gen_ai.operation.name": "chat", "gen_ai.provider.name": "iflytek",
		"gen_ai.request.model": "spark-4", "error.type": "timeout"})
	if failed.count != 2 || failed.sum != 0.1 {
		t.Errorf("failed calls: %+v", failed)
	}
	if p := find(MetricGenAIToolDuration, map[string]string{"gen_ai.tool.name": "weather"}); p.count != 2 || p.sum != 0.24 || p.buckets[3] != 0 || p.buckets[4] != 2 {
		t.Errorf("tool duration: %+v", p)
	}
	if p := find(MetricGenAIWorkflowDuration, map[string]string{"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner"}); p.count != 2 || p.sum != 4 {
		t.Errorf("workflow duration: %+v", p)
	}
	app := map[string]string{"server_host": "h", "server_name": "s", "pid": "1", "app_id": "app", "func": "flow"}
	if p := find(MetricGenAITokens, with(app, "gen_ai.token.type", "output")); p.value != 112 {
		t.Errorf("tokens per app and flow: %+v", p)
	}
}

// TestGenAIChunkMetricsStreamedOnly: calls that did not stream report no
// chunk metric at all, as the conventions ask ("SHOULD NOT be reported
// otherwise"): before, each was a family with no point, an OTLP metric
// with no data point and a Prometheus TYPE line with no sample.
func TestGenAIChunkMetricsStreamedOnly(t *testing.T) {
	e, _ := newTestEngine(t)
	run := e.StartRun(RunInfo{})
	n := run.StartNode("llm:1", "llm", "chat")
	n.SetAttributes(String("gen_ai.operation.name", "chat"), String("gen_ai.provider.name", "openai"))
	n.Usage(Usage{PromptTokens: 3, CompletionTokens: 1})
	n.End()
	run.End(0, "ok")
	flush(t, e)
	d := collectOTLP(t, e)
	if _, ok := d.units[MetricGenAIOperationDuration]; !ok {
		t.Fatalf("no %s: the call was not folded", MetricGenAIOperationDuration)
	}
	for _, name := range []string{MetricGenAITimeToFirstChunk, MetricGenAITimePerOutputChunk} {
		if _, ok := d.units[name]; ok {
			t.Errorf("%s reported, with %d points, for a call that did not stream", name, len(d.points[name]))
		}
	}
	if text := string(e.AppendPrometheus(nil)); strings.Contains(text, "_chunk_seconds") {
		t.Errorf("/metrics has a chunk family:\n%s", text)
	}
}

// TestGenAISystemFallback: a node that gives only the deprecated
// gen_ai.system has its value, renamed where the conventions renamed it,
// as gen_ai.provider.name on the client metrics, which require it; a
// node that gives both keeps gen_ai.provider.name's.
func TestGenAISystemFallback(t *testing.T) {
	e := newMetricsEngine(t)
	str := func(k, v string) encode.Attr { return encode.Attr{Key: k, Value: encode.StringValue(v)} }
	r := &encode.Run{}
	for i, attrs := range [][]encode.Attr{
		{str("gen_ai.system", "vertex_ai")},
		{str("gen_ai.system", "az.ai.openai")},
		{str("gen_ai.system", "openai")},
		{str("gen_ai.system", "openai"), str("gen_ai.provider.name", "azure.ai.openai"), str("gen_ai.request.model", "m")},
	} {
		r.Nodes = append(r.Nodes, &encode.Node{NodeID: fmt.Sprint("llm:", i), NodeType: "llm", EndUnixNano: 1e6,
			Attrs: append([]encode.Attr{str("gen_ai.operation.name", "chat")}, attrs...)})
	}
	e.metrics.observeRun(r)
	d := collectOTLP(t, e)
	var got []string
	for _, p := range d.points[MetricGenAIOperationDuration] {
		got = append(got, p.attrs["gen_ai.provider.name"]+"/"+p.attrs["gen_ai.request.model"])
		if _, ok := p.attrs["gen_ai.system"]; ok {
			t.Errorf("a point with gen_ai.system: %v", p.attrs)
		}
	}
	slices.Sort(got)
	if want := []string{"azure.ai.openai/", "azure.ai.openai/m", "gcp.vertex_ai/", "openai/"}; !slices.Equal(got, want) {
		t.Errorf("providers/models %v, want %v", got, want)
	}
}

// exact returns the point of name whose attributes are attrs, no more.
func (d *decoded) exact(t testing.TB, name string, attrs map[string]string) point {
	t.Helper()
	for _, p := range d.points[name] {
		if mapsEqual(p.attrs, attrs) {
			return p
		}
	}
	t.Fatalf("%s: no point %v in %v", name, attrs, d.points[name])
	return point{}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// with returns a copy of m with k set to v.
func with(m map[string]string, k, v string) map[string]string {
	c := map[string]string{k: v}
	for k, v := range m {
		c[k] = v
	}
	return c
}

// TestGenAIMetricsDelta checks delta collections of the GenAI families:
// each holds what the window added, and a window that added nothing
// holds zeros.
func TestGenAIMetricsDelta(t *testing.T) {
	e := newMetricsEngine(t, WithMetrics(MetricsConfig{Delta: true, Exponential: true, NoExport: true}))
	e.metrics.observeRun(genAIRun())
	_ = collectOTLP(t, e)
	e.metrics.observeRun(genAIRun())
	e.metrics.observeRun(genAIRun())
	d := collectOTLP(t, e)
	for _, p := range d.points[MetricGenAIToolDuration] {
		want := 0.24 // 120 ms twice; the failed and cancelled calls 10 ms
		if p.attrs["error.type"] != "" {
			want = 0.02
		}
		if p.count != 2 || p.sum != want {
			t.Errorf("tool duration delta: %+v", p)
		}
	}
	for _, p := range d.points[MetricGenAITokens] {
		if want := map[string]int64{"input": 680, "output": 112}[p.attrs["gen_ai.token.type"]]; p.value != want {
			t.Errorf("tokens delta %v: %d, want %d", p.attrs, p.value, want)
		}
	}
	// The token usage, merged over error.type, holds the window's two
	// calls, in explicit buckets although the engine's own histograms are
	// exponential: the conventions give the bounds.
	for _, p := range d.points[MetricGenAITokenUsage] {
		if p.expo != nil || len(p.bounds) != genAIBounds || p.count != 2 || (p.attrs["gen_ai.token.type"] == "input" && p.sum != 680) {
			t.Errorf("token usage delta: %+v", p)
		}
	}
	if len(d.points[MetricGenAITokenUsage]) != 2 || d.temp[MetricGenAITokenUsage] != metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA {
		t.Errorf("token usage: %d points, temporality %v", len(d.points[MetricGenAITokenUsage]), d.temp[MetricGenAITokenUsage])
	}
	d = collectOTLP(t, e)
	for _, p := range d.points[MetricGenAITimePerOutputChunk] {
		if p.count != 0 || p.sum != 0 {
			t.Errorf("empty window: %+v", p)
		}
	}
}

// TestGenAIMetricsLimits: label values are cut to LabelBytes, and series
// past Limit go to the overflow series, counted per family.
func TestGenAIMetricsLimits(t *testing.T) {
	e := newMetricsEngine(t, WithMetrics(MetricsConfig{Limit: 2, LabelBytes: 8}))
	for i := range 5 {
		r := genAIRun()
		r.Nodes[2].Attrs[1].Value = encode.StringValue(strings.Repeat("t", 8) + string(rune('a'+i)))
		r.Nodes[0].Attrs[2].Value = encode.StringValue("model-" + string(rune('a'+i)))
		e.metrics.observeRun(r)
	}
	text := string(e.AppendPrometheus(nil))
	for _, want := range []string{
		// five tool names that differ past the 8th byte are one series
		`flowtel_gen_ai_tool_duration_seconds_count{gen_ai_tool_name="tttttttt"} 5` + "\n",
		`gen_ai_client_operation_duration_seconds_count{otel_metric_overflow="true"} 4` + "\n",
		`flowtel_metric_overflow_total{metric="gen_ai.client.operation.duration"} 4` + "\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestGenAISpanNames runs GenAI nodes through a real engine with
// WithGenAISpanNames and without, and checks the span names and kinds the
// sink receives and the encoder writes.
func TestGenAISpanNames(t *testing.T) {
	for _, on := range []bool{false, true} {
		e, sink := newTestEngine(t, WithGenAISpanNames(on))
		run := e.StartRun(RunInfo{AppID: "a", FlowID: "f"})
		llm := run.StartNode("llm:1", "llm", "LLM")
		llm.SetAttributes(String("gen_ai.operation.name", "chat"), String("gen_ai.request.model", "spark-4"))
		tool := llm.StartChild("plugin:1", "plugin", "weather")
		tool.SetAttributes(String("gen_ai.operation.name", "execute_tool"), String("gen_ai.tool.name", "weather"))
		tool.End()
		agent := run.StartNode("agent:1", "agent", "agent")
		agent.SetSpanKind(SpanKindServer)
		agent.SetAttributes(String("gen_ai.operation.name", "invoke_agent"), String("gen_ai.agent.name", "planner"))
		agent.End()
		llm.End()
		run.End(0, "")
		if err := e.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
		runs := sink.Runs()
		if len(runs) != 1 {
			t.Fatalf("%d runs", len(runs))
		}
		got := map[string]string{}
		kinds := map[string]encode.SpanKind{}
		for _, n := range runs[0].Nodes {
			got[n.NodeID] = strings.TrimSpace(n.SpanName[0] + " " + n.SpanName[1])
			kinds[n.NodeID] = n.Kind
		}
		want := map[string]string{"llm:1": "chat spark-4", "plugin:1": "execute_tool weather", "agent:1": "invoke_agent planner"}
		wantKinds := map[string]encode.SpanKind{"llm:1": SpanKindClient, "plugin:1": SpanKindInternal, "agent:1": SpanKindServer}
		if !on {
			want = map[string]string{"llm:1": "", "plugin:1": "", "agent:1": ""}
			wantKinds = map[string]encode.SpanKind{"llm:1": 0, "plugin:1": 0, "agent:1": SpanKindServer}
		}
		if !mapsEqual(got, want) {
			t.Errorf("on=%v: span names %v, want %v", on, got, want)
		}
		for id, k := range wantKinds {
			if kinds[id] != k {
				t.Errorf("on=%v: %s kind %d, want %d", on, id, kinds[id], k)
			}
		}
	}
}

// TestGenAIAllocs: Node.Chunk allocates nothing, and neither does
// observeRun folding GenAI nodes once their series exist, nor a
// collection once its buffers have grown.
func TestGenAIAllocs(t *testing.T) {
	e := newMetricsEngine(t, WithGenAISpanNames(true))
	run := genAIRun()
	e.metrics.observeRun(run)
	t.Run("observeRun", func(t *testing.T) { testkit.WantAllocs(t, 0, func() { e.metrics.observeRun(run) }) })
	// A collection, the merge of the operation series over error.type
	// included, reuses its arenas, map and slice.
	t.Run("collect", func(t *testing.T) {
		testkit.WantAllocs(t, 0, func() {
			e.metrics.mu.Lock()
			e.metrics.col.collect(true, 1)
			e.metrics.mu.Unlock()
		})
	})
	r := e.StartRun(RunInfo{})
	n := r.StartNode("llm:1", "llm", "LLM")
	t.Run("Chunk", func(t *testing.T) { testkit.WantAllocs(t, 0, n.Chunk) })
	n.End()
	r.End(0, "")
}

// BenchmarkObserveRunGenAI folds genAIRun's five nodes per operation, with
// the GenAI attributes (genai=on) and the same nodes without them
// (genai=off, what the fold cost before the GenAI families): the
// difference is the GenAI families' cost. Compare with
// benchstat -col /genai.
func BenchmarkObserveRunGenAI(b *testing.B) {
	for _, on := range []string{"off", "on"} {
		b.Run("genai="+on, func(b *testing.B) {
			e := newMetricsEngine(b, WithMetrics(MetricsConfig{NoExport: true}))
			run := genAIRun()
			if on == "off" {
				for _, n := range run.Nodes {
					n.Attrs = nil
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				e.metrics.observeRun(run)
			}
		})
	}
}
