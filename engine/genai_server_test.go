package engine

import (
	"fmt"
	"strings"
	"testing"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/genai"
	"github.com/flowtel/flowtel/internal/testkit"
)

// serverRun runs, through a real engine, streamed chat calls to
// api.example.com:443 (two, one of them failed with error.type timeout)
// and one to api.example.com:8443, each with its usage, and returns the
// engine's OTLP collection decoded with the official types and its
// Prometheus text.
func serverRun(t *testing.T, e *Engine) (*decoded, string) {
	t.Helper()
	run := e.StartRun(RunInfo{AppID: "app", FlowID: "flow"})
	call := func(id string, port int, errType string) {
		n := run.StartNode(id, "llm", "chat")
		n.SetAttributes(genai.OperationName(genai.OpChat), genai.ProviderName("openai"),
			genai.RequestModel("gpt-4"), genai.ResponseModel("gpt-4-0613"),
			genai.ServerAddress("api.example.com"), genai.ServerPort(port))
		n.Chunk()
		n.Chunk()
		n.Usage(Usage{PromptTokens: 100, CompletionTokens: 10})
		if errType != "" {
			n.SetAttributes(genai.ErrorType(errType))
			n.Fail("timed out")
			return
		}
		n.End()
	}
	call("llm:1", 443, "")
	call("llm:2", 443, "timeout")
	call("llm:3", 8443, "")
	run.End(0, "ok")
	flush(t, e)
	return collectOTLP(t, e), string(e.AppendPrometheus(nil))
}

// TestGenAIServerAttrs: the client metrics carry server.address and
// server.port, which the conventions recommend and, with an address,
// require, from the node's attributes (genai.ServerAddress, ServerPort,
// as otelbridge keeps them): server.port as an int in OTLP, checked on
// the decoded request's own AnyValue; gen_ai.client.token.usage and the
// chunk metrics merge the failed call into the series of its server
// (the conventions give them no error.type).
// The Prometheus text passes promtool.
func TestGenAIServerAttrs(t *testing.T) {
	e, _ := newTestEngine(t)
	d, text := serverRun(t, e)
	base := map[string]string{"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
		"gen_ai.request.model": "gpt-4", "gen_ai.response.model": "gpt-4-0613", "server.address": "api.example.com"}
	at := func(port string, more ...string) map[string]string {
		m := with(base, "server.port", port)
		for i := 0; i < len(more); i += 2 {
			m[more[i]] = more[i+1]
		}
		return m
	}
	for _, c := range []struct {
		name  string
		attrs map[string]string
		count uint64
	}{
		{MetricGenAIOperationDuration, at("443"), 1},
		{MetricGenAIOperationDuration, at("443", "error.type", "timeout"), 1},
		{MetricGenAIOperationDuration, at("8443"), 1},
		{MetricGenAITimeToFirstChunk, at("8443"), 1},
		{MetricGenAITimeToFirstChunk, at("443"), 2}, // the failed call's too: no error.type
		{MetricGenAITimePerOutputChunk, at("443"), 2},
		{MetricGenAITokenUsage, at("443", "gen_ai.token.type", "input"), 2},
		{MetricGenAITokenUsage, at("8443", "gen_ai.token.type", "output"), 1},
	} {
		if p := d.exact(t, c.name, c.attrs); p.count != c.count {
			t.Errorf("%s%v: count %d, want %d", c.name, c.attrs, p.count, c.count)
		}
	}
	if n := len(d.points[MetricGenAITokenUsage]); n != 4 {
		t.Errorf("%d token usage points, want 4 (2 ports x 2 types)", n)
	}
	// The official types' values: server.port an int, the others strings.
	ports := 0
	for _, rm := range d.req.ResourceMetrics {
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				h, ok := m.Data.(*metricspb.Metric_Histogram)
				if !ok || !strings.HasPrefix(m.Name, "gen_ai.client.") {
					continue
				}
				for _, p := range h.Histogram.DataPoints {
					for _, kv := range p.Attributes {
						_, isInt := kv.Value.Value.(*commonpb.AnyValue_IntValue)
						if isInt != (kv.Key == "server.port") {
							t.Errorf("%s: %s = %v", m.Name, kv.Key, kv.Value)
						}
						if kv.Key == "server.port" {
							ports++
						}
					}
				}
			}
		}
	}
	if ports != 3+2+2+4 {
		t.Errorf("%d points with server.port, want 11 (3 durations, 2 of each chunk metric, 4 token usages)", ports)
	}
	for _, want := range []string{
		`gen_ai_client_operation_duration_seconds_count{gen_ai_operation_name="chat",gen_ai_provider_name="openai",gen_ai_request_model="gpt-4",gen_ai_response_model="gpt-4-0613",server_address="api.example.com",server_port="443",error_type="timeout"} 1` + "\n",
		`gen_ai_client_token_usage_sum{gen_ai_operation_name="chat",gen_ai_provider_name="openai",gen_ai_request_model="gpt-4",gen_ai_response_model="gpt-4-0613",server_address="api.example.com",server_port="443",gen_ai_token_type="input"} 200` + "\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	testkit.Promtool(t, []byte(text))
}

