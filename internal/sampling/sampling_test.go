package sampling

import (
	"math/rand/v2"
	"testing"

	"github.com/flowtel/flowtel/internal/testkit"
)

// TestThresholdTable checks the specification's table of 1-in-N
// probabilities at precision 3, 4 and 5.
func TestThresholdTable(t *testing.T) {
	tests := []struct {
		p    float64
		want [3]string
	}{
		{1, [3]string{"0", "0", "0"}},
		{0.5, [3]string{"8", "8", "8"}},
		{1.0 / 3, [3]string{"aab", "aaab", "aaaab"}},
		{0.25, [3]string{"c", "c", "c"}},
		{0.2, [3]string{"ccd", "cccd", "ccccd"}},
		{0.125, [3]string{"e", "e", "e"}},
		{0.1, [3]string{"e66", "e666", "e6666"}},
		{0.0625, [3]string{"f", "f", "f"}},
		{0.01, [3]string{"fd71", "fd70a", "fd70a4"}},
		{0.001, [3]string{"ffbe7", "ffbe77", "ffbe76d"}},
		{0.0001, [3]string{"fff972", "fff9724", "fff97247"}},
		{0.00001, [3]string{"ffff584", "ffff583a", "ffff583a5"}},
		{0.000001, [3]string{"ffffef4", "ffffef39", "ffffef391"}},
	}
	for _, tt := range tests {
		for i, prec := range []int{3, 4, 5} {
			th, err := ThresholdWithPrecision(tt.p, prec)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(AppendTh(nil, th)); got != tt.want[i] {
				t.Fatalf("p=%v precision %d: th %s, want %s", tt.p, prec, got, tt.want[i])
			}
			back, ok := ParseTh(tt.want[i])
			if !ok || back != th {
				t.Fatalf("ParseTh(%s) = %x, %v; want %x", tt.want[i], back, ok, th)
			}
		}
	}
	// The specification's example: 1 % with 5 digits is 0xfd70a400000000.
	if th, _ := ThresholdWithPrecision(0.01, 5); th != 0xfd70a400000000 {
		t.Fatalf("1%%: %x", th)
	}
	for _, bad := range []float64{0, -1, 1.5, 0x1p-57} {
		if _, err := ThresholdFromProbability(bad); err == nil {
			t.Fatalf("probability %v accepted", bad)
		}
	}
}

func TestThAndRvParsing(t *testing.T) {
	for _, tt := range []struct {
		s  string
		ok bool
		v  uint64
	}{
		{"0", true, 0}, {"8", true, 1 << 55}, {"fd70a4", true, 0xfd70a400000000},
		{"ffffffffffffff", true, MaxThreshold - 1}, {"", false, 0}, {"fffffffffffffff", false, 0},
		{"F", false, 0}, {"g", false, 0},
	} {
		if v, ok := ParseTh(tt.s); ok != tt.ok || v != tt.v {
			t.Fatalf("ParseTh(%q) = %x, %v", tt.s, v, ok)
		}
	}
	if v, ok := ParseRv("0123456789abcd"); !ok || v != 0x0123456789abcd {
		t.Fatalf("ParseRv = %x %v", v, ok)
	}
	if _, ok := ParseRv("8"); ok {
		t.Fatal("short rv accepted")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		th := r.Uint64() & randomMask
		back, ok := ParseTh(string(AppendTh(nil, th)))
		if !ok || back != th {
			t.Fatalf("th %x round trip %x %v", th, back, ok)
		}
	}
}

// TestConsistency checks the property consistent sampling rests on: over
// the same random trace-ids, a probability keeps close to its fraction, and
// a lower probability keeps a subset of a higher one's set.
func TestConsistency(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	probs := []float64{1, 0.5, 0.25, 0.1, 0.01}
	var ths []uint64
	for _, p := range probs {
		th, err := ThresholdFromProbability(p)
		if err != nil {
			t.Fatal(err)
		}
		ths = append(ths, th)
	}
	kept := make([]int, len(probs))
	const n = 200000
	for range n {
		var id [16]byte
		for i := range id {
			id[i] = byte(r.Uint32())
		}
		rv := TraceIDRandomness(id)
		prev := true
		for i, th := range ths {
			k := Keep(rv, th)
			if k && !prev {
				t.Fatalf("trace %x kept at %v but not at %v", id, probs[i], probs[i-1])
			}
			prev = k
			if k {
				kept[i]++
			}
		}
	}
	for i, p := range probs {
		got := float64(kept[i]) / n
		if d := got - p; d > 0.01 || d < -0.01 {
			t.Fatalf("probability %v kept %v", p, got)
		}
	}
}

func TestOT(t *testing.T) {
	o := ParseOT("rv:0123456789abcd;x:y;th:8")
	if !o.HasTh || o.Th != 1<<55 || !o.HasRv || o.Rv != 0x0123456789abcd {
		t.Fatalf("ParseOT = %+v", o)
	}
	if r, ok := o.Randomness([16]byte{15: 0xff}, true); !ok || r != o.Rv {
		t.Fatal("explicit rv must win")
	}
	if r, ok := (OT{}).Randomness([16]byte{8: 0xff, 9: 1, 15: 2}, true); !ok || r != 0x01000000000002 {
		t.Fatalf("trace-id randomness %x", r)
	}
	if _, ok := (OT{}).Randomness([16]byte{1}, false); ok {
		t.Fatal("randomness of a non-random trace-id")
	}
	if o := ParseOT("th:zz;th:8"); o.HasTh {
		t.Fatal("a bad first th must be absent") // the first th decides
	}
	tests := []struct {
		in   string
		t    uint64
		set  bool
		want string
	}{
		{"", 1 << 55, true, "th:8"},
		{"x:y", 0, true, "th:0;x:y"},
		{"x:y;th:c", 1 << 55, true, "x:y;th:8"},
		{"x:y;th:8", 1 << 55, true, "x:y;th:8"},
		{"th:8;x:y", 0, false, "x:y"},
		{"th:8", 0, false, ""},
		{"x:y", 0, false, "x:y"},
	}
	for _, tt := range tests {
		got, ok := SetThreshold(tt.in, tt.t, tt.set)
		if !ok || got != tt.want {
			t.Fatalf("SetThreshold(%q, %x, %v) = %q, %v; want %q", tt.in, tt.t, tt.set, got, ok, tt.want)
		}
	}
	long := "x:" + string(make([]byte, 250))
	if got, ok := SetThreshold(long, 1, true); ok || got != long {
		t.Fatal("a th past 256 characters must be refused")
	}
}

func TestAllocs(t *testing.T) {
	var buf [16]byte
	for name, c := range map[string]struct {
		n float64
		f func()
	}{
		"AppendTh":             {0, func() { _ = AppendTh(buf[:0], 0xfd70a400000000) }},
		"ParseOT":              {0, func() { _ = ParseOT("th:fd70a;rv:0123456789abcd") }},
		"SetThreshold/same":    {0, func() { _, _ = SetThreshold("th:8;x:y", 1<<55, true) }},
		"SetThreshold/changed": {1, func() { _, _ = SetThreshold("x:y;th:c", 1<<55, true) }},
		"ThresholdFromProbab":  {0, func() { _, _ = ThresholdFromProbability(0.01) }},
	} {
		t.Run(name, func(t *testing.T) { testkit.WantAllocs(t, c.n, c.f) })
	}
}
