package otlp

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
)

// TestSharedValueDoesNotBalloon: a workflow that attaches one 16 KiB
// document (a retrieved context, a global variable) to the inputs of every
// node holds 16 KiB; flowtel copies none of it (strings are referenced)
// and the engine's memory limit counts none of it, but encoding the run
// materialises every reference: 256 nodes x 32 inputs make a 128 MiB
// request, encoded whole before the sink looks at its size (peak heap
// 534 MiB with a receiver in the process). With the limits' maxima
// (1024 nodes x 128 attributes x 256 KiB) one run asks the encoder for
// 32 GiB. What one run may encode needs a bound that the capture counts
// and cuts (ValuesTruncated / AttrsDropped), as it does each value.
func TestSharedValueDoesNotBalloon(t *testing.T) {
	e, err := New(export.Config{Endpoint: "127.0.0.1:1", Insecure: true}, engine.WithBatch(64, time.Millisecond),
		engine.WithLimits(engine.Limits{RunBytes: 4 << 20}))
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Repeat("x", 16<<10)
	attrs := make([]engine.Attr, 32)
	for i := range attrs {
		attrs[i] = engine.String("k"+strings.Repeat("a", i), doc)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := e.StartRun(engine.RunInfo{})
	for range 256 {
		n := r.StartNode("n", "n", "n")
		n.Input(attrs...)
		n.End()
	}
	r.End(0, "")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = e.ForceFlush(ctx)
	runtime.ReadMemStats(&after)
	_ = e.Shutdown(ctx)
	// Limits.RunBytes (4 MiB here) bounds what the run's spans and run
	// log hold; their encoding, the run log's and the buffers' growth take
	// several times that (146 MiB at the default 16 MiB). Unbounded, it
	// was 867 MiB.
	if got := after.TotalAlloc - before.TotalAlloc; got > 64<<20 {
		t.Fatalf("one run holding a 16 KiB string made flowtel allocate %d MiB", got>>20)
	}
	if s := e.Stats(); s.ValuesTruncated == 0 || s.Accepted != 257 {
		t.Fatalf("stats %+v, want the run and its 256 nodes, values cut", s)
	}
}