// TestGenAIServerPortInvalid: a server.port that is no port (a string,
// negative, past 65535) is left out of the metrics, each counted in
// Stats.ValuesTruncated; the span keeps it as given.
func TestGenAIServerPortInvalid(t *testing.T) {
	e, sink := newTestEngine(t)
	run := e.StartRun(RunInfo{})
	for i, port := range []Attr{String("server.port", "443"), genai.ServerPort(-1), genai.ServerPort(65536)} {
		n := run.StartNode(fmt.Sprintf("llm:%d", i), "llm", "chat")
		n.SetAttributes(genai.OperationName(genai.OpChat), genai.ProviderName("openai"), port)
		n.End()
	}
	run.End(0, "ok")
	flush(t, e)
	d := collectOTLP(t, e)
	p := d.one(t, MetricGenAIOperationDuration, map[string]string{"gen_ai.operation.name": "chat"})
	if p.count != 3 || len(p.attrs) != 2 {
		t.Errorf("duration: count %d, attributes %v; want 3 calls, no server.port", p.count, p.attrs)
	}
	if got := e.Stats().ValuesTruncated; got != 3 {
		t.Errorf("Stats.ValuesTruncated = %d, want the 3 ports", got)
	}
	if a := sink.Runs()[0].Nodes[2].Attrs[2]; a.Key != "server.port" || a.Value.Int64() != 65536 {
		t.Errorf("span attribute %+v, want server.port 65536 as given", a)
	}
}

// TestGenAIServerPortOverflow: distinct ports past MetricsConfig.Limit
// go to the overflow series, counted in flowtel_metric_overflow_total,
// and the fold keeps no more than Limit port labels; no series is ever
// labelled with portOverflow.
func TestGenAIServerPortOverflow(t *testing.T) {
	e := newMetricsEngine(t, WithMetrics(MetricsConfig{Limit: 2}))
	attrs := []encode.Attr{String("gen_ai.operation.name", "chat"), String("server.address", "h"), Int64("server.port", 0)}
	node := &encode.Node{NodeID: "llm:1", NodeType: "llm", EndUnixNano: 1e6, Attrs: attrs}
	r := &encode.Run{Nodes: []*encode.Node{node}}
	for port := range 6 {
		attrs[2].Value = encode.Int64Value(int64(1000 + port))
		e.metrics.observeRun(r)
	}
	if n := len(e.metrics.genai.ports); n != 2 {
		t.Errorf("%d port labels kept, want Limit = 2", n)
	}
	d := collectOTLP(t, e)
	for _, p := range d.points[MetricGenAIOperationDuration] {
		if p.attrs["server.port"] == portOverflow {
			t.Errorf("a series labelled %q: %v", portOverflow, p.attrs)
		}
	}
	if p := d.one(t, MetricGenAIOperationDuration, map[string]string{"otel.metric.overflow": "true"}); p.count != 4 {
		t.Errorf("overflow series: count %d, want the 4 ports past the limit", p.count)
	}
	if p := d.one(t, MetricSeriesOverflow, map[string]string{"metric": MetricGenAIOperationDuration}); p.value != 4 {
		t.Errorf("%s: %d, want 4", MetricSeriesOverflow, p.value)
	}
}

// TestGenAIServerAllocs: folding nodes with server.address and
// server.port allocates nothing once their series exist, nor once the
// ports pass the limit (the overflow series); the caller's
// SetAttributes of them allocates nothing (budget 0, as every node call).
func TestGenAIServerAllocs(t *testing.T) {
	e := newMetricsEngine(t, WithMetrics(MetricsConfig{Limit: 2}))
	attrs := []encode.Attr{String("gen_ai.operation.name", "chat"), String("gen_ai.provider.name", "openai"),
		String("server.address", "api.example.com"), Int64("server.port", 443)}
	mk := func(id string, port int64) *encode.Node {
		a := append([]encode.Attr(nil), attrs...)
		a[3].Value = encode.Int64Value(port)
		return &encode.Node{NodeID: id, NodeType: "llm", EndUnixNano: 1e6, Attrs: a,
			Usage: encode.Usage{PromptTokens: 10, CompletionTokens: 2}, HasUsage: true}
	}
	known := &encode.Run{Nodes: []*encode.Node{mk("llm:1", 443), mk("llm:2", 8443), mk("llm:3", 443)}}
	e.metrics.observeRun(known)
	t.Run("observeRun", func(t *testing.T) { testkit.WantAllocs(t, 0, func() { e.metrics.observeRun(known) }) })
	past := &encode.Run{Nodes: []*encode.Node{mk("llm:4", 9000), mk("llm:5", 9001)}}
	e.metrics.observeRun(past)
	t.Run("observeRun past the limit", func(t *testing.T) { testkit.WantAllocs(t, 0, func() { e.metrics.observeRun(past) }) })

	run := e.StartRun(RunInfo{})
	n := run.StartNode("llm:1", "llm", "chat")
	t.Run("SetAttributes", func(t *testing.T) {
		testkit.WantAllocs(t, 0, func() { n.SetAttributes(genai.ServerAddress("api.example.com"), genai.ServerPort(443)) })
	})
	n.End()
	run.End(0, "")
}
