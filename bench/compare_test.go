package bench

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/otlp"
)

// attrs8 are the node attributes of the comparisons, as flowtel takes them:
// the same keys and values as sdkAttrs8.
var attrs8 = []engine.Attr{
	engine.String("query", "what is the weather in Hefei"), engine.String("model", "gpt-4o"),
	engine.String("lang", "zh-CN"), engine.Int64("top_k", 5),
	engine.String("text", "sunny, 23 degrees"), engine.Int64("tokens", 42),
	engine.String("temperature", "0.7"), engine.Bool("stream", true),
}

var runInfo = engine.RunInfo{SID: "spf00390001@hf17e12ef9c00a4bb202", FlowID: "flow", AppID: "app-42", UID: "user-1001", ChatID: "chat-9"}

// nodesPerRun is the nodes of each run in the comparisons: with the root,
// 8 spans per run.
const nodesPerRun = 7

func flowtelNode(run engine.Run) {
	n := run.StartNode("llm:1", "llm", "LLM")
	n.Input(attrs8[0], attrs8[1], attrs8[2], attrs8[3])
	n.Output(attrs8[4], attrs8[5])
	n.Config(attrs8[6], attrs8[7])
	n.Info("node finished")
	n.End()
}

func sdkNode(ctx context.Context, tr trace.Tracer) {
	_, sp := tr.Start(ctx, "run_node:llm:1", trace.WithAttributes(runAttrs...))
	sp.SetAttributes(sdkAttrs8...)
	sp.AddEvent("INFO", trace.WithAttributes(attribute.String("INFO LOG", "node finished")))
	sp.End()
}

func reportSpans(b *testing.B, spans int) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(spans)/s, "spans/s")
	}
}

// BenchmarkCompare compares flowtel with the OpenTelemetry Go SDK on
// capture, encode and end to end; doc.go describes the method.
func BenchmarkCompare(b *testing.B) {
	b.Run("capture/flowtel", benchCaptureFlowtel)
	b.Run("capture/otelsdk", func(b *testing.B) { benchCaptureSDK(b, false) })
	b.Run("capture/otelsdk-tuned", func(b *testing.B) { benchCaptureSDK(b, true) })
	b.Run("encode/flowtel", benchEncodeFlowtel)
	b.Run("encode/otelsdk", benchEncodeSDK)
	b.Run("e2e/flowtel", benchE2EFlowtel)
	b.Run("e2e/otelsdk", func(b *testing.B) { benchE2ESDK(b, false) })
	b.Run("e2e/otelsdk-tuned", func(b *testing.B) { benchE2ESDK(b, true) })
}

// SDK batch processor settings of a performance-minded user (the -tuned
// sub-benchmarks): a queue 32 times the default 2,048, batches 8 times
// the default 512, and WithBlocking instead of dropping when full.
const (
	sdkTunedQueue = 1 << 16
	sdkTunedBatch = 4096
)

// sdkBatcherOptions returns the BatchSpanProcessor options of the SDK
// sub-benchmarks: the tuned settings, or the defaults with WithBlocking
// (lossless) when blocking is set, or the bare defaults.
func sdkBatcherOptions(tuned, blocking bool) []sdktrace.BatchSpanProcessorOption {
	switch {
	case tuned:
		return []sdktrace.BatchSpanProcessorOption{sdktrace.WithMaxQueueSize(sdkTunedQueue), sdktrace.WithMaxExportBatchSize(sdkTunedBatch), sdktrace.WithBlocking()}
	case blocking:
		return []sdktrace.BatchSpanProcessorOption{sdktrace.WithBlocking()}
	}
	return nil
}

func benchCaptureFlowtel(b *testing.B) {
	e, err := engine.New(engine.WithLimits(engine.Limits{RunsInFlight: 1 << 16}), engine.WithRingCapacity(1<<14))
	if err != nil {
		b.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		run := e.StartRun(runInfo)
		i := 0
		for pb.Next() {
			flowtelNode(run)
			// A run holds 64 nodes, then a new one starts, so records recycle.
			if i++; i == 64 {
				run.End(0, "success")
				run = e.StartRun(runInfo)
				i = 0
			}
		}
		run.End(0, "success")
	})
	b.StopTimer()
	reportSpans(b, b.N)
	// The caller's cost is what this measures; the drops say whether the
	// pipeline kept up (the default policy drops rather than block).
	if err := e.Shutdown(context.Background()); err != nil {
		b.Fatal(err)
	}
	st := e.Stats()
	b.ReportMetric(float64(st.Dropped)/float64(max(st.Accepted, 1)), "dropped/span")
}

// benchCaptureSDK is capture/otelsdk: with the processor's defaults it
// drops spans when its queue is full (dropped/span says how many), tuned
// it blocks and loses none.
func benchCaptureSDK(b *testing.B, tuned bool) {
	exp := &discardExporter{}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdkBatcherOptions(tuned, false)...))
	defer tp.Shutdown(context.Background())
	tr := tp.Tracer("github.com/flowtel/flowtel")
	var roots atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx, root := tr.Start(context.Background(), "workflow_run", trace.WithAttributes(runAttrs...))
		n, i := int64(1), 0
		for pb.Next() {
			sdkNode(ctx, tr)
			if i++; i == 64 {
				root.End()
				ctx, root = tr.Start(context.Background(), "workflow_run", trace.WithAttributes(runAttrs...))
				n++
				i = 0
			}
		}
		root.End()
		roots.Add(n)
	})
	b.StopTimer()
	if err := tp.ForceFlush(context.Background()); err != nil {
		b.Fatal(err)
	}
	reportSpans(b, b.N)
	spans := float64(int64(b.N) + roots.Load())
	b.ReportMetric((spans-float64(exp.n.Load()))/spans, "dropped/span")
}

