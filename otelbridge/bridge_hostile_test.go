package otelbridge

import (
	"context"
	"errors"
	"math"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/internal/race"
)

// TestBridgeHostileMisuse drives the OpenTelemetry API as careless
// instrumentation does: spans ended twice, used after End, from many
// goroutines at once, with links, events and odd values.
func TestBridgeHostileMisuse(t *testing.T) {
	e, sink := newTestEngine(t)
	tp := NewTracerProvider(e)
	tr := tp.Tracer("x")
	ctx, root := tr.Start(context.Background(), "flow", trace.WithLinks(testLink()), trace.WithAttributes(attribute.Int64("code", math.MinInt64), attribute.String("flow_id", "\xff")))
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				cctx, s := tr.Start(ctx, "n", trace.WithAttributes(attribute.StringSlice("s", []string{"a", "\xff"}), attribute.Float64("f", math.NaN())))
				_, c := tr.Start(cctx, "c")
				s.AddLink(testLink())
				s.AddEvent("e", trace.WithAttributes(attribute.Bool("b", true)))
				s.RecordError(errors.New("boom"), trace.WithStackTrace(true))
				s.SetStatus(codes.Error, "bad")
				s.SetStatus(codes.Ok, "")
				s.SetName("")
				s.End()
				s.End()
				s.SetAttributes(attribute.Int("late", 1))
				s.AddEvent("late")
				s.RecordError(errors.New("late"))
				s.SetStatus(codes.Error, "late")
				s.SetName("late")
				_ = s.IsRecording()
				_ = s.SpanContext()
				// A child of an ended parent, and a span whose parent ends
				// while it runs.
				_, late := tr.Start(cctx, "late-child")
				late.End()
				c.End()
				root.SetAttributes(attribute.String("k", "v")) // concurrently with StartNode
			}
		}()
	}
	wg.Wait()
	root.End()
	root.End()
	root.SetAttributes(attribute.String("late", "v"))
	flush(t, e)
	s := e.Stats()
	if s.Accepted != s.Exported+s.Dropped+s.SampledOut+s.InFlight {
		t.Fatalf("accounting: %+v", s)
	}
	if len(sink.Runs()) != 1 {
		t.Fatalf("%d runs", len(sink.Runs()))
	}
	if tp.Stats().LinksDropped != 1+8*50 {
		t.Errorf("links dropped %d", tp.Stats().LinksDropped)
	}
}

// TestBridgeZeroHandles puts zero handles (and a refused run is one) into
// contexts and starts spans from the span's own TracerProvider, as otelhttp
// does. It panicked: the provider of such a span had a nil engine.
func TestBridgeZeroHandles(t *testing.T) {
	for name, ctx := range map[string]context.Context{
		"zero run":  ContextWithRun(context.Background(), engine.Run{}),
		"zero node": ContextWithNode(context.Background(), engine.Node{}),
	} {
		t.Run(name, func(t *testing.T) {
			span := trace.SpanFromContext(ctx)
			span.End()
			span.SetAttributes(attribute.Int("a", 1))
			span.AddEvent("e")
			span.RecordError(errors.New("x"))
			_, s := span.TracerProvider().Tracer("t").Start(ctx, "s")
			s.End()
			_, _ = RunFromContext(ctx)
			_, _ = NodeFromContext(ctx)
			_ = SpanContextFromContext(ctx)
		})
	}
	_, s := NewTracerProvider(nil).Tracer("t").Start(context.Background(), "s", trace.WithNewRoot())
	if s.IsRecording() || s.SpanContext().IsValid() {
		t.Errorf("a provider without an engine recorded: %v", s.SpanContext())
	}
	s.End()
}

// TestSpanExporterHugeBatchNotPinned: the exporter reuses its conversion
// buffers between batches, and they kept the capacity of the largest batch
// ever given for good: one batch of 100,000 spans pinned its buffers (the
// spans', attributes' and values') for the life of the exporter.
func TestSpanExporterHugeBatchNotPinned(t *testing.T) {
	sx := NewSpanExporter(nil)
	stubs := make(tracetest.SpanStubs, 100_000)
	for i := range stubs {
		stubs[i].Name = "s"
		stubs[i].Attributes = []attribute.KeyValue{attribute.Int("i", i), attribute.IntSlice("v", []int{1, 2})}
	}
	big := stubs.Snapshots()
	encode.PutBuffer(sx.encodeSpans(big))
	encode.PutBuffer(sx.encodeSpans(big[:1]))
	if c := max(cap(sx.spans.buf), cap(sx.kvs.buf), cap(sx.vals.buf)); c > maxScratch {
		t.Fatalf("after a small batch the exporter still holds a buffer of %d elements", c)
	}
}

// TestSpanExporterNilExporter: a SpanExporter made with a nil
// *export.Exporter (a failed export.New whose error was not checked)
// refuses batches with ErrNoExporter. It panicked in ExportSpans, on the
// SDK batch processor's goroutine, ending the process.
func TestSpanExporterNilExporter(t *testing.T) {
	sx := NewSpanExporter(nil)
	spans := tracetest.SpanStubs{{Name: "s"}}.Snapshots()
	if err := sx.ExportSpans(context.Background(), spans); !errors.Is(err, ErrNoExporter) {
		t.Fatalf("ExportSpans: %v", err)
	}
	if err := sx.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := sx.ExportSpans(context.Background(), spans); !errors.Is(err, engine.ErrShutdown) {
		t.Fatalf("ExportSpans after Shutdown: %v", err)
	}
}

// TestSpanExporterManyGroupsNotPinned: after one batch of spans from
// 139,264 scopes and resources, a batch of one span leaves the exporter
// keeping next to nothing alive: the grouping state (the groups, their
// maps, each span's group index) is let go past maxScratch elements, as
// the conversion buffers are (which this batch takes past their bound).
// It was kept at the largest batch's size for the exporter's life: 63 MB
// for this batch, measured as the heap the exporter alone keeps alive.
func TestSpanExporterManyGroupsNotPinned(t *testing.T) {
	if race.Enabled {
		t.Skip("heap figures under -race are not the program's")
	}
	const n = 1<<17 + 1<<13
	stubs := make(tracetest.SpanStubs, n)
	for i := range stubs {
		stubs[i].Name = "s"
		stubs[i].InstrumentationScope = instrumentation.Scope{Name: strconv.Itoa(i)}
		stubs[i].Resource = sdkresource.NewSchemaless(attribute.Int("r", i))
	}
	big := stubs.Snapshots()
	sx := NewSpanExporter(nil)
	encode.PutBuffer(sx.encodeSpans(big))
	encode.PutBuffer(sx.encodeSpans(big[:1]))
	// The heap the exporter alone keeps alive: live after a collection
	// while it is reachable, less live once it is not (two collections
	// first, which empty the buffer pool's caches).
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	with := int64(m.HeapAlloc)
	runtime.KeepAlive(sx)
	runtime.GC()
	runtime.ReadMemStats(&m)
	held := with - int64(m.HeapAlloc)
	runtime.KeepAlive(big)
	t.Logf("the exporter keeps %d bytes alive", held)
	if held > 4<<20 {
		t.Errorf("after a batch of one span the exporter keeps %d bytes alive", held)
	}
}
