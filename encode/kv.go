package encode

import (
	"encoding/binary"
	"slices"
	"unicode/utf8"
)

// This file writes the strings, AnyValues and KeyValues of every OTLP
// request: Encoder (traces, logs), SpanEncoder and AppendMetrics share it.

// strChecker validates each string of a record once, as it is written, and
// counts the strings it repairs. Encoder and SpanEncoder embed one;
// AppendMetrics keeps one on its stack.
type strChecker struct {
	// invalid counts the strings repaired in the request being written.
	invalid uint64
	// keyRepaired is set when writeAttrsPre wrote a key that was not
	// valid UTF-8: repaired, it may have become another key. The
	// Encoder reads and clears it after a span's attributes (attrkeys.go).
	keyRepaired bool
}

// check validates s once: it returns the length writeChecked writes for s
// and whether s is valid UTF-8, counting an invalid s.
func (c *strChecker) check(s string) (int, bool) {
	if utf8ValidShort(s) || utf8.ValidString(s) {
		return len(s), true
	}
	c.invalid++
	return utf8RepairedLen(s), false
}

// writeChecked appends s as check found it: whole, or repaired.
func writeChecked(dst []byte, s string, ok bool) []byte {
	if ok {
		return append(dst, s...)
	}
	return appendUTF8Repaired(dst, s)
}

// writeStringField appends string field (1 to 15), checked; an empty s is
// skipped, as proto3 does. It is small enough to inline, so that the
// usual empty string costs no call.
func (c *strChecker) writeStringField(dst []byte, field int, s string) []byte {
	if s == "" {
		return dst
	}
	return c.writeString(dst, field, s)
}

// writeString appends string field (1 to 15), checked, even when empty.
func (c *strChecker) writeString(dst []byte, field int, s string) []byte {
	n, ok := c.check(s)
	dst = appendLen1(dst, field, n)
	return writeChecked(dst, s, ok)
}

// AnyValue. appendAnyBody is the package's one writer of the AnyValue
// oneof; sizeAny sizes it, and the fast paths below (appendKVFast,
// appendKVChecked, appendKVShortArray) write its string member with the
// same field numbers.

// sizeAny returns the size of v's AnyValue body, with what check found for
// a string value: n bytes to write, valid or not (ok).
func (c *strChecker) sizeAny(v Value) (size, n int, ok bool) {
	switch v.kind() {
	case KindString:
		n, ok = c.check(v.text())
		return sizeLen1(n), n, ok
	case KindBytes:
		return sizeLen1(len(v.text())), len(v.text()), true
	case KindInt64:
		return 1 + sizeVarint(v.num), 0, true
	case KindFloat64:
		return 1 + 8, 0, true
	case KindBool:
		return 1 + 1, 0, true
	}
	return 0, 0, true
}

// appendAnyBody appends the AnyValue body of v: the oneof member of its
// kind, written even when zero; n and ok are what sizeAny found. An empty
// Value writes nothing (an AnyValue with no member).
func appendAnyBody(dst []byte, v Value, n int, ok bool) []byte {
	switch v.kind() {
	case KindString:
		dst = appendLen1(dst, fieldAnyString, n)
		return writeChecked(dst, v.text(), ok)
	case KindBytes:
		dst = appendLen1(dst, fieldAnyBytes, len(v.text()))
		return append(dst, v.text()...)
	case KindInt64:
		return appendAnyInt(dst, v.num)
	case KindFloat64:
		return appendFixed64Always(dst, fieldAnyDouble, v.num)
	case KindBool:
		return appendAnyBool(dst, v.num != 0)
	}
	return dst
}

// appendAnyInt appends the int_value member of an AnyValue body.
func appendAnyInt(dst []byte, v uint64) []byte {
	return appendVarint(append(dst, tag1(fieldAnyInt, wireVarint)), v)
}

// appendAnyBool appends the bool_value member of an AnyValue body.
func appendAnyBool(dst []byte, b bool) []byte {
	v := byte(0)
	if b {
		v = 1
	}
	return append(dst, tag1(fieldAnyBool, wireVarint), v)
}

// writeAny appends v as AnyValue field (1 to 15) of the enclosing message.
func (c *strChecker) writeAny(dst []byte, field int, v Value) []byte {
	size, n, ok := c.sizeAny(v)
	dst = appendLen1(dst, field, size)
	return appendAnyBody(dst, v, n, ok)
}

// KeyValue. A KeyValue's key is a constant prefix followed by a caller's
// key (either may be empty); the prefix is trusted ASCII.

