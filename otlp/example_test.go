package otlp_test

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/genai"
	"github.com/flowtel/flowtel/otelbridge"
	"github.com/flowtel/flowtel/otlp"
	"github.com/flowtel/flowtel/promhttp"
	"github.com/flowtel/flowtel/sid"
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

// Example_readmeOptions is every option and call README names, in one
// program, so that a renamed one fails go test; it is compiled, not run.
func Example_readmeOptions() {
	ctx := context.Background()
	ratio, err := engine.TraceIDRatio(0.1) // refuses a ratio outside 0 to 1
	if err != nil {
		panic(err)
	}
	eng, err := otlp.New(export.Config{Endpoint: "127.0.0.1:4317", Insecure: true},
		engine.WithShards(2),
		engine.WithRingCapacity(1024),
		engine.WithOverflow(engine.Block, 100*time.Millisecond), // or engine.DropNewest, engine.DropOldest
		engine.WithBatch(512, time.Second),
		engine.WithIdleTimeout(time.Minute),
		engine.WithLimits(engine.Limits{NodesPerRun: 256, ValueBytes: 256 << 10, RunBytes: 16 << 20}),
		engine.WithResource(encode.Resource{ServiceName: "workflow"}),
		engine.WithSID(sid.Config{Sub: "spf", Location: "hf", IP: "10.0.164.187", Port: "7860"}),
		engine.WithSink(&engine.MemorySink{}), // a sink of your own beside OTLP (engine.Tee)
		engine.WithErrorHandler(func(err error) { fmt.Println(err) }),
		engine.WithStackTraces(true),
		engine.WithMemoryLimit(256<<20),
		engine.WithSampler(engine.ParentBased(ratio)),
		engine.WithTailSampling(engine.TailPolicy{KeepErrors: true, SlowestFraction: 0.01, Ratio: 0.01, MaxPerSecond: 100}),
		engine.WithMetrics(engine.MetricsConfig{Interval: time.Second, Delta: true, LabelBytes: 256}),
		engine.WithGenAISpanNames(false),
	)
	if err != nil {
		panic(err)
	}
	defer eng.Shutdown(ctx)
	eng.RequestSeries("app", "flow", 0).Record(time.Millisecond)
	eng.RecordRequest("app", "flow", 0, time.Millisecond)
	_ = eng.Bottlenecks()
	s := eng.Stats()
	_ = s.Accepted == s.Exported+s.Dropped+s.SampledOut+s.InFlight
	_, _, _ = s.RunsSampledOut, s.RunsHeadOut, s.ValuesTruncated
	_ = engine.Independent(engine.AlwaysOn())
	if s, ok := otlp.OTLPSink(eng); ok {
		_ = s.Offloader()
	}
	_, _ = otlp.ExporterStats(eng)
	_ = export.DefaultLargeFieldDir()
	_ = encode.RunLogOptions{StructuredLogs: true}
	_ = otelbridge.NewTracerProvider(eng).Tracer("otelhttp") // code instrumented with OpenTelemetry
	if xs, ok := otlp.OTLPSink(eng); ok {
		_ = otelbridge.NewSpanExporter(xs.Exporter()) // an SDK pipeline exporting through flowtel
	}
	_ = promhttp.Handler(eng) // /metrics
}

// Example_readmeSampling is README's "Sampling": a tail policy that keeps
// failed runs and a consistent 1 % of the rest. Every run is folded into
// the metrics; the runs left out are counted, apart from drops.
func Example_readmeSampling() {
	sink := &engine.MemorySink{}
	eng, err := engine.New(engine.WithSink(sink),
		engine.WithTailSampling(engine.TailPolicy{KeepErrors: true, Ratio: 0.01}))
	if err != nil {
		panic(err)
	}
	for i := range 100 {
		run := eng.StartRun(engine.RunInfo{AppID: "app", FlowID: "flow"})
		n := run.StartNode("code:1", "code", "code")
		if i == 42 {
			n.Fail("division by zero")
		} else {
			n.End()
		}
		run.End(0, "success")
	}
	if err := eng.Shutdown(context.Background()); err != nil {
		panic(err)
	}

	s := eng.Stats()
	failed := 0
	for _, r := range sink.Runs() {
		if !r.Nodes[0].Running() {
			failed++
		}
	}
	fmt.Println("failed run kept:", failed == 1)
	fmt.Println("runs left out, counted:", s.RunsSampledOut == 100-uint64(len(sink.Runs())))
	fmt.Println("accounting holds:", s.Accepted == s.Exported+s.Dropped+s.SampledOut+s.InFlight, s.Dropped == 0)
	fmt.Println("every run in the metrics:", strings.Contains(string(eng.AppendPrometheus(nil)), `flowtel_node_executions_total{node_type="code",status="ok"} 99`))
	// Output:
	// failed run kept: true
	// runs left out, counted: true
	// accounting holds: true true
	// every run in the metrics: true
}

// readmeAndExamples reads README.md and this file, which holds its examples.
func readmeAndExamples(t *testing.T) (readme, src []byte) {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err = os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	return readme, src
}

// TestReadmeUseIsExample holds README's "Use" snippet to readmeUse, line
// for line from StartRun to End (spaces aside), as README says it is.
func TestReadmeUseIsExample(t *testing.T) {
	readme, src := readmeAndExamples(t)
	m := regexp.MustCompile("(?s)## Use\n\n```go\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md: the Use snippet is not where this test looks for it")
	}
	space := regexp.MustCompile(`\s+`)
	code := space.ReplaceAllString(string(src), " ")
	i := strings.Index(string(m[1]), "run := eng.StartRun")
	if i < 0 {
		t.Fatal("README.md's Use snippet no longer starts a run with run := eng.StartRun")
	}
	for _, line := range strings.Split(string(m[1])[i:], "\n") {
		if l := space.ReplaceAllString(strings.TrimSpace(line), " "); l != "" && !strings.Contains(code, l) {
			t.Errorf("README's Use has %q, which readmeUse does not", l)
		}
	}
}

// TestReadmeOptionsCompiled holds Example_readmeOptions to what README says
// of it: every engine option README names (an engine function With...) is
// called there, so that a renamed or removed one fails to compile.
func TestReadmeOptionsCompiled(t *testing.T) {
	readme, src := readmeAndExamples(t)
	example := string(src)
	if i := strings.Index(example, "func Example_readmeOptions()"); i >= 0 {
		example = example[i:]
		example = example[:strings.Index(example, "\n}\n")]
	} else {
		t.Fatal("no Example_readmeOptions")
	}
	options := map[string]bool{}
	files, err := filepath.Glob("../engine/*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "With") {
				options[fn.Name.Name] = true
			}
		}
	}
	named := map[string]bool{}
	for _, m := range regexp.MustCompile(`\bWith[A-Z][A-Za-z]*`).FindAllString(string(readme), -1) {
		if !options[m] || named[m] {
			continue // another package's (the SDK's WithBlocking, Eino's WithCallbacks), or seen
		}
		named[m] = true
		if !strings.Contains(example, "engine."+m+"(") {
			t.Errorf("README names engine.%s, which Example_readmeOptions does not call", m)
		}
	}
	if len(named) == 0 {
		t.Error("README names no engine option: the test reads the wrong file")
	}
}
