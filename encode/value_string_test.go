package encode

import (
	"fmt"
	"testing"
)

// TestValueString prints Values and an Attr with fmt: each shows what it
// holds, where the packed layout would show a pointer and a length.
func TestValueString(t *testing.T) {
	for _, c := range []struct {
		v    Value
		want string
	}{
		{Value{}, ""},
		{StringValue("prompt"), "prompt"},
		{StringValue(""), ""},
		{Int64Value(-42), "-42"},
		{Float64Value(0.25), "0.25"},
		{BoolValue(true), "true"},
		{BytesValue([]byte{0xde, 0xad}), "dead"},
	} {
		if got := fmt.Sprint(c.v); got != c.want {
			t.Errorf("fmt.Sprint(%#v) = %q, want %q", c.v.Kind(), got, c.want)
		}
	}
	if got := fmt.Sprintf("%v", Attr{Key: "k", Value: StringValue("v")}); got != "{k v}" {
		t.Errorf("Attr prints %q, want {k v}", got)
	}
}