// sizeKVBody returns the size of a KeyValue with a key of keyLen bytes and
// an AnyValue body of anyLen bytes. An empty key is omitted, as proto3
// omits empty strings; the value field is always written, so an empty
// AnyValue decodes as a present, empty message.
func sizeKVBody(keyLen, anyLen int) int {
	n := sizeLen1(anyLen)
	if keyLen != 0 {
		n += sizeLen1(keyLen)
	}
	return n
}

// appendKVHead appends the tag and length of KeyValue field (1 to 15), its
// trusted, non-empty key and the tag and length of its AnyValue of anyLen
// bytes, which the caller appends next.
func appendKVHead(dst []byte, field int, key string, anyLen int) []byte {
	if body := 2 + len(key) + 2 + anyLen; body < 0x80 {
		// Every length takes one byte, as for the conventions' own keys
		// and scalar values: two appends instead of three appendLen1.
		dst = append(dst, tag1(field, wireBytes), byte(body), tag1(fieldKVKey, wireBytes), byte(len(key)))
		dst = append(dst, key...)
		return append(dst, tag1(fieldKVValue, wireBytes), byte(anyLen))
	}
	dst = appendLen1(dst, field, sizeKVBody(len(key), anyLen))
	dst = appendLen1(dst, fieldKVKey, len(key))
	dst = append(dst, key...)
	return appendLen1(dst, fieldKVValue, anyLen)
}

// appendKVInt appends the KeyValue field key=v for a trusted key.
func appendKVInt(dst []byte, field int, key string, v int64) []byte {
	dst = appendKVHead(dst, field, key, 1+sizeVarint(uint64(v)))
	return appendAnyInt(dst, uint64(v))
}

// appendKVBool appends the KeyValue field key=b for a trusted key.
func appendKVBool(dst []byte, field int, key string, b bool) []byte {
	dst = appendKVHead(dst, field, key, 2)
	return appendAnyBool(dst, b)
}

// writeKVString appends the KeyValue field key=s for a trusted key.
func (c *strChecker) writeKVString(dst []byte, field int, key, s string) []byte {
	// The trusted key goes as the key, tested for ASCII with the bits
	// its copy moves.
	v := StringValue(s)
	dst = kvRoom(dst)
	if d, ok := appendKVFast(dst, field, &kvNoPrefix, key, KindString, &v); ok {
		return d
	}
	return c.writeKVStringSlow(dst, field, key, s)
}

// writeKVStringSlow is writeKVString for what appendKVFast refuses: a
// long value (appendKVLong), or one to repair.
func (c *strChecker) writeKVStringSlow(dst []byte, field int, key, s string) []byte {
	if d, ok := appendKVLong(dst, field, "", key, s); ok {
		return d
	}
	n, ok := c.check(s)
	return appendKVChecked(dst, field, key, s, n, ok)
}

// writeKVStringPre is writeKVString for a key made once (mustKVPrefix),
// copied without a call to memmove.
func (c *strChecker) writeKVStringPre(dst []byte, field int, key *kvPrefix, s string) []byte {
	v := StringValue(s)
	dst = kvRoom(dst)
	if d, ok := appendKVFast(dst, field, key, "", KindString, &v); ok {
		return d
	}
	return c.writeKVStringSlow(dst, field, key.s, s)
}

// appendKVIntPre is appendKVInt for a key made once (mustKVPrefix).
func appendKVIntPre(dst []byte, field int, key *kvPrefix, v int64) []byte {
	x := Int64Value(v)
	dst = kvRoom(dst)
	if d, ok := appendKVFast(dst, field, key, "", KindInt64, &x); ok {
		return d
	}
	return appendKVInt(dst, field, key.s, v)
}

// writeKVStringOpt is writeKVString, skipped when s is empty.
func (c *strChecker) writeKVStringOpt(dst []byte, field int, key, s string) []byte {
	if s == "" {
		return dst
	}
	return c.writeKVString(dst, field, key, s)
}

// appendKVChecked appends the KeyValue field key=s for a trusted key and
// an s that check found to write n bytes, valid or not (ok).
func appendKVChecked(dst []byte, field int, key, s string, n int, ok bool) []byte {
	if body := 6 + len(key) + n; body < 0x80 {
		// Every length takes one byte: the tags and lengths go in two
		// appends instead of four appendLen1 and their tests.
		dst = append(dst, tag1(field, wireBytes), byte(body), tag1(fieldKVKey, wireBytes), byte(len(key)))
		dst = append(dst, key...)
		dst = append(dst, tag1(fieldKVValue, wireBytes), byte(2+n), tag1(fieldAnyString, wireBytes), byte(n))
		return writeChecked(dst, s, ok)
	}
	dst = appendKVHead(dst, field, key, sizeLen1(n))
	dst = appendLen1(dst, fieldAnyString, n)
	return writeChecked(dst, s, ok)
}

