package encode

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/flowtel/flowtel/internal/race"
)

// diffPieces are what diffString builds hostile strings of: plain ASCII,
// the bytes JSON escapes (quote, backslash, every control byte, NUL), DEL,
// U+2028 and U+2029 and prefixes of them, valid text of 2 to 4 bytes a
// rune, U+FFFD, and bytes that are not UTF-8 (lone continuation bytes,
// 0xff, an overlong encoding, a surrogate, a code point past U+10FFFF, a
// rune cut short).
var diffPieces = func() []string {
	p := []string{"a", "Z", " ", "~", "0123456789abcdef", "\"", "\\", "\x7f", "\u2028", "\u2029", "\xe2\x80",
		"é", "世界", "😀", "\uFFFD", "\x80", "\xbf", "\xff", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf0\x9f\x98"}
	for c := range 0x20 {
		p = append(p, string(rune(c)))
	}
	return p
}()

// diffString returns a hostile string: mostly of up to 20 bytes, some
// around the assembly's blocks (16 to 80), some of a few KiB, rarely of
// 256 KiB.
func diffString(rng *rand.Rand) string {
	var n int
	switch r := rng.IntN(1000); {
	case r < 600:
		n = rng.IntN(21)
	case r < 900:
		n = 16 + rng.IntN(65)
	case r < 998:
		n = rng.IntN(5000)
	default:
		n = 256 << 10
	}
	var b strings.Builder
	plain := rng.IntN(3) == 0 // a third of the strings mostly plain, most of them wholly
	for b.Len() < n {
		if plain && rng.IntN(64) != 0 {
			b.WriteByte(byte(' ' + 1 + rng.IntN(0x7f-' '-1)))
			continue
		}
		b.WriteString(diffPieces[rng.IntN(len(diffPieces))])
	}
	s := b.String()
	if plain && rng.IntN(2) == 0 {
		s = strings.Map(func(r rune) rune {
			if r < ' ' || r >= 0x7f || r == '"' || r == '\\' {
				return 'x'
			}
			return r
		}, s)
	}
	return s
}

// checkFastPaths compares the run log's fast writers with the byte by
// byte reference (refEscape, refObject, refNodeNames) and with their
// portable twins on a, b and c: jsonAppendEscaped (whose long plain text
// goes to jsonCopyPlain) in buffers of every kind of room, jsonCopyPlain
// against its rule, appendObject (jsonAppendShortMembers) on objects of
// them, jsonAppendShortMembers against jsonAppendShortMembersWords member
// by member, runlogAppendNodeNames against runlogAppendNodeNamesEscaped.
// On amd64 the first of each pair is runlog_amd64.s; under GOARCH=386
// (.ci/run) the portable code is checked against the same reference.
func checkFastPaths(t *testing.T, a, b, c string) {
	t.Helper()
	for _, s := range []string{a, b, c} {
		want := string(refEscape(nil, s))
		for _, dst := range [][]byte{nil, make([]byte, 0, len(s)+16), make([]byte, 3, 3+len(want)), make([]byte, 7, 8)} {
			if got := jsonAppendEscaped(dst, s); string(got[len(dst):]) != want {
				t.Fatalf("jsonAppendEscaped(%q) = %q, want %q", s, got[len(dst):], want)
			}
		}
		if n := len(s); n >= 16 {
			d := make([]byte, n+1)
			d[n] = 0xee
			ok := jsonCopyPlain(&d[0], unsafe.StringData(s), n)
			if ok != refPlain(s) || ok && string(d[:n]) != s || d[n] != 0xee {
				t.Fatalf("jsonCopyPlain(%q) = %v, copied %q", s, ok, d)
			}
		}
	}
	// Objects of mostly distinct keys; one the fuzzer repeats takes
	// appendObjectOnce (refObject: first place, last value).
	var f runlogField
	vals := []string{a, b, c, "", "v", a + b}
	for k := 1; k <= 6; k++ {
		attrs := make([]Attr, k)
		for i := range attrs {
			key := vals[(i+1)%len(vals)]
			if i > 0 {
				key += "#" + strconv.Itoa(i)
			}
			attrs[i] = Attr{Key: key, Value: StringValue(vals[i%len(vals)])}
		}
		want := string(refObject(nil, attrs))
		for _, dst := range [][]byte{nil, make([]byte, 2, 2+len(want)), diffRoomy[:0]} {
			if got := f.appendObject(dst, attrs); string(got[len(dst):]) != want {
				t.Fatalf("appendObject(%q) = %s, want %s", attrs, got[len(dst):], want)
			}
		}
		// The assembly and the portable writer of short members write
		// the same members; the one that writes fewer, a prefix.
		room := k*runlogMemberRoom + runlogLongRoom
		d1, d2 := make([]byte, room), make([]byte, room)
		k1, w1, b1 := jsonAppendShortMembers(&d1[0], room, &attrs[0], k, math.MaxInt, 0)
		k2, w2, b2 := jsonAppendShortMembersWords(&d2[0], &attrs[0], k, 0)
		if k1 < k2 {
			k1, k2, w1, w2, b1, b2, d1, d2 = k2, k1, w2, w1, b2, b1, d2, d1
		}
		// Each returns the keyBits of the keys it wrote, and stops at a
		// key whose bit it has set.
		var bits uint64
		for _, a := range attrs[:k1] {
			if bits&keyBit(a.Key) != 0 {
				t.Fatalf("short members of %q: %d written, past a repeated key bit", attrs, k1)
			}
			bits |= keyBit(a.Key)
		}
		var bits2 uint64
		for _, a := range attrs[:k2] {
			bits2 |= keyBit(a.Key)
		}
		if b1 != bits || b2 != bits2 {
			t.Fatalf("short members of %q: bits %#x and %#x, want %#x and %#x", attrs, b1, b2, bits, bits2)
		}
		var ref []byte
		for _, a := range attrs[:k1] {
			ref = append(ref, `,"`...)
			ref = refEscape(ref, a.Key)
			ref = append(ref, `":"`...)
			ref = refEscape(ref, a.Value.str())
			ref = append(ref, '"')
		}
		if string(d1[:w1]) != string(ref) || string(d2[:w2]) != string(ref[:w2]) {
			t.Fatalf("short members of %q: %d %q and %d %q, want %q", attrs, k1, d1[:w1], k2, d2[:w2], ref)
		}
	}
	for _, n := range []*Node{{NodeID: a, NodeType: b, NodeName: c}, {NodeID: c, NodeType: "", NodeName: a}} {
		want := string(refNodeNames(nil, n))
		if got := string(nodeNamesEscaped(n)); got != want {
			t.Fatalf("runlogAppendNodeNamesEscaped(%q, %q, %q) = %q, want %q", n.NodeID, n.NodeType, n.NodeName, got, want)
		}
		d := make([]byte, runlogNodeNamesRoom)
		if w := runlogAppendNodeNames(&d[0], n); w >= 0 && string(d[:w]) != want {
			t.Fatalf("runlogAppendNodeNames(%q, %q, %q) = %q, want %q", n.NodeID, n.NodeType, n.NodeName, d[:w], want)
		}
	}
}

// diffRoomy is a buffer with room for most objects checkFastPaths writes.
var diffRoomy = make([]byte, 64<<10)

// TestFastPathsProperty runs checkFastPaths on 1,000 triples of hostile
// strings from a fixed seed (100 under the race detector, which checks
// nothing of the assembly and slows the reference tenfold).
func TestFastPathsProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(2028, 2029))
	rounds := 1000
	if race.Enabled {
		rounds = 100
	}
	for range rounds {
		checkFastPaths(t, diffString(rng), diffString(rng), diffString(rng))
	}
}

