package encode

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// checkRepair compares the repair helpers with strings.ToValidUTF8.
func checkRepair(t *testing.T, s string) {
	want := strings.ToValidUTF8(s, "\uFFFD")
	if got := utf8RepairedLen(s); got != len(want) {
		t.Fatalf("utf8RepairedLen(%q) = %d, want %d", s, got, len(want))
	}
	got := appendUTF8Repaired([]byte("pre"), s)
	if string(got) != "pre"+want {
		t.Fatalf("appendUTF8Repaired(%q) = %q, want %q", s, got[3:], want)
	}
	got, repaired := appendUTF8(nil, s)
	if string(got) != want || repaired != !utf8.ValidString(s) {
		t.Fatalf("appendUTF8(%q) = %q, %v", s, got, repaired)
	}
}

func TestUTF8Repair(t *testing.T) {
	for _, s := range []string{
		"", "abc", "\uFFFD", "é", "\xff", "\xff\xff", "a\xffb", "\xe4\xb8", "\xe4\xb8\xad",
		"\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf", "x\xe4\xb8y\xe4", "🚀\x80🚀",
	} {
		checkRepair(t, s)
	}
}

// FuzzUTF8Repair checks the repair helpers against strings.ToValidUTF8.
func FuzzUTF8Repair(f *testing.F) {
	f.Add("a\xffb")
	f.Add("\xe4\xb8\xad\xe4")
	f.Fuzz(func(t *testing.T, s string) { checkRepair(t, s) })
}

// TestUTF8ValidShort checks the short ASCII test on every length it covers.
func TestUTF8ValidShort(t *testing.T) {
	for n := 0; n <= utf8ShortMax+4; n++ {
		ascii := strings.Repeat("a", n)
		if got := utf8ValidShort(ascii); got != (n <= utf8ShortMax) {
			t.Errorf("utf8ValidShort(%q) = %v", ascii, got)
		}
		for i := 0; i < n; i++ {
			b := []byte(ascii)
			b[i] = 0xC3
			if utf8ValidShort(string(b)) {
				t.Errorf("utf8ValidShort(%q) = true", b)
			}
		}
	}
}