// kvFastValueMax is the longest string value appendKVFast writes: with a
// prefix and key of up to 32 bytes together, every length of the KeyValue
// then takes one byte: the body, 6 tag and length bytes, the key and the
// value, stays under 128 bytes (TestKVFast).
const kvFastValueMax = 0x7f - 6 - kvFastKeyMax

// kvFastKeyMax is the longest prefix+key appendKVFast writes.
const kvFastKeyMax = 32

// kvFastRoom is the room appendKVFast makes in dst: its 6 tag and length
// bytes, a prefix and key of up to kvFastKeyMax bytes together, 16 bytes
// of word stores past them, and the longest value. The slices its stores
// go through (the padded prefix at 4, the key's kvFastKeyMax bytes after
// the prefix) end within it too.
const kvFastRoom = 6 + 2*16 + 16 + kvFastValueMax

// kvPrefix is a trusted key prefix ("input.") padded to kvFastKeyMax
// bytes, so that appendKVFast copies it with two 16-byte moves whatever
// its length instead of a call to memmove.
type kvPrefix struct {
	b [kvFastKeyMax]byte
	n int
	s string
}

// makeKVPrefix returns prefix padded; ok is false when it is longer than
// kvFastKeyMax.
func makeKVPrefix(prefix string) (p kvPrefix, ok bool) {
	if len(prefix) > kvFastKeyMax {
		return p, false
	}
	p.n = copy(p.b[:], prefix)
	p.s = prefix
	return p, true
}

// mustKVPrefix is makeKVPrefix for the package's constant prefixes.
func mustKVPrefix(prefix string) *kvPrefix {
	p, ok := makeKVPrefix(prefix)
	if !ok {
		panic("BUG: encode: key prefix longer than kvFastKeyMax: " + prefix)
	}
	return &p
}

// The prefixes of a node's input, output and config attributes.
var (
	kvPrefixInput  = mustKVPrefix(prefixInput)
	kvPrefixOutput = mustKVPrefix(prefixOutput)
	kvPrefixConfig = mustKVPrefix(prefixConfig)
)

// putLong copies s, of 8 to kvFastValueMax bytes, to the start of d (at
// least kvFastValueMax bytes) eight bytes at a time, the last word
// overlapping the one before, and returns the words it moved or-ed
// together: one pass that copies and tests for ASCII, instead of a call
// to memmove and a second pass.
func putLong(d []byte, s string) uint64 {
	n := len(s)
	var or uint64
	for i := 0; i+8 < n; i += 8 {
		w := load64At(s, i)
		binary.LittleEndian.PutUint64(d[i:i+8], w)
		or |= w
	}
	w := tail64(s)
	binary.LittleEndian.PutUint64(d[n-8:n], w)
	return or | w
}

// kvNoPrefix is the empty prefix.
var kvNoPrefix kvPrefix

// asciiHigh has the high bit of every byte: a word of ASCII has none.
const asciiHigh = 0x8080808080808080

// kvRoom returns dst with room for appendKVFast (kvFastRoom bytes past
// its length), which its callers make before each call.
func kvRoom(dst []byte) []byte {
	if cap(dst)-len(dst) < kvFastRoom {
		return growKVRoom(dst)
	}
	return dst
}

// growKVRoom is kvRoom's growth, out of line so that kvRoom inlines.
//
//go:noinline
func growKVRoom(dst []byte) []byte {
	return slices.Grow(dst, kvFastRoom)
}

