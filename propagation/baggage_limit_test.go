package propagation

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/internal/race"
)

// TestBaggageInsertLimit inserts values around and far past the baggage
// limit: a result that fits MaxBaggageBytes is kept, one that does not is
// refused with ErrLimit, and a refused value costs no buffer of its size.
// Before, Insert made a buffer of three times the value and escaped the
// whole value into it before it compared the result with the limit: a
// 16 MiB value put in baggage by mistake cost 48 MiB to refuse.
func TestBaggageInsertLimit(t *testing.T) {
	base, err := ParseBaggage("a=1,b=2")
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{0, 1, 8000, 8180, 8181, 8182, 8183, 8192, 8193, 1 << 16} {
		for _, unit := range []string{"x", "é", " "} {
			v := strings.Repeat(unit, size/len(unit))
			got, err := base.Insert("key", v)
			// "x" is not escaped: the baggage is "a=1,b=2,key=" and v,
			// kept exactly when that fits the limit.
			if fits := len("a=1,b=2,key=")+len(v) <= 8192; unit == "x" && fits != (err == nil) {
				t.Fatalf("Insert of %d bytes of %q: %v, want it kept %v", len(v), unit, err, fits)
			}
			switch {
			case err == nil && len(got.String()) > 8192:
				t.Fatalf("Insert of %d bytes of %q: %d bytes of baggage, past the limit", len(v), unit, len(got.String()))
			case err == nil:
				if m, ok := got.Get("key"); !ok || m.Value() != v {
					t.Fatalf("Insert of %d bytes of %q: value not kept", len(v), unit)
				}
			case !errors.Is(err, ErrLimit):
				t.Fatalf("Insert of %d bytes of %q: %v, want ErrLimit", len(v), unit, err)
			case got.String() != base.String():
				t.Fatalf("refused Insert changed the baggage to %q", got.String())
			}
		}
	}
	if race.Enabled {
		return // the race detector's shadow memory is counted too
	}
	huge := strings.Repeat("é", 8<<20) // 16 MiB
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = base.Insert("key", huge)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("Insert of 16 MiB: %v, want ErrLimit", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Fatalf("refusing a 16 MiB value allocated %d bytes", n)
	}
}
