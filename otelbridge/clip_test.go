package otelbridge

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/internal/race"
)

// randValue returns a random slice or map value (depth levels at most)
// whose strings, keys and bytes mix ASCII, control characters, multi-byte
// runes and invalid UTF-8, so that their string forms hold escapes.
func randValue(rng *rand.Rand, depth int) attribute.Value {
	str := func() string {
		parts := []string{"a", "é", "😀", "k", "\x01", "\xff", "\"", "\\"}
		plain := 4 + 4*rng.IntN(2) // half the strings without escapes
		var b strings.Builder
		for range rng.IntN(40) {
			b.WriteString(parts[rng.IntN(plain)])
		}
		return b.String()
	}
	n := rng.IntN(12)
	kind := rng.IntN(6)
	if depth == 0 {
		kind = rng.IntN(4)
	}
	switch kind {
	case 0:
		ss := make([]string, n)
		for i := range ss {
			ss[i] = str()
		}
		return attribute.StringSliceValue(ss)
	case 1:
		is := make([]int64, n)
		for i := range is {
			is[i] = rng.Int64() - math.MaxInt64/2
		}
		return attribute.Int64SliceValue(is)
	case 2:
		fs := make([]float64, n)
		for i := range fs {
			fs[i] = []float64{rng.NormFloat64(), math.NaN(), math.Inf(1), 0}[rng.IntN(4)]
		}
		return attribute.Float64SliceValue(fs)
	case 3:
		bs := make([]bool, n)
		for i := range bs {
			bs[i] = rng.IntN(2) == 0
		}
		return attribute.BoolSliceValue(bs)
	case 4:
		vs := make([]attribute.Value, n)
		for i := range vs {
			vs[i] = randLeaf(rng, depth, str)
		}
		return attribute.SliceValue(vs...)
	}
	kvs := make([]attribute.KeyValue, n)
	for i := range kvs {
		kvs[i] = attribute.KeyValue{Key: attribute.Key(str()), Value: randLeaf(rng, depth, str)}
	}
	return attribute.MapValue(kvs...)
}

func randLeaf(rng *rand.Rand, depth int, str func() string) attribute.Value {
	switch rng.IntN(5) {
	case 0:
		return attribute.StringValue(str())
	case 1:
		return attribute.ByteSliceValue([]byte(str()))
	case 2:
		return attribute.Int64Value(rng.Int64())
	case 3:
		return attribute.Value{}
	}
	return randValue(rng, depth-1)
}

// TestBridgeSliceValueKeptAsItsStringForm sets random slice and map
// values, nested, with escapes, on bridged nodes of engines with small
// Limits.ValueBytes, and checks that each node keeps exactly what the
// engine keeps of the value's whole string form set as a string: the
// bridge clips a value before it formats it, and the bytes kept must not
// change.
func TestBridgeSliceValueKeptAsItsStringForm(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 17))
	for _, vb := range []int{1, 2, 5, 17, 64, 300, 4096} {
		e, sink := newTestEngine(t, engine.WithLimits(engine.Limits{ValueBytes: vb, Attrs: 4}))
		tr := NewTracerProvider(e).Tracer("t")
		ctx, root := tr.Start(context.Background(), "flow")
		var want []attribute.Value
		for i := range 150 {
			v := randValue(rng, 3)
			want = append(want, v)
			_, n := tr.Start(ctx, "n"+strconv.Itoa(i))
			n.SetAttributes(attribute.KeyValue{Key: "v", Value: v}, attribute.String("s", v.String()))
			n.End()
		}
		root.End()
		flush(t, e)
		runs := sink.Runs()
		if len(runs) != 1 || len(runs[0].Nodes) != len(want) {
			t.Fatalf("ValueBytes %d: %d runs", vb, len(runs))
		}
		for i, n := range runs[0].Nodes {
			got, _ := attrOf(n.Output, "v")
			exp, _ := attrOf(n.Output, "s")
			if got.Str() != exp.Str() {
				t.Errorf("ValueBytes %d: %s kept %q, want %q (the string form %q)", vb, n.NodeID, got.Str(), exp.Str(), want[i].String())
			}
		}
	}
}

// TestBridgeSliceValueMemoryBounded sets a string slice of 16 MiB of
// control characters on a bridged node and its run: what the bridge
// allocates must stay under the value's own size, since the record keeps
// Limits.ValueBytes (256 KiB) of its string form. Its string form,
// escaped six bytes a byte, was built whole: about 33 bytes allocated
// for each byte of the value.
func TestBridgeSliceValueMemoryBounded(t *testing.T) {
	e, sink := newTestEngine(t)
	tr := NewTracerProvider(e).Tracer("t")
	ss := make([]string, 16)
	for i := range ss {
		ss[i] = strings.Repeat("\x01", 1<<20)
	}
	v := attribute.StringSlice("big", ss)
	m := attribute.KeyValue{Key: "map", Value: attribute.MapValue(attribute.KeyValue{Key: attribute.Key(ss[0]), Value: attribute.StringSliceValue(ss)})}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ctx, root := tr.Start(context.Background(), "flow")
	_, n := tr.Start(ctx, "node")
	n.SetAttributes(v, m)
	n.End()
	root.SetAttributes(v, m)
	root.End()
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 64<<20 { // 4 values, each cut to 256 KiB before it is escaped (6 bytes a byte at most)
		t.Errorf("the bridge allocated %d MiB for four values of 16 MiB", got>>20)
	}
	flush(t, e)
	if runs := sink.Runs(); len(runs) != 1 || len(runs[0].Nodes) != 1 {
		t.Fatalf("%d runs", len(runs))
	} else if got, _ := attrOf(runs[0].Nodes[0].Output, "big"); len(got.Str()) != 256<<10 {
		t.Errorf("the node kept %d bytes of the value, want Limits.ValueBytes", len(got.Str()))
	}
}

// TestBridgeDeepValueNoStackOverflow sets a value nested 100,000 levels
// deep, with the goroutine stack limited to 16 MiB: the string form
// recursed once a level and overflowed it, a fatal error that no recover
// stops (the host process died). Past maxClipDepth levels it is null.
func TestBridgeDeepValueNoStackOverflow(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector's frames are larger")
	}
	defer debug.SetMaxStack(debug.SetMaxStack(16 << 20))
	e, sink := newTestEngine(t)
	tr := NewTracerProvider(e).Tracer("t")
	v := attribute.StringValue("leaf")
	for range 100_000 {
		v = attribute.SliceValue(v)
	}
	ctx, root := tr.Start(context.Background(), "flow")
	_, n := tr.Start(ctx, "node")
	n.SetAttributes(attribute.KeyValue{Key: "deep", Value: v})
	n.End()
	root.End()
	flush(t, e)
	runs := sink.Runs()
	if len(runs) != 1 || len(runs[0].Nodes) != 1 {
		t.Fatalf("%d runs", len(runs))
	}
	want := strings.Repeat("[", maxClipDepth+1) + "null" + strings.Repeat("]", maxClipDepth+1)
	if got, _ := attrOf(runs[0].Nodes[0].Output, "deep"); got.Str() != want {
		t.Errorf("kept %.40q... (%d bytes), want %d levels and null", got.Str(), len(got.Str()), maxClipDepth+1)
	}
}