// appendKVFast appends the KeyValue field prefix+key=v in one go, the
// shape of most attributes: a trusted prefix (pre) and a key of plain
// ASCII (together 1 to kvFastKeyMax bytes), and a scalar or
// a string of up to kvFastValueMax bytes of valid UTF-8. Every length then
// takes one byte and is known first, so nothing is reserved or moved: the
// bytes are stored into the room its caller made (kvRoom: dst must have
// kvFastRoom bytes past its length), the key and a short value with
// word stores, and validated after they are copied (ASCII from the bits
// the stores moved; only a value with a byte from 0x80 goes through
// utf8.ValidString). It reports false, appending nothing, for anything
// else, which writeKV then writes. With the keys and prefixes made once
// (kvPrefix) and the span and event heads stored into room made once, it
// took AppendTraces from 305 to 196 ns per span of BenchmarkEncodeTraces's
// batch (TestCPUTime -cputime, medians of 4 alternating runs, AMD EPYC).
// One call per attribute was kept over a loop that writes a list with
// this body inlined (the loop's state in registers, the room made once):
// that took EncodeTraces from 208.9 to 218.4 ns per span and
// EncodeTracesLoadgen from 218.1 to 233.1 (TestCPUTime -cputime, 6
// alternating runs), and, with the single attributes written through it,
// AppendSpans from 146 to 179: the loop holds more than the registers do.
// k is v's kind, which the callers give: the package's own attributes
// (writeKVString) know it without reading it from v, where a scalar's kind
// takes a subtraction and a compare to read (kindTags). Tried and not
// kept: a key of 1 to 16 bytes copied as two words whatever its length,
// loaded past its end when that stays on its page (the bytes past it
// masked out of the ASCII test, overwritten by the value), in place of
// the branches on its length: EncodeTraces 191.1 -> 202.3 ns per span
// (+5.9 %, p=0.002), EncodeTracesGenAI hot 195.2 -> 200.9 (+2.9 %,
// p=0.002; TestCPUTime -cputime, 6 alternating runs, AMD EPYC).
func appendKVFast(dst []byte, field int, pre *kvPrefix, key string, k Kind, v *Value) ([]byte, bool) {
	// d is an array pointer and np and nk are masked to bounds they hold
	// already (a prefix of at most kvFastKeyMax bytes, the test below),
	// so that the compiler proves the stores of the key and of all but
	// an int's varint in bounds and checks none of them (go build
	// -gcflags=-d=ssa/check_bce/debug=1): slices of d, whose capacity it
	// did not know, left 7 checks in a string attribute's path and took
	// EncodeTraces from 199.2 to 214.2 ns/span, EncodeTracesLoadgen from
	// 217.9 to 228.5 (TestCPUTime -cputime, 10 alternating runs, AMD
	// EPYC).
	np, nk := pre.n&(2*kvFastKeyMax-1), len(key)
	if nk > kvFastKeyMax {
		return dst, false
	}
	nk &= 2*kvFastKeyMax - 1
	kl := np + nk
	if kl > kvFastKeyMax || kl == 0 {
		return dst, false
	}
	var vl int // the AnyValue body's length
	switch k {
	case KindString:
		if len(v.text()) > kvFastValueMax {
			return dst, false
		}
		vl = 2 + len(v.text())
	case KindInt64:
		vl = 1 + sizeVarint(v.num)
	case KindFloat64:
		vl = 1 + 8
	case KindBool:
		vl = 1 + 1
	default:
		return dst, false
	}
	// The callers made the room (kvRoom): with no call on its usual
	// paths, the function keeps its values in registers, where the
	// growth here made them spill on entry for the call.
	m := len(dst)
	d := (*[kvFastRoom]byte)(dst[m : m+kvFastRoom])
	d[0], d[1], d[2], d[3] = tag1(field, wireBytes), byte(4+kl+vl), tag1(fieldKVKey, wireBytes), byte(kl)
	*(*[kvFastKeyMax]byte)(d[4 : 4+kvFastKeyMax]) = pre.b // the key overwrites the padding
	// The key is copied with two overlapping word stores (four from 17
	// bytes, three byte stores under 4 bytes), none past its end, and
	// the bytes moved, or-ed, say whether it is ASCII. Written out here
	// and for the value below rather than in a function, which the
	// compiler does not inline: the two calls per attribute were 30 ns of
	// the 233 per span (TestCPUTime -cputime, least of 4 runs).
	var or uint64
	if k := (*[2 * kvFastKeyMax]byte)(d[4+np : 4+np+2*kvFastKeyMax]); nk > 16 {
		// The conventions' keys (gen_ai.request.model) are 17 to 32
		// bytes: four overlapping words.
		a, b := utf8Load64(key), utf8Load64(key[8:])
		c, e := load64At(key, nk-16), tail64(key)
		binary.LittleEndian.PutUint64(k[:8], a)
		binary.LittleEndian.PutUint64(k[8:16], b)
		binary.LittleEndian.PutUint64(k[nk-16:nk-8], c)
		binary.LittleEndian.PutUint64(k[nk-8:nk], e)
		or = a | b | c | e
	} else if nk >= 8 {
		a, b := utf8Load64(key), tail64(key)
		binary.LittleEndian.PutUint64(k[:8], a)
		binary.LittleEndian.PutUint64(k[nk-8:nk], b)
		or = a | b
	} else if nk >= 4 {
		a, b := jsonLoad32(key), tail32(key)
		binary.LittleEndian.PutUint32(k[:4], a)
		binary.LittleEndian.PutUint32(k[nk-4:nk], b)
		or = uint64(a | b)
	} else if nk > 0 {
		a, b, c := key[0], key[nk/2], key[nk-1]
		k[0], k[nk/2], k[nk-1] = a, b, c
		or = uint64(a | b | c)
	}
	if or&asciiHigh != 0 {
		return dst, false
	}
	p := 4 + kl
	d[p], d[p+1] = tag1(fieldKVValue, wireBytes), byte(vl)
	p += 2
	// w is the AnyValue body: from here on every store but an int's is
	// at a constant index or within a window of constant length.
	w := (*[2 + kvFastValueMax]byte)(d[p : p+2+kvFastValueMax])
	switch k {
	case KindString:
		s := v.text()
		n := len(s)
		w[0], w[1] = tag1(fieldAnyString, wireBytes), byte(n)
		if w := (*[kvFastValueMax]byte)(w[2:]); n <= 16 {
			// As the key.
			var or uint64
			if n >= 8 {
				a, b := utf8Load64(s), tail64(s)
				binary.LittleEndian.PutUint64(w[:8], a)
				binary.LittleEndian.PutUint64(w[n-8:n], b)
				or = a | b
			} else if n >= 4 {
				a, b := jsonLoad32(s), tail32(s)
				binary.LittleEndian.PutUint32(w[:4], a)
				binary.LittleEndian.PutUint32(w[n-4:n], b)
				or = uint64(a | b)
			} else if n > 0 {
				a, b, c := s[0], s[n/2], s[n-1]
				w[0], w[n/2], w[n-1] = a, b, c
				or = uint64(a | b | c)
			}
			if or&asciiHigh != 0 && !utf8.ValidString(s) {
				return dst, false
			}
		} else if n <= 32 {
			// As a long key: four overlapping words, where the call to
			// putLong made the values live across it spill.
			a, b := utf8Load64(s), utf8Load64(s[8:])
			c, e := load64At(s, n-16), tail64(s)
			binary.LittleEndian.PutUint64(w[:8], a)
			binary.LittleEndian.PutUint64(w[8:16], b)
			binary.LittleEndian.PutUint64(w[n-16:n-8], c)
			binary.LittleEndian.PutUint64(w[n-8:n], e)
			if (a|b|c|e)&asciiHigh != 0 && !utf8.ValidString(s) {
				return dst, false
			}
		} else {
			if putLong(w[:], s)&asciiHigh != 0 && !utf8.ValidString(s) {
				return dst, false
			}
		}
	case KindInt64:
		w[0] = tag1(fieldAnyInt, wireVarint)
		x, i := v.num, 1
		for x >= 0x80 {
			w[i] = byte(x) | 0x80
			x >>= 7
			i++
		}
		w[i] = byte(x)
	case KindFloat64:
		w[0] = tag1(fieldAnyDouble, wireFixed64)
		binary.LittleEndian.PutUint64(w[1:9], v.num)
	case KindBool:
		b := byte(0)
		if v.num != 0 {
			b = 1
		}
		w[0], w[1] = tag1(fieldAnyBool, wireVarint), b
	}
	p += vl
	return dst[:m+p], true
}