// flowtelBatch returns runs × (1 + nodes) finished spans as the engine
// hands them to a sink, with the content of sdkBatch.
func flowtelBatch(runs, nodes int) []*encode.Run {
	out := make([]*encode.Run, runs)
	t0 := time.Now().UnixNano()
	for r := range out {
		run := &encode.Run{
			TraceID: encode.TraceID{1, byte(r), 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, SpanID: encode.SpanID{1, byte(r), 3, 4, 5, 6, 7, 8},
			SID: runInfo.SID, FlowID: runInfo.FlowID, AppID: runInfo.AppID, UID: runInfo.UID, ChatID: runInfo.ChatID,
			StartUnixNano: t0, EndUnixNano: t0 + 5e6, Message: "success",
		}
		for n := 0; n < nodes; n++ {
			run.Nodes = append(run.Nodes, &encode.Node{
				SpanID: encode.SpanID{2, byte(r), byte(n), 4, 5, 6, 7, 8}, NodeID: "llm:1", NodeType: "llm", NodeName: "LLM",
				StartUnixNano: t0 + int64(n)*1e5, EndUnixNano: t0 + int64(n+1)*1e5,
				Input: attrs8[:4], Output: attrs8[4:6], Config: attrs8[6:],
				Events: []encode.Event{{TimeUnixNano: t0 + int64(n)*1e5 + 5e4, Kind: encode.EventInfo, Message: "node finished"}},
			})
		}
		out[r] = run
	}
	return out
}

// batchRuns is 64 runs of 8 spans: the 512-span batch of the encode benchmarks.
const batchRuns = 64

func benchEncodeFlowtel(b *testing.B) {
	runs := flowtelBatch(batchRuns, nodesPerRun)
	enc := encode.NewEncoder(encode.Resource{ServiceName: "bench", HostIP: "127.0.0.1"})
	buf := enc.AppendTraces(nil, runs)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = enc.AppendTraces(buf[:0], runs)
	}
	spans := encode.NumSpans(runs)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*spans), "ns/span")
	reportSpans(b, b.N*spans)
}

func benchEncodeSDK(b *testing.B) {
	spans := sdkBatch(batchRuns, nodesPerRun)
	raw, err := proto.Marshal(sdkToProto(spans))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := proto.Marshal(sdkToProto(spans)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(spans)), "ns/span")
	reportSpans(b, b.N*len(spans))
}

// e2eFlowtel captures about n spans (runs of 8) through an engine that
// exports over OTLP/gRPC to rc, flushes, and returns the spans produced and
// the engine's and exporter's accounting. Overflow blocks, so nothing is
// lost, like the SDK's blocking mode it is compared with.
func e2eFlowtel(tb testing.TB, rc *Receiver, n int) (produced uint64, s engine.Stats, xs export.Stats) {
	exp, err := export.New(export.Config{Endpoint: rc.Endpoint(), Insecure: true, Block: true, BlockTimeout: 30 * time.Second, Release: encode.PutBuffer})
	if err != nil {
		tb.Fatal(err)
	}
	sink, err := otlp.NewSink(exp, encode.Resource{ServiceName: "bench"}, false)
	if err != nil {
		tb.Fatal(err)
	}
	e, err := engine.New(engine.WithSink(sink), engine.WithOverflow(engine.Block, 30*time.Second))
	if err != nil {
		tb.Fatal(err)
	}
	for produced < uint64(n) {
		run := e.StartRun(runInfo)
		for i := 0; i < nodesPerRun; i++ {
			flowtelNode(run)
		}
		run.End(0, "success")
		produced += 1 + nodesPerRun
	}
	if err := e.Shutdown(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return produced, e.Stats(), exp.Stats()
}

func benchE2EFlowtel(b *testing.B) {
	rc := startReceiver(b, ReceiverConfig{Decode: DecodeCount})
	b.ReportAllocs()
	b.ResetTimer()
	produced, s, _ := e2eFlowtel(b, rc, b.N)
	b.StopTimer()
	if got := rc.Counts().Spans; got+s.Dropped != produced {
		b.Errorf("received %d + dropped %d != produced %d", got, s.Dropped, produced)
	}
	b.ReportMetric(float64(s.Dropped)/float64(produced), "dropped/span")
	reportSpans(b, int(rc.Counts().Spans))
}

// e2eSDK captures about n spans (runs of 8) through the SDK with its
// OTLP/gRPC exporter and a blocking BatchSpanProcessor (the defaults with
// WithBlocking, or the tuned settings), and shuts down.
func e2eSDK(tb testing.TB, rc *Receiver, n int, tuned bool) (produced uint64) {
	ctx := context.Background()
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(rc.Addr()), otlptracegrpc.WithInsecure())
	if err != nil {
		tb.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdkBatcherOptions(tuned, true)...),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "bench"))))
	tr := tp.Tracer("github.com/flowtel/flowtel")
	for produced < uint64(n) {
		rctx, root := tr.Start(ctx, "workflow_run", trace.WithAttributes(runAttrs...))
		for i := 0; i < nodesPerRun; i++ {
			sdkNode(rctx, tr)
		}
		root.End()
		produced += 1 + nodesPerRun
	}
	if err := tp.Shutdown(ctx); err != nil {
		tb.Fatal(err)
	}
	return produced
}

func benchE2ESDK(b *testing.B, tuned bool) {
	rc := startReceiver(b, ReceiverConfig{Decode: DecodeCount})
	b.ReportAllocs()
	b.ResetTimer()
	produced := e2eSDK(b, rc, b.N, tuned)
	b.StopTimer()
	got := rc.Counts().Spans
	b.ReportMetric(float64(produced-min(got, produced))/float64(produced), "dropped/span")
	reportSpans(b, int(got))
}
