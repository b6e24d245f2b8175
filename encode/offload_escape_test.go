package encode

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// TestSpanEventAttrsOffloadByJSONSize builds INFO event attributes at
// random, many of them large only through their JSON escapes (control
// characters written \u00XX, quotes and backslashes doubled, invalid
// UTF-8 written as U+FFFD) or through scalars whose text is long: the
// attributes are offloaded exactly when their JSON object is
// SpanEventOffloadThreshold bytes or more, and the stored value is that
// object. Before, an estimate from the raw lengths skipped the JSON
// under half the threshold: 2,000 control characters (12 KiB of JSON)
// stayed in the span.
func TestSpanEventAttrsOffloadByJSONSize(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	store := &offloadMemStore{}
	o := NewOffloader(store, OffloadConfig{})
	defer func() { _ = o.Close(context.Background()) }() // o is the last one made
	rng := rand.New(rand.NewPCG(7, 11))
	pieces := []string{"\x01", "\x1f", `"`, `\`, "\xff", "a", "长", "\n"}
	r := &Run{SID: "s"}
	offloaded, kept := 0, 0
	for i := range 3000 {
		var attrs []Attr
		for range 1 + rng.IntN(200) {
			key := strings.Repeat(pieces[rng.IntN(len(pieces))], rng.IntN(20))
			var v Value
			switch rng.IntN(5) {
			case 0:
				v = Int64Value(math.MinInt64 + rng.Int64N(10))
			case 1:
				v = Float64Value(-1.2345678901234567e-300 * rng.Float64())
			case 2:
				v = BoolValue(false)
			case 3:
				v = BytesValue([]byte(strings.Repeat("\x00", rng.IntN(100))))
			default:
				v = StringValue(strings.Repeat(pieces[rng.IntN(len(pieces))], rng.IntN(400)))
			}
			attrs = append(attrs, Attr{Key: key, Value: v})
		}
		if i == 0 {
			attrs = []Attr{{Key: "k", Value: StringValue(strings.Repeat("\x01", 2000))}}
		}
		want := []byte{'{'}
		for j := range attrs {
			if j > 0 {
				want = append(want, ", "...)
			}
			want = jsonAppendString(want, attrs[j].Key)
			want = append(want, ": "...)
			want = jsonAppendValue(want, attrs[j].Value)
		}
		want = append(want, '}')
		link, ok := o.spanEventAttrsLink(r, SpanID{}, attrs)
		if ok != (len(want) >= SpanEventOffloadThreshold) {
			t.Fatalf("attrs %d, JSON of %d bytes: offloaded %v", i, len(want), ok)
		}
		if !ok {
			kept++
			continue
		}
		offloaded++
		if err := o.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		key, _ := strings.CutPrefix(link, "mem:")
		if got := store.values[key]; got != string(want) {
			t.Fatalf("attrs %d: stored %d bytes, want the %d of their JSON", i, len(got), len(want))
		}
		o = NewOffloader(store, OffloadConfig{})
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if offloaded < 100 || kept < 100 {
		t.Fatalf("%d offloaded, %d kept: the cases do not straddle the threshold", offloaded, kept)
	}
}