// appendKVLong appends the KeyValue field prefix+key=s for a string
// longer than appendKVFast writes (an LLM's output, a tool's result) and
// shorter than 8 KiB, and a prefix and key of ASCII of 1 to kvFastKeyMax
// bytes together: the lengths are then known first, and s is tested for
// ASCII as it is copied (copyASCII), where check's utf8.ValidString and
// append's memmove each went through it. A value that is not ASCII is
// tested with utf8.ValidString. It reports false, appending nothing, for
// anything else and for an s that is not valid UTF-8, which the callers
// then check and repair.
func appendKVLong(dst []byte, field int, prefix, key, s string) ([]byte, bool) {
	n, kl := len(s), len(prefix)+len(key)
	if n <= kvFastValueMax || n >= 1<<13 || kl == 0 || kl > kvFastKeyMax || !utf8ValidShort(key) {
		return dst, false
	}
	start := len(dst)
	dst = slices.Grow(dst, 16+kl+n)
	any := sizeLen1(n) // the AnyValue body
	dst = appendLen1(dst, field, 2+kl+sizeLen1(any))
	dst = append(dst, tag1(fieldKVKey, wireBytes), byte(kl))
	dst = append(dst, prefix...)
	dst = append(dst, key...)
	dst = appendLen1(dst, fieldKVValue, any)
	dst = appendLen1(dst, fieldAnyString, n)
	m := len(dst)
	if !copyASCII(dst[m:m+n], s) {
		if !utf8.ValidString(s) {
			return dst[:start], false
		}
		copy(dst[m:m+n], s)
	}
	return dst[:m+n], true
}