// FuzzRunLogFastPaths runs checkFastPaths on the fuzzer's strings, and on
// them repeated (up to a MiB) to reach the long writers' blocks.
func FuzzRunLogFastPaths(f *testing.F) {
	f.Add("key", "sixteen bytes...", "a value longer than sixteen bytes", uint16(1))
	f.Add("", "\x00", "\"\\\n\x7f", uint16(0))
	f.Add("\u2028", "\xff\xfe\xe2\x80", "世界😀\uFFFD", uint16(40))
	f.Add(strings.Repeat("a", 64), strings.Repeat("b", 15)+"\"", strings.Repeat("c", 17), uint16(3))
	f.Fuzz(func(t *testing.T, a, b, c string, rep uint16) {
		checkFastPaths(t, a, b, c)
		if r := int(rep); r > 1 && len(c) > 0 {
			checkFastPaths(t, strings.Repeat(a, min(r, (1<<20)/max(len(a), 1))), b+a, strings.Repeat(c, min(r, (1<<20)/len(c))))
		}
	})
}

// TestFastPathsHuge writes a 2 MiB plain string, and the same with one
// byte to escape first, in the middle or last (the four-block loop's
// first and last blocks, its tail), through jsonAppendEscaped and
// appendObject: the output is refEscape's.
func TestFastPathsHuge(t *testing.T) {
	b := []byte(strings.Repeat("plain text, ", (2<<20)/12))
	var f runlogField
	for _, at := range []int{-1, 0, 63, 64, len(b) / 2, len(b) - 65, len(b) - 16, len(b) - 1} {
		for _, c := range []byte{'"', 0, 0x80} {
			if at >= 0 {
				b[at] = c
			}
			s := string(b)
			want := string(refEscape(nil, s))
			if got := jsonAppendEscaped(nil, s); string(got) != want {
				t.Fatalf("jsonAppendEscaped of 2 MiB, %#x at %d: %d bytes, want %d", c, at, len(got), len(want))
			}
			attrs := []Attr{{Key: "k", Value: StringValue(s)}, {Key: "short", Value: StringValue("v")}}
			if got, want := f.appendObject(nil, attrs), refObject(nil, attrs); string(got) != string(want) {
				t.Fatalf("appendObject of 2 MiB, %#x at %d: %d bytes, want %d", c, at, len(got), len(want))
			}
			if at >= 0 {
				b[at] = 'x'
			}
		}
	}
}
