package otlp_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/genai"
	"github.com/flowtel/flowtel/otlp"
)

// ExampleNew is the engine of README's "Use": an OTLP/gRPC engine sending
// to a collector on 127.0.0.1:4317. It is compiled, not run (it needs a
// collector); Example_readmeUse runs the same calls.
func ExampleNew() {
	ctx := context.Background()
	cfg := export.Config{Endpoint: "127.0.0.1:4317", Insecure: true} // or export.FromEnv()
	eng, err := otlp.New(cfg)
	if err != nil {
		panic(err)
	}
	defer eng.Shutdown(ctx)

	readmeUse(eng, "app", "flow", "明天合肥天气怎么样？", "小雨")
}

// readmeUse is the snippet of README's "Use", as written there.
func readmeUse(eng *engine.Engine, appID, flowID, q, a string) {
	uid, chatID := "u", "c"
	sent := time.Now()

	run := eng.StartRun(engine.RunInfo{FlowID: flowID, AppID: appID, UID: uid, ChatID: chatID, Sub: "spf", Question: q})
	run.Srv("region", "hf") // srv and srv_tag, as the original's add_srv
	n := run.StartNode("llm:1", "llm", "Answer")
	n.Input(engine.String("query", q))
	n.Config(engine.String("model", "spark-4"), engine.Float64("temperature", 0.7))
	n.SetAttributes(genai.OperationName(genai.OpChat), genai.RequestModel("spark-4")) // raw span keys
	n.FirstTokenCost(time.Since(sent))                                                // node_first_cost_time
	n.FirstFrame()                                                                    // first streamed token: first_frame_duration
	n.Chunk()                                                                         // each streamed chunk: gen_ai.client.operation.time_per_output_chunk
	n.InfoEvent(engine.Float64("llm first token cost: ", 1.2))                        // an event given as data
	n.Usage(engine.Usage{PromptTokens: 120, CompletionTokens: 40, TotalTokens: 160})
	call := n.StartChild("plugin:1", "plugin", "search") // work below the node: its span is under n's
	call.SetSpanKind(engine.SpanKindClient)              // a call to another service
	call.End()
	n.Output(engine.String("answer", a))
	n.Next("message:1") // next_log_ids: resolved to that node's log id
	n.End()             // or n.RecordError(err), n.Fail(msg), n.Cancel(reason)
	run.Answer(a)
	run.End(0, "success") // idempotent; sums node usage once
}

// Example_readmeUse runs README's "Use" on an engine whose sink keeps the
// runs, and shows what the calls recorded: the child's span under the
// LLM node's, the GenAI attributes on the span only, the usage summed into
// the run once, and the run trace log's fields.
func Example_readmeUse() {
	sink := &engine.MemorySink{}
	eng, err := engine.New(engine.WithSink(sink))
	if err != nil {
		panic(err)
	}
	readmeUse(eng, "app", "flow", "明天合肥天气怎么样？", "小雨")
	if err := eng.Shutdown(context.Background()); err != nil {
		panic(err)
	}

	r := sink.Runs()[0]
	for _, n := range r.Nodes { // in the order they ended
		under := "the run"
		if n.ParentSpanID != (encode.SpanID{}) {
			under = "llm:1"
		}
		fmt.Printf("%s (%s) under %s, client %v, %d span attributes, %d chunk\n",
			n.NodeID, n.NodeName, under, n.Kind == engine.SpanKindClient, len(n.Attrs), n.Chunks)
	}
	fmt.Println("run usage:", r.Usage.TotalTokens)
	log := string(encode.AppendRunLog(nil, &r))
	for _, field := range []string{`"srv":{"region":"hf"}`, `"srv_tag":{"region":"hf"}`,
		`"answer":"小雨"`, `"status":{"code":0,"message":"success"}`, `"llm_output":""`,
		`"temperature":0.7`, `"gen_ai.operation.name"`} {
		fmt.Printf("%s in the run log: %v\n", field, strings.Contains(log, field))
	}
	// Output:
	// plugin:1 (search) under llm:1, client true, 0 span attributes, 0 chunk
	// llm:1 (Answer) under the run, client false, 2 span attributes, 1 chunk
	// run usage: 160
	// "srv":{"region":"hf"} in the run log: true
	// "srv_tag":{"region":"hf"} in the run log: true
	// "answer":"小雨" in the run log: true
	// "status":{"code":0,"message":"success"} in the run log: true
	// "llm_output":"" in the run log: true
	// "temperature":0.7 in the run log: true
	// "gen_ai.operation.name" in the run log: false
}
