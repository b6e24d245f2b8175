package eino

import (
	"context"
	"syscall"
	"testing"

	"github.com/cloudwego/eino/callbacks"
	"github.com/cloudwego/eino/components"
	"github.com/cloudwego/eino/components/model"
	"github.com/cloudwego/eino/compose"
	"github.com/cloudwego/eino/schema"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/flowtel/flowtel/engine"
)

// cpuTime returns the CPU time the process has used, user and system, in
// nanoseconds: on a shared machine the wall time of a benchmark also counts
// the time other processes held the cores, its CPU time much less so. It
// counts every goroutine, the handlers' background work (flowtel's
// pipeline, the SDK's batch processor, the stream readers) included.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// benchNodes is the node count of benchGraph.
const benchNodes = 8

// benchGraph is a real Eino graph of 8 nodes, invoked with Stream so that
// its one chat model streams (8 chunks, no delay):
//
//	START → prep → {a ∥ b} → merge → prompt → llm → post → guard → END
func benchGraph(b *testing.B) compose.Runnable[string, string] {
	b.Helper()
	pass := func(ctx context.Context, s string) (string, error) { return s, nil }
	g := compose.NewGraph[string, string]()
	add := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	add(g.AddLambdaNode("prep", compose.InvokableLambda(pass)))
	add(g.AddLambdaNode("a", compose.InvokableLambda(pass), compose.WithOutputKey("a")))
	add(g.AddLambdaNode("b", compose.InvokableLambda(pass), compose.WithOutputKey("b")))
	add(g.AddLambdaNode("merge", compose.InvokableLambda(func(ctx context.Context, m map[string]any) (string, error) {
		return m["a"].(string) + m["b"].(string), nil
	})))
	add(g.AddLambdaNode("prompt", compose.InvokableLambda(func(ctx context.Context, s string) ([]*schema.Message, error) {
		return []*schema.Message{schema.UserMessage(s)}, nil
	})))
	add(g.AddChatModelNode("llm", &scripted{name: "bench-1", reply: "one two three four five six seven eight", chunks: 8}))
	add(g.AddLambdaNode("post", compose.InvokableLambda(func(ctx context.Context, m *schema.Message) (string, error) {
		return m.Content, nil
	})))
	add(g.AddLambdaNode("guard", compose.InvokableLambda(pass)))
	for _, e := range [][2]string{{compose.START, "prep"}, {"prep", "a"}, {"prep", "b"}, {"a", "merge"}, {"b", "merge"},
		{"merge", "prompt"}, {"prompt", "llm"}, {"llm", "post"}, {"post", "guard"}, {"guard", compose.END}} {
		add(g.AddEdge(e[0], e[1]))
	}
	r, err := g.Compile(context.Background(), compose.WithGraphName("bench"))
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// BenchmarkGraph runs benchGraph bare (no handler), with a handler that
// does nothing (noop: Eino's own cost of calling a handler), with one that
// only reads its stream copies on goroutines (reader: the shape both
// tracing handlers share), with flowtel's Handler (an engine with its
// pipeline, discarding) and with sdkHandler (the OpenTelemetry SDK, batch
// span processor, discarding exporter). What a handler adds per node is
// its cpu-ns/node - bare's; its own cost, apart from Eino's and from
// reading the streams, is its cpu-ns/node - reader's. The same for
// allocs/op (divided by 8).
func BenchmarkGraph(b *testing.B) {
	g := benchGraph(b)
	ctx := context.Background()
	run := func(b *testing.B, h callbacks.Handler, ctx context.Context) {
		var opts []compose.Option
		if h != nil {
			opts = append(opts, compose.WithCallbacks(h))
		}
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuTime()
		for i := 0; i < b.N; i++ {
			sr, err := g.Stream(ctx, "q", opts...)
			if err != nil {
				b.Fatal(err)
			}
			for {
				if _, err := sr.Recv(); err != nil {
					break
				}
			}
			sr.Close()
		}
		b.StopTimer()
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchNodes, "ns/node")
		b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/benchNodes, "cpu-ns/node")
	}
	b.Run("bare", func(b *testing.B) { run(b, nil, ctx) })
	b.Run("noop", func(b *testing.B) { run(b, noopHandler{}, ctx) })
	b.Run("reader", func(b *testing.B) {
		h := &readerHandler{}
		run(b, h, ctx)
		h.streams.Wait()
	})
	b.Run("flowtel", func(b *testing.B) {
		eng, h := newEngineHandler(b, nil)
		run(b, h, WithRunInfo(ctx, engine.RunInfo{AppID: "app", UID: "u"}))
		h.Wait()
		if err := eng.Shutdown(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(eng.Stats().Dropped), "dropped")
	})
	b.Run("otelsdk", func(b *testing.B) {
		exp := &discardExporter{}
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
		h := newSDKHandler(tp)
		run(b, h, WithRunInfo(ctx, engine.RunInfo{AppID: "app", UID: "u"}))
		h.streams.Wait()
		if err := tp.Shutdown(context.Background()); err != nil {
			b.Fatal(err)
		}
		// The batch processor drops spans when its queue is full; a
		// twin that dropped would be doing less than flowtel.
		b.ReportMetric(float64(uint64(b.N)*(benchNodes+1)-exp.n.Load()), "dropped")
	})
}