// copyASCII copies s, of at least 8 bytes, to d, of len(s) bytes, and
// reports whether s is ASCII: 32 bytes a loop, four word loads and
// stores or-ed together, the last word overlapping the one before. When
// it reports false, d may not hold all of s.
func copyASCII(d []byte, s string) bool {
	n := len(s)
	if len(d) != n || n < 8 {
		return false
	}
	var or uint64
	i := 0
	for ; i+32 <= n; i += 32 {
		w, v := s[i:i+32], (*[32]byte)(d[i:i+32])
		a, b, c, e := utf8Load64(w), utf8Load64(w[8:]), utf8Load64(w[16:]), utf8Load64(w[24:])
		binary.LittleEndian.PutUint64(v[:8], a)
		binary.LittleEndian.PutUint64(v[8:16], b)
		binary.LittleEndian.PutUint64(v[16:24], c)
		binary.LittleEndian.PutUint64(v[24:], e)
		or |= a | b | c | e
	}
	for ; i+8 <= n; i += 8 {
		a := load64At(s, i)
		binary.LittleEndian.PutUint64(d[i:i+8], a)
		or |= a
	}
	if i < n {
		a := tail64(s)
		binary.LittleEndian.PutUint64(d[n-8:n], a)
		or |= a
	}
	return or&asciiHigh == 0
}

// writeKV appends the KeyValue field prefix+key=v; prefix is trusted.
func (c *strChecker) writeKV(dst []byte, field int, prefix, key string, v Value) []byte {
	if prefix == "" {
		dst = kvRoom(dst)
		if d, ok := appendKVFast(dst, field, &kvNoPrefix, key, v.kind(), &v); ok {
			return d
		}
	} else if pre, ok := makeKVPrefix(prefix); ok {
		dst = kvRoom(dst)
		if d, ok := appendKVFast(dst, field, &pre, key, v.kind(), &v); ok {
			return d
		}
	}
	if v.kind() == KindString {
		if d, ok := appendKVLong(dst, field, prefix, key, v.text()); ok {
			return d
		}
	}
	kn, kok := c.check(key)
	keyLen := len(prefix) + kn
	var size, n int
	ok := true
	if v.kind() == KindString {
		// The usual kind, sized here rather than by a call to sizeAny,
		// and, when every length takes one byte, written with two
		// appends for the tags and lengths as appendKVChecked does.
		n, ok = c.check(v.text())
		if body := 2 + keyLen + 2 + 2 + n; body < 0x80 && keyLen != 0 {
			dst = append(dst, tag1(field, wireBytes), byte(body), tag1(fieldKVKey, wireBytes), byte(keyLen))
			dst = append(dst, prefix...)
			dst = writeChecked(dst, key, kok)
			dst = append(dst, tag1(fieldKVValue, wireBytes), byte(2+n), tag1(fieldAnyString, wireBytes), byte(n))
			return writeChecked(dst, v.text(), ok)
		}
		size = sizeLen1(n)
	} else {
		size, n, ok = c.sizeAny(v)
	}
	dst = appendLen1(dst, field, sizeKVBody(keyLen, size))
	if keyLen != 0 {
		dst = appendLen1(dst, fieldKVKey, keyLen)
		dst = append(dst, prefix...)
		dst = writeChecked(dst, key, kok)
	}
	dst = appendLen1(dst, fieldKVValue, size)
	return appendAnyBody(dst, v, n, ok)
}

// writeAttrs appends attrs as KeyValue fields with key prefix.
func (c *strChecker) writeAttrs(dst []byte, field int, prefix string, attrs []Attr) []byte {
	if len(attrs) == 0 {
		return dst
	}
	if prefix == "" {
		return c.writeAttrsPre(dst, field, &kvNoPrefix, attrs)
	}
	pre, ok := makeKVPrefix(prefix)
	if !ok {
		for i := range attrs {
			dst = c.writeKV(dst, field, prefix, attrs[i].Key, attrs[i].Value)
		}
		return dst
	}
	return c.writeAttrsPre(dst, field, &pre, attrs)
}

// writeAttrsPre is writeAttrs with the prefix made once, by the package
// (kvPrefixInput): making it for every call was 8 % of AppendTraces.
func (c *strChecker) writeAttrsPre(dst []byte, field int, pre *kvPrefix, attrs []Attr) []byte {
	for i := range attrs {
		a := &attrs[i]
		dst = kvRoom(dst)
		if d, ok := appendKVFast(dst, field, pre, a.Key, a.Value.kind(), &a.Value); ok {
			dst = d
			continue
		}
		if a.Value.kind() == KindString {
			if d, ok := appendKVLong(dst, field, pre.s, a.Key, a.Value.text()); ok {
				dst = d
				continue
			}
		}
		// appendKVFast and appendKVLong write keys of ASCII: only here
		// may a key be repaired.
		if !utf8.ValidString(a.Key) {
			c.keyRepaired = true
		}
		dst = c.writeKV(dst, field, pre.s, a.Key, a.Value)
	}
	return dst
}

