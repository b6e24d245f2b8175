package hex

import (
	"strconv"
	"testing"
)

// checkParseUint compares ParseUint with strconv: the same value for 1 to
// 16 lower-case hex digits, a refusal for anything else.
func checkParseUint(t *testing.T, s string) {
	t.Helper()
	got, ok := ParseUint(s)
	want, err := strconv.ParseUint(s, 16, 64)
	lower := s != "" && len(s) <= 16
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			lower = false
		}
	}
	if ok != lower || ok && (err != nil || got != want) {
		t.Fatalf("ParseUint(%q) = %#x, %v; strconv: %#x, %v", s, got, ok, want, err)
	}
	if ok && string(AppendUint(nil, got, len(s))) != s {
		t.Fatalf("AppendUint(ParseUint(%q)) = %q", s, AppendUint(nil, got, len(s)))
	}
}

// parseCases are the unit cases and the fuzz seeds: the bounds, and each
// way a string is refused (empty, 17 digits, upper case, prefix, sign,
// another letter, a space).
var parseCases = []string{"0", "f", "00ff", "0123456789abcdef", "ffffffffffffffff",
	"", "1ffffffffffffffff", "FF", "0x1", "-1", "g", "1 "}

func TestParseUint(t *testing.T) {
	for _, s := range parseCases {
		checkParseUint(t, s)
	}
}

func TestAppendUint(t *testing.T) {
	if got := string(AppendUint([]byte("x"), 0x12345, 4)); got != "x2345" {
		t.Errorf("AppendUint(0x12345, 4) = %q, want the low 4 digits after x: x2345", got)
	}
	if got := string(AppendUint(nil, 0xab, 4)); got != "00ab" {
		t.Errorf("AppendUint(0xab, 4) = %q, want 00ab", got)
	}
}

func FuzzParseUint(f *testing.F) {
	for _, s := range parseCases {
		f.Add(s)
	}
	f.Fuzz(checkParseUint)
}