// BenchmarkCallbacks calls a handler's callbacks directly, as Eino calls
// them for one Stream of benchGraph (a streamed graph input and output, 7
// nodes with start and end, one model whose 8 chunks are read by the
// handler), without Eino's own cost: each handler's cost alone; and
// nodes/*, a run of 8 nodes with nothing streamed. ns/node is ns/op / 8.
func BenchmarkCallbacks(b *testing.B) {
	var (
		graph  = &callbacks.RunInfo{Name: "bench", Component: compose.ComponentOfGraph}
		lambda = &callbacks.RunInfo{Component: compose.ComponentOfLambda}
		chat   = &callbacks.RunInfo{Type: "Scripted", Component: components.ComponentOfChatModel}
		mIn    = &model.CallbackInput{Messages: []*schema.Message{schema.UserMessage("q")}, Config: &model.Config{Model: "bench-1", Temperature: 0.5}}
		chunks = make([]callbacks.CallbackOutput, 8)
	)
	for i := range chunks {
		o := &model.CallbackOutput{Message: &schema.Message{Content: "word "}}
		if i == len(chunks)-1 {
			o.Message.ResponseMeta = &schema.ResponseMeta{FinishReason: "stop"}
			o.TokenUsage = &model.TokenUsage{PromptTokens: 10, CompletionTokens: 8, TotalTokens: 18}
		}
		chunks[i] = o
	}
	answer := []callbacks.CallbackOutput{"one two three"}
	nodes := func(b *testing.B, h callbacks.Handler, ctx context.Context) {
		// Nodes only: a run of 8 lambda nodes, nothing streamed.
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuTime()
		for i := 0; i < b.N; i++ {
			root := h.OnStart(ctx, graph, "q")
			for k := 0; k < benchNodes; k++ {
				h.OnEnd(h.OnStart(root, lambda, "in"), lambda, "out")
			}
			h.OnEnd(root, graph, "a")
		}
		b.StopTimer()
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchNodes, "ns/node")
		b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/benchNodes, "cpu-ns/node")
	}
	run := func(b *testing.B, h callbacks.Handler, ctx context.Context, wait func()) {
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuTime()
		for i := 0; i < b.N; i++ {
			root := h.OnStartWithStreamInput(ctx, graph, schema.StreamReaderFromArray([]callbacks.CallbackInput{"q"}))
			for k := 0; k < benchNodes-1; k++ {
				h.OnEnd(h.OnStart(root, lambda, "in"), lambda, "out")
			}
			m := h.OnStart(root, chat, mIn)
			h.OnEndWithStreamOutput(m, chat, schema.StreamReaderFromArray(chunks))
			h.OnEndWithStreamOutput(root, graph, schema.StreamReaderFromArray(answer))
		}
		wait()
		b.StopTimer()
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchNodes, "ns/node")
		b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/benchNodes, "cpu-ns/node")
	}
	ctx := context.Background()
	b.Run("nodes/flowtel", func(b *testing.B) {
		eng, h := newEngineHandler(b, nil)
		nodes(b, h, WithRunInfo(ctx, engine.RunInfo{AppID: "app", UID: "u"}))
		if err := eng.Shutdown(context.Background()); err != nil {
			b.Fatal(err)
		}
	})
	b.Run("nodes/otelsdk", func(b *testing.B) {
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(&discardExporter{}))
		nodes(b, newSDKHandler(tp), WithRunInfo(ctx, engine.RunInfo{AppID: "app", UID: "u"}))
		if err := tp.Shutdown(context.Background()); err != nil {
			b.Fatal(err)
		}
	})
	b.Run("noop", func(b *testing.B) { run(b, noopHandler{}, ctx, func() {}) })
	b.Run("flowtel", func(b *testing.B) {
		eng, h := newEngineHandler(b, nil)
		run(b, h, WithRunInfo(ctx, engine.RunInfo{AppID: "app", UID: "u"}), h.Wait)
		if err := eng.Shutdown(context.Background()); err != nil {
			b.Fatal(err)
		}
	})
	b.Run("otelsdk", func(b *testing.B) {
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(&discardExporter{}))
		h := newSDKHandler(tp)
		run(b, h, WithRunInfo(ctx, engine.RunInfo{AppID: "app", UID: "u"}), h.streams.Wait)
		if err := tp.Shutdown(context.Background()); err != nil {
			b.Fatal(err)
		}
	})
}
