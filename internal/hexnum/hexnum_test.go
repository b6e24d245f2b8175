package hexnum

import "testing"

func TestParseLower(t *testing.T) {
	for s, want := range map[string]uint64{"": 0, "0": 0, "9": 9, "a": 10, "ff": 255, "fd70a4": 0xfd70a4, "ffffffffffffffff": 1<<64 - 1} {
		if got, ok := ParseLower(s); !ok || got != want {
			t.Errorf("ParseLower(%q) = %d, %v, want %d", s, got, ok, want)
		}
	}
	for _, s := range []string{"A", "0x1", "-1", "1_0", "g", " 1", "é"} {
		if _, ok := ParseLower(s); ok {
			t.Errorf("ParseLower(%q) accepted", s)
		}
	}
}
