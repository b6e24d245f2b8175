package otlp

import (
	"context"
	"maps"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/genai"
	"github.com/flowtel/flowtel/internal/otlptest"
	"github.com/flowtel/flowtel/internal/testkit"
	"github.com/flowtel/flowtel/promhttp"
)

// TestGenAIEndToEnd runs an LLM node with a tool call below it through an
// engine made by NewFromEnv with OTEL_SEMCONV_STABILITY_OPT_IN holding
// gen_ai_latest_experimental, scrapes the real /metrics handler, and reads
// what a real receiver got with the official decoder: the spans named and
// kinded as the GenAI conventions do, and the GenAI metrics with the values
// the node recorded (tokens, time to first chunk, chunks, counts) exactly.
func TestGenAIEndToEnd(t *testing.T) {
	rc := otlptest.StartKeeping(t, otlptest.GRPC)
	e, err := newFromLookup(lookupMap(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT":   rc.Endpoint(),
		"OTEL_EXPORTER_OTLP_INSECURE":   "true",
		"OTEL_SEMCONV_STABILITY_OPT_IN": "http, gen_ai_latest_experimental",
	}))
	if err != nil {
		t.Fatal(err)
	}
	run := e.StartRun(engine.RunInfo{AppID: "app", FlowID: "flow"})
	llm := run.StartNode("llm:1", "llm", "Answer")
	llm.SetAttributes(genai.OperationName(genai.OpChat), genai.ProviderName("iflytek"), genai.RequestModel("spark-4"))
	llm.FirstTokenCost(300 * time.Millisecond)
	for range 3 {
		llm.Chunk()
	}
	tool := llm.StartChild("plugin:1", "plugin", "search")
	tool.SetAttributes(genai.OperationName(genai.OpExecuteTool), genai.ToolName("weather"))
	tool.End()
	llm.Usage(engine.Usage{PromptTokens: 120, CompletionTokens: 40, TotalTokens: 160})
	llm.End()
	run.End(0, "success")
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}

	srv := httptest.NewServer(promhttp.Handler(e))
	defer srv.Close()
	_, body := testkit.Get(t, srv.URL)
	const op = `gen_ai_operation_name="chat",gen_ai_provider_name="iflytek",gen_ai_request_model="spark-4"`
	for _, want := range []string{
		`gen_ai_client_token_usage_sum{` + op + `,gen_ai_token_type="input"} 120`,
		`gen_ai_client_token_usage_count{` + op + `,gen_ai_token_type="output"} 1`,
		`gen_ai_client_operation_duration_seconds_count{` + op + `} 1`,
		`gen_ai_client_operation_time_to_first_chunk_seconds_sum{` + op + `} 0.3`,
		`gen_ai_client_operation_time_per_output_chunk_seconds_count{` + op + `} 2`,
		`flowtel_gen_ai_tool_duration_seconds_count{gen_ai_tool_name="weather"} 1`,
		`app_id="app",func="flow",gen_ai_token_type="output"} 40`,
	} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if promtool, err := exec.LookPath("promtool"); err == nil {
		// The names and the histograms are valid for Prometheus itself.
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(string(body))
		out, _ := cmd.CombinedOutput()
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if strings.Contains(l, "gen_ai") {
				t.Errorf("promtool: %s", l)
			}
		}
	}

	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	names := map[string]*tracepb.Span{}
	for _, sp := range receivedSpans(rc) {
		names[sp.Name] = sp
	}
	if sp := names["chat spark-4"]; sp == nil || sp.Kind != tracepb.Span_SPAN_KIND_CLIENT {
		t.Errorf("LLM span: %v (spans %v)", sp, keys(names))
	}
	if sp := names["execute_tool weather"]; sp == nil || sp.Kind != tracepb.Span_SPAN_KIND_INTERNAL {
		t.Errorf("tool span: %v (spans %v)", sp, keys(names))
	}
	reqs := rc.Metrics()
	if len(reqs) == 0 {
		t.Fatal("no metrics pushed")
	}
	last := reqs[len(reqs)-1] // cumulative: the final push holds everything
	want := map[string]string{"gen_ai.operation.name": "chat", "gen_ai.provider.name": "iflytek", "gen_ai.request.model": "spark-4"}
	for _, c := range []struct {
		name, tokenType string
		count           uint64
		sum             float64
	}{
		{engine.MetricGenAITokenUsage, "input", 1, 120},
		{engine.MetricGenAITokenUsage, "output", 1, 40},
		{engine.MetricGenAITimeToFirstChunk, "", 1, 0.3},
	} {
		w := want
		if c.tokenType != "" {
			w = map[string]string{"gen_ai.token.type": c.tokenType}
			for k, v := range want {
				w[k] = v
			}
		}
		p := genAIHistogram(t, last, c.name, w)
		bounds := genai.DurationBounds
		if c.name == engine.MetricGenAITokenUsage {
			bounds = genai.TokenUsageBounds
		}
		if p.Count != c.count || p.GetSum() != c.sum || len(p.BucketCounts) != 15 || !slices.Equal(p.ExplicitBounds, bounds) {
			t.Errorf("%s %v: count %d sum %v buckets %d bounds %d", c.name, w, p.Count, p.GetSum(), len(p.BucketCounts), len(p.ExplicitBounds))
		}
	}
	if p := genAIHistogram(t, last, engine.MetricGenAITimePerOutputChunk, want); p.Count != 2 {
		t.Errorf("time per output chunk: count %d, want 2", p.Count)
	}
	if p := genAIHistogram(t, last, engine.MetricGenAIToolDuration, map[string]string{"gen_ai.tool.name": "weather"}); p.Count != 1 {
		t.Errorf("tool duration: count %d, want 1", p.Count)
	}
	if s := oneSample(t, last, engine.MetricGenAITokens, map[string]string{"app_id": "app", "func": "flow", "gen_ai.token.type": "input"}); s.value != 120 {
		t.Errorf("tokens per app and flow: %d, want 120", s.value)
	}
}

func keys(m map[string]*tracepb.Span) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// genAIHistogram returns the one histogram point of name in req whose
// attributes are exactly want.
func genAIHistogram(t *testing.T, req *colmetrics.ExportMetricsServiceRequest, name string, want map[string]string) *metricspb.HistogramDataPoint {
	t.Helper()
	var found []*metricspb.HistogramDataPoint
	for m := range metricsNamed(req, name) {
		for _, p := range m.GetHistogram().GetDataPoints() {
			if maps.Equal(stringAttrs(p.Attributes), want) {
				found = append(found, p)
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s%v: %d points, want 1", name, want, len(found))
	}
	return found[0]
}
