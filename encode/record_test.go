package encode

import (
	"math"
	"strings"
	"testing"
	"unsafe"

	"github.com/flowtel/flowtel/internal/testkit"
)

// TestIsStreamNode checks IsStreamNode against its rule: the node id's
// prefix before the first ':' (the whole id without one) is "message" or
// "node-end".
func TestIsStreamNode(t *testing.T) {
	for _, id := range []string{"", "message", "message:1", "message:", "messages:1", "messag", "message-x:1",
		"node-end", "node-end:9", "node-endx", "node", ":message", "mess:age", "llm:message", "node-end:a:b"} {
		typ, _, _ := strings.Cut(id, ":")
		if want := typ == "message" || typ == "node-end"; IsStreamNode(id) != want {
			t.Errorf("IsStreamNode(%q) = %v, want %v", id, !want, want)
		}
	}
}

// TestValueSize checks that an Attr takes half a cache line: the engine's
// node records hold 32 of them, and the encoder reads them all.
func TestValueSize(t *testing.T) {
	if s := unsafe.Sizeof(Value{}); s != 16 {
		t.Errorf("Value is %d bytes, want 16", s)
	}
	if s := unsafe.Sizeof(Attr{}); s != 32 {
		t.Errorf("Attr is %d bytes, want 32", s)
	}
}

// TestValueAccessors checks every accessor on every kind, the kinds an
// accessor was not made for included: they read as the zero of their
// type, as when Value kept a string and a number apart.
func TestValueAccessors(t *testing.T) {
	long := strings.Repeat("x", 1<<20)
	for _, c := range []struct {
		name string
		v    Value
		kind Kind
		str  string
		bits uint64
	}{
		{"empty", Value{}, KindEmpty, "", 0},
		{"string", StringValue("héllo"), KindString, "héllo", 0},
		{"empty string", StringValue(""), KindString, "", 0},
		{"empty string cut", StringValue("abc"[3:]), KindString, "", 0},
		{"long string", StringValue(long), KindString, long, 0},
		{"bytes", BytesValue([]byte{0xff, 0, 1}), KindBytes, "\xff\x00\x01", 0},
		{"nil bytes", BytesValue(nil), KindBytes, "", 0},
		{"empty bytes", BytesValue([]byte{}), KindBytes, "", 0},
		{"int", Int64Value(-1), KindInt64, "", math.MaxUint64},
		{"int zero", Int64Value(0), KindInt64, "", 0},
		{"int min", Int64Value(math.MinInt64), KindInt64, "", 1 << 63},
		{"float", Float64Value(-0.5), KindFloat64, "", math.Float64bits(-0.5)},
		{"nan", Float64Value(math.NaN()), KindFloat64, "", math.Float64bits(math.NaN())},
		{"true", BoolValue(true), KindBool, "", 1},
		{"false", BoolValue(false), KindBool, "", 0},
	} {
		v := c.v
		if v.Kind() != c.kind || v.Str() != c.str || uint64(v.Int64()) != c.bits ||
			math.Float64bits(v.Float64()) != c.bits || v.Bool() != (c.bits != 0) {
			t.Errorf("%s: Kind %d Str %.20q Int64 %d Float64 %v Bool %v, want kind %d, %.20q, bits %#x",
				c.name, v.Kind(), v.Str(), v.Int64(), v.Float64(), v.Bool(), c.kind, c.str, c.bits)
		}
		if b := v.Bytes(); string(b) != c.str || (len(b) == 0) != (b == nil) {
			t.Errorf("%s: Bytes %q (nil %v), want %q, nil when empty", c.name, b, b == nil, c.str)
		}
		if !v.Equal(c.v) {
			t.Errorf("%s: not Equal to itself", c.name)
		}
	}
}

// TestValueEqual checks Equal: kinds apart, strings by contents, scalars
// by bits, and that == compares strings by their memory.
func TestValueEqual(t *testing.T) {
	a, b := StringValue("abc"), StringValue(strings.Clone("abc"))
	if !a.Equal(b) || a == b {
		t.Errorf("equal strings in two places: Equal %v, == %v; want true, false", a.Equal(b), a == b)
	}
	if StringValue("") != StringValue("abc"[:0]) || StringValue("") == (Value{}) {
		t.Error("empty strings do not compare equal with ==, or equal the zero Value")
	}
	for _, c := range [][2]Value{
		{StringValue("1"), BytesValue([]byte("1"))},
		{StringValue(""), {}},
		{BytesValue(nil), {}},
		{StringValue(""), BytesValue(nil)},
		{Int64Value(0), BoolValue(false)},
		{Int64Value(1), Float64Value(math.Float64frombits(1))},
		{Int64Value(0), {}},
		{Float64Value(0), Float64Value(math.Copysign(0, -1))},
		{StringValue("abc"), StringValue("abd")},
		{StringValue("ab"), StringValue("abc")},
	} {
		if c[0].Equal(c[1]) || c[1].Equal(c[0]) || c[0] == c[1] {
			t.Errorf("%v and %v compare equal", c[0], c[1])
		}
	}
	i, j, nan := Int64Value(7), Int64Value(3+4), math.NaN()
	if !i.Equal(j) || i != j || Float64Value(nan) != Float64Value(-(-nan)) || !Float64Value(nan).Equal(Float64Value(nan)) {
		t.Error("equal scalars compare unequal")
	}
}

// TestValueAllocs gives the constructors and accessors their budget: none.
func TestValueAllocs(t *testing.T) {
	s, b := strings.Repeat("v", 40), []byte("bytes")
	var sink Value
	var n int
	testkit.WantAllocs(t, 0, func() {
		sink = StringValue(s)
		n += len(sink.Str()) + int(sink.Kind())
		sink = BytesValue(b)
		n += len(sink.Bytes())
		sink = Int64Value(int64(n))
		n += int(sink.Int64())
		sink = Float64Value(float64(n))
		n += int(sink.Float64())
		sink = BoolValue(n > 0)
		if sink.Bool() {
			n++
		}
	})
	_ = n
}
