package genai_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/genai"
)

// An LLM node of docs/porting.md streams its answer and carries the GenAI
// conventions' attributes; when its run ends the engine folds it into the
// conventions' client metrics, read here on the Prometheus exposition.
func Example() {
	e, err := engine.New(engine.WithSink(&engine.MemorySink{}))
	if err != nil {
		panic(err)
	}
	run := e.StartRun(engine.RunInfo{AppID: "app", FlowID: "flow"})
	n := run.StartNode("spark-llm:1", "基础节点", "大模型")

	stream := []string{"明天", "小雨"}
	var out strings.Builder
	start := time.Now()
	for i, chunk := range stream {
		if i == 0 {
			n.FirstTokenCost(time.Since(start)) // set_node_first_cost_time(round(t, 2))
			n.FirstFrame()                      // set_first_frame_duration()
		}
		n.Chunk() // no counterpart in the original: gen_ai.client.operation.time_per_output_chunk
		out.WriteString(chunk)
	}
	n.LLMOutput(out.String())
	n.Usage(engine.Usage{PromptTokens: 340, CompletionTokens: 56, TotalTokens: 396})
	n.SetAttributes(genai.OperationName(genai.OpChat), genai.ProviderName("iflytek"),
		genai.RequestModel("spark-4"), genai.ResponseModel("spark-4.0-ultra"),
		genai.ServerAddress("spark-api.xf-yun.com"), genai.ServerPort(443),
		genai.FinishReason("stop")) // Usage gives gen_ai.usage.input_tokens and output_tokens
	n.End()
	run.End(0, "success")
	if err := e.Shutdown(context.Background()); err != nil {
		panic(err)
	}

	for _, line := range strings.Split(string(e.AppendPrometheus(nil)), "\n") {
		if strings.HasPrefix(line, "gen_ai_client_token_usage_sum") ||
			strings.HasPrefix(line, "gen_ai_client_operation_time_per_output_chunk_seconds_count") {
			fmt.Println(line)
		}
	}
	// Output:
	// gen_ai_client_token_usage_sum{gen_ai_operation_name="chat",gen_ai_provider_name="iflytek",gen_ai_request_model="spark-4",gen_ai_response_model="spark-4.0-ultra",server_address="spark-api.xf-yun.com",server_port="443",gen_ai_token_type="input"} 340
	// gen_ai_client_token_usage_sum{gen_ai_operation_name="chat",gen_ai_provider_name="iflytek",gen_ai_request_model="spark-4",gen_ai_response_model="spark-4.0-ultra",server_address="spark-api.xf-yun.com",server_port="443",gen_ai_token_type="output"} 56
	// gen_ai_client_operation_time_per_output_chunk_seconds_count{gen_ai_operation_name="chat",gen_ai_provider_name="iflytek",gen_ai_request_model="spark-4",gen_ai_response_model="spark-4.0-ultra",server_address="spark-api.xf-yun.com",server_port="443"} 1
}
