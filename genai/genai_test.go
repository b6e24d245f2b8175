package genai_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/genai"
	"github.com/flowtel/flowtel/internal/testkit"
)

func TestLatestExperimental(t *testing.T) {
	for v, want := range map[string]bool{
		"": false, "gen_ai_latest_experimental": true, "http, gen_ai_latest_experimental ": true,
		"gen_ai_latest_experimental/dup": false, "database": false,
	} {
		if got := genai.LatestExperimental(v); got != want {
			t.Errorf("LatestExperimental(%q) = %v, want %v", v, got, want)
		}
	}
}

// TestAttributesOnNode checks that the attributes reach the node's span
// record with their keys as given, and that building and setting them
// allocates nothing.
func TestAttributesOnNode(t *testing.T) {
	sink := &engine.MemorySink{}
	e, err := engine.New(engine.WithSink(sink), engine.WithBatch(64, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	llm := func() {
		run := e.StartRun(engine.RunInfo{})
		n := run.StartNode("spark-llm:1", "基础节点", "LLM")
		n.SetAttributes(genai.OperationName(genai.OpChat), genai.ProviderName("iflytek"),
			genai.RequestModel("spark-4"), genai.ResponseModel("spark-4.0-ultra"), genai.FinishReason("stop"),
			genai.UsageInputTokens(340), genai.UsageOutputTokens(56), genai.RequestTemperature(0.5))
		n.End()
		run.End(0, "")
	}
	llm()
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	attrs := sink.Runs()[0].Nodes[0].Attrs
	if len(attrs) != 8 || attrs[0].Key != "gen_ai.operation.name" || attrs[0].Value.Str() != "chat" ||
		attrs[5].Key != "gen_ai.usage.input_tokens" || attrs[5].Value.Int64() != 340 {
		t.Errorf("attributes %+v", attrs)
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	// The budget, on an engine that keeps nothing (MemorySink copies),
	// once records exist for the runs in flight (they are allocated on
	// first use and reused after).
	e, err = engine.New()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	held := make([]engine.Run, 2048) // records for 2048 runs in flight at once
	for i := range held {
		held[i] = e.StartRun(engine.RunInfo{})
		held[i].StartNode("spark-llm:1", "基础节点", "LLM").End()
	}
	for _, r := range held {
		r.End(0, "")
	}
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	testkit.WantAllocs(t, 0, llm) // an LLM node with 8 GenAI attributes
}

// TestServerAttrs: server.address is a string and server.port an int, as
// the general registry types them; error.type a string.
func TestServerAttrs(t *testing.T) {
	for _, c := range []struct {
		a    encode.Attr
		key  string
		kind encode.Kind
		want string
	}{
		{genai.ServerAddress("api.example.com"), "server.address", encode.KindString, "api.example.com"},
		{genai.ServerPort(443), "server.port", encode.KindInt64, "443"},
		{genai.ErrorType("timeout"), "error.type", encode.KindString, "timeout"},
	} {
		got := c.a.Value.Str()
		if c.kind == encode.KindInt64 {
			got = strconv.FormatInt(c.a.Value.Int64(), 10)
		}
		if c.a.Key != c.key || c.a.Value.Kind() != c.kind || got != c.want {
			t.Errorf("%+v, want %s = %s of kind %v", c.a, c.key, c.want, c.kind)
		}
	}
}

// TestMetricNames: the engine folds the metrics under the names this
// package gives.
func TestMetricNames(t *testing.T) {
	for got, want := range map[string]string{
		engine.MetricGenAITokenUsage:         genai.MetricTokenUsage,
		engine.MetricGenAIOperationDuration:  genai.MetricOperationDuration,
		engine.MetricGenAITimeToFirstChunk:   genai.MetricTimeToFirstChunk,
		engine.MetricGenAITimePerOutputChunk: genai.MetricTimePerOutputChunk,
	} {
		if got != want {
			t.Errorf("engine folds %q, genai names %q", got, want)
		}
	}
}
