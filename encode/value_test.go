package encode

import (
	"math"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestValueSurvivesGC: Values built from heap strings and bytes, from
// substrings of them and from empty ones, the Values the only references
// left, read back the same after collections that would free unreferenced
// memory (and reuse it for new strings written in between).
func TestValueSurvivesGC(t *testing.T) {
	const n = 2000
	vals := make([]Value, 0, 3*n)
	want := make([]string, 0, 3*n)
	for i := range n {
		s := strings.Repeat(strconv.Itoa(i), 1+i%40)
		b := []byte("b" + s)
		sub := s[len(s)/3 : len(s)-len(s)/3]
		vals = append(vals, StringValue(s), BytesValue(b), StringValue(sub))
		want = append(want, s, "b"+s, sub)
	}
	runtime.GC()
	var junk []string
	for i := range n {
		junk = append(junk, strings.Repeat("z", 1+i%40))
	}
	runtime.GC()
	runtime.GC()
	for i, v := range vals {
		k := KindString
		if i%3 == 1 {
			k = KindBytes
		}
		if v.Kind() != k || v.Str() != want[i] || (k == KindBytes && string(v.Bytes()) != want[i]) {
			t.Fatalf("value %d: kind %v %q, want %v %q", i, v.Kind(), v.Str(), k, want[i])
		}
	}
	runtime.KeepAlive(junk)
}

// TestValueKindsThroughAccessors: every kind, read through every
// accessor, gives its own value and zero elsewhere; NaN keeps its bits.
func TestValueKindsThroughAccessors(t *testing.T) {
	nan := math.Float64frombits(0x7ff8000000000001)
	cases := []struct {
		v    Value
		kind Kind
		str  string
		i    int64
		f    uint64
		b    bool
	}{
		{Value{}, KindEmpty, "", 0, 0, false},
		{StringValue(""), KindString, "", 0, 0, false},
		{StringValue("x"), KindString, "x", 0, 0, false},
		{BytesValue(nil), KindBytes, "", 0, 0, false},
		{BytesValue([]byte{}), KindBytes, "", 0, 0, false},
		{BytesValue([]byte{0, 1}), KindBytes, "\x00\x01", 0, 0, false},
		{Int64Value(0), KindInt64, "", 0, 0, false},
		{Int64Value(-1), KindInt64, "", -1, math.Float64bits(math.Float64frombits(math.MaxUint64)), true},
		{Int64Value(math.MinInt64), KindInt64, "", math.MinInt64, 1 << 63, true},
		{Float64Value(nan), KindFloat64, "", int64(math.Float64bits(nan)), math.Float64bits(nan), true},
		{Float64Value(math.Copysign(0, -1)), KindFloat64, "", math.MinInt64, 1 << 63, true},
		{BoolValue(true), KindBool, "", 1, 1, true},
		{BoolValue(false), KindBool, "", 0, 0, false},
	}
	for i, c := range cases {
		v := c.v
		if v.Kind() != c.kind || v.Str() != c.str || v.Int64() != c.i || math.Float64bits(v.Float64()) != c.f || v.Bool() != c.b {
			t.Errorf("case %d: kind %v str %q int %d float %x bool %v; want %v %q %d %x %v",
				i, v.Kind(), v.Str(), v.Int64(), math.Float64bits(v.Float64()), v.Bool(), c.kind, c.str, c.i, c.f, c.b)
		}
		if !v.Equal(v) {
			t.Errorf("case %d: not Equal to itself", i)
		}
		if c.kind != KindBytes && c.kind != KindString && len(v.Bytes()) != 0 {
			t.Errorf("case %d: Bytes %q", i, v.Bytes())
		}
	}
	if StringValue("a").Equal(BytesValue([]byte("a"))) || Int64Value(1).Equal(BoolValue(true)) || StringValue("").Equal(Value{}) {
		t.Error("values of different kinds Equal")
	}
}
