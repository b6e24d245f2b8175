package encode

import (
	"math"
	"strings"
	"testing"
)

// TestValueLong checks Value.Long against what it stands for, Kind and
// Str: bytes, or a string longer than n, never a scalar whatever its bits.
func TestValueLong(t *testing.T) {
	long := strings.Repeat("x", 1<<20)
	for _, v := range []Value{
		{}, StringValue("héllo"), StringValue(""), StringValue(long), BytesValue([]byte{0xff, 0, 1}),
		BytesValue(nil), Int64Value(-1), Int64Value(math.MaxInt64), Int64Value(0), Float64Value(math.NaN()),
		Float64Value(-math.MaxFloat64), BoolValue(true), BoolValue(false),
	} {
		for _, n := range []int{0, 1, 5, 6, 1024, 1<<20 - 1, 1 << 20} {
			want := v.Kind() == KindBytes || len(v.Str()) > n
			if got := v.Long(n); got != want {
				t.Errorf("%v (kind %d, %d bytes).Long(%d) = %v, want %v", v, v.Kind(), len(v.Str()), n, got, want)
			}
		}
	}
}