// writeKeyValues appends kvs, attributes that may hold arrays, as KeyValue
// fields. An array is written with reserved lengths: its size is not at
// hand.
func (c *strChecker) writeKeyValues(dst []byte, field int, kvs []KeyValue) []byte {
	for i := range kvs {
		kv := &kvs[i]
		if !kv.IsArray {
			dst = c.writeKV(dst, field, "", kv.Key, kv.Value)
			continue
		}
		var at, any, arr int
		dst, at = openLen(dst, field, 1)
		dst = c.writeStringField(dst, fieldKVKey, kv.Key)
		dst, any = openLen(dst, fieldKVValue, 1)
		dst, arr = openLen(dst, fieldAnyArray, 1)
		for _, v := range kv.Array {
			dst = c.writeAny(dst, fieldArrayValues, v)
		}
		dst, _ = closeLen(dst, arr, 1)
		dst, _ = closeLen(dst, any, 1)
		dst, _ = closeLen(dst, at, 1)
	}
	return dst
}

// writeKVStringArray appends the KeyValue field key=ss (an ArrayValue of
// strings) for a trusted key made once (mustKVPrefix).
func (c *strChecker) writeKVStringArray(dst []byte, field int, key *kvPrefix, ss []string) []byte {
	if d, ok := appendKVShortArray(dst, field, key, ss); ok {
		return d
	}
	dst, kv := openLen(dst, field, 1)
	dst = appendStringField(dst, fieldKVKey, key.s)
	dst, any := openLen(dst, fieldKVValue, 1)
	dst, arr := openLen(dst, fieldAnyArray, 1)
	for _, s := range ss {
		dst = c.writeAny(dst, fieldArrayValues, StringValue(s))
	}
	dst, _ = closeLen(dst, arr, 1)
	dst, _ = closeLen(dst, any, 1)
	dst, _ = closeLen(dst, kv, 1)
	return dst
}

// kvShortArrayRoom is the room appendKVShortArray makes in dst: a
// KeyValue field shorter than 128 bytes, and 16 bytes of word stores past
// its end and past its padded key.
const kvShortArrayRoom = 2 + 0x7f + 16 + kvFastKeyMax

// appendKVShortArray is writeKVStringArray for the usual next_node_ids, a
// few strings of up to 16 bytes of ASCII in a KeyValue shorter than 128
// bytes: the lengths are then known before and take one byte each, so
// nothing is reserved, moved or checked first, and the bytes are stored
// into room made once, the key and each string with word stores that
// test them for ASCII as appendKVFast's do (4.8 % of
// BenchmarkEncodeTracesLoadgen's profile with appends, each string copied
// and tested by a call). It reports false, appending nothing, for
// anything else.
func appendKVShortArray(dst []byte, field int, key *kvPrefix, ss []string) ([]byte, bool) {
	arr := 0 // ArrayValue{values: AnyValue{string_value}}
	for _, s := range ss {
		if len(s) > 16 {
			return dst, false
		}
		arr += 4 + len(s)
	}
	any := 2 + arr
	kv := 2 + key.n + 2 + any
	if kv >= 0x80 {
		return dst, false
	}
	m := len(dst)
	if cap(dst)-m < kvShortArrayRoom {
		dst = slices.Grow(dst, kvShortArrayRoom)
	}
	d := dst[m : m+kvShortArrayRoom]
	d[0], d[1], d[2], d[3] = tag1(field, wireBytes), byte(kv), tag1(fieldKVKey, wireBytes), byte(key.n)
	*(*[kvFastKeyMax]byte)(d[4 : 4+kvFastKeyMax]) = key.b
	p := 4 + key.n
	d[p], d[p+1], d[p+2], d[p+3] = tag1(fieldKVValue, wireBytes), byte(any), tag1(fieldAnyArray, wireBytes), byte(arr)
	p += 4
	var or uint64
	for _, s := range ss {
		n := len(s)
		d[p], d[p+1], d[p+2], d[p+3] = tag1(fieldArrayValues, wireBytes), byte(2+n), tag1(fieldAnyString, wireBytes), byte(n)
		p += 4
		// As appendKVFast's value: two overlapping words from 8 bytes,
		// two halves from 4, three bytes under 4.
		if w := d[p : p+16]; n >= 8 {
			a, b := utf8Load64(s), tail64(s)
			binary.LittleEndian.PutUint64(w, a)
			binary.LittleEndian.PutUint64(w[n-8:], b)
			or |= a | b
		} else if n >= 4 {
			a, b := jsonLoad32(s), tail32(s)
			binary.LittleEndian.PutUint32(w, a)
			binary.LittleEndian.PutUint32(w[n-4:], b)
			or |= uint64(a | b)
		} else if n > 0 {
			a, b, c := s[0], s[n/2], s[n-1]
			w[0], w[n/2], w[n-1] = a, b, c
			or |= uint64(a | b | c)
		}
		p += n
	}
	if or&asciiHigh != 0 {
		return dst, false
	}
	return dst[:m+p], true
}

// Resource, scope and status, the same in every request.

// writeResource appends the Resource body for res.
func (c *strChecker) writeResource(dst []byte, res *Resource) []byte {
	const f = fieldResourceAttrs
	dst = c.writeKVString(dst, f, "service.name", res.ServiceName)
	dst = c.writeKVStringOpt(dst, f, "service.instance.id", res.ServiceInstanceID)
	dst = c.writeKVStringOpt(dst, f, "ip", res.HostIP)
	if res.HostIP != "" {
		// host.ip is a string[] in the semantic conventions.
		dst = c.writeKVStringArray(dst, f, mustKVPrefix("host.ip"), []string{res.HostIP})
	}
	dst = c.writeKVString(dst, f, "telemetry.sdk.name", "flowtel")
	dst = c.writeKVString(dst, f, "telemetry.sdk.language", "go")
	dst = c.writeKVString(dst, f, "telemetry.sdk.version", ScopeVersion)
	return c.writeAttrs(dst, f, "", uniqueResourceAttrs(res))
}

// uniqueResourceAttrs returns res.Attrs without the keys writeResource
// writes from res's fields and without all but the last of a repeated key:
// OTLP wants each key of a resource once, and OTEL_RESOURCE_ATTRIBUTES
// often names service.name. It allocates only when it drops something
// (a resource is written once per encoder or metrics request).
func uniqueResourceAttrs(res *Resource) []Attr {
	written := func(k string) bool {
		switch k {
		case "service.name", "telemetry.sdk.name", "telemetry.sdk.language", "telemetry.sdk.version":
			return true
		case "service.instance.id":
			return res.ServiceInstanceID != ""
		case "ip", "host.ip":
			return res.HostIP != ""
		}
		return false
	}
	drop := func(i int) bool {
		k := res.Attrs[i].Key
		return written(k) || slices.ContainsFunc(res.Attrs[i+1:], func(a Attr) bool { return a.Key == k })
	}
	if len(res.Attrs) > 64 { // the scan is quadratic: 200,000 attributes took otlp.New 3 minutes
		last := make(map[string]int, len(res.Attrs))
		for i := range res.Attrs {
			last[res.Attrs[i].Key] = i
		}
		drop = func(i int) bool { k := res.Attrs[i].Key; return written(k) || last[k] != i }
	}
	var out []Attr
	for i := range res.Attrs {
		switch {
		case out != nil:
			if !drop(i) {
				out = append(out, res.Attrs[i])
			}
		case drop(i):
			out = append(make([]Attr, 0, len(res.Attrs)), res.Attrs[:i]...)
		}
	}
	if out == nil {
		return res.Attrs
	}
	return out
}

// appendScope appends flowtel's InstrumentationScope (ScopeName,
// ScopeVersion) as field 1 of a ScopeSpans, ScopeLogs or ScopeMetrics.
func appendScope(dst []byte) []byte {
	dst = appendLen1(dst, fieldScopeXScope, sizeLen1(len(ScopeName))+sizeLen1(len(ScopeVersion)))
	dst = appendStringField(dst, fieldScopeName, ScopeName)
	return appendStringField(dst, fieldScopeVersion, ScopeVersion)
}

// writeStatus appends the Status field of a span; it is always written,
// as the OpenTelemetry SDK does. The codes without a message, the usual
// case, are stored as constants (TestStatusConstants).
func (c *strChecker) writeStatus(dst []byte, code StatusCode, msg string) []byte {
	if msg == "" && code <= StatusError {
		if code == StatusUnset {
			return append(dst, tag1(fieldSpanStatus, wireBytes), 0)
		}
		return append(dst, tag1(fieldSpanStatus, wireBytes), 2, tag1(fieldStatusCode, wireVarint), byte(code))
	}
	return c.writeStatusField(dst, code, msg)
}

// writeStatusField is writeStatus without the constants.
func (c *strChecker) writeStatusField(dst []byte, code StatusCode, msg string) []byte {
	n, ok := 0, true
	size := sizeVarintField(fieldStatusCode, uint64(code))
	if msg != "" {
		n, ok = c.check(msg)
		size += sizeLen1(n)
	}
	dst = appendLen1(dst, fieldSpanStatus, size)
	if msg != "" {
		dst = appendLen1(dst, fieldStatusMessage, n)
		dst = writeChecked(dst, msg, ok)
	}
	return appendVarintField(dst, fieldStatusCode, uint64(code))
}
