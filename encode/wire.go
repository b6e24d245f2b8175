package encode

import "math/bits"

// This file is the protobuf wire layer every OTLP writer of the package
// shares: varints, tags, fixed-width and scalar fields, and the reserved
// lengths of nested messages (openLen, closeLen). Field numbers are named
// in fields.go; attributes and AnyValues are written by kv.go.

// Protobuf wire types.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

// tag1 returns the tag of field (1 to 15) with wire type wt, which takes
// one byte; with constant arguments it is a constant.
func tag1(field, wt int) byte { return byte(field<<3 | wt) }

// sizeVarint returns the encoded size of v as a varint.
func sizeVarint(v uint64) int {
	// (bits*9+64)/64 is 1 for 0..7 bits, 2 for 8..14 bits, and so on.
	return int(9*uint32(bits.Len64(v))+64) / 64
}

// appendVarint appends v as a varint.
func appendVarint(dst []byte, v uint64) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// appendTag appends the tag of field with wire type wt.
func appendTag(dst []byte, field int, wt int) []byte {
	return appendVarint(dst, uint64(field)<<3|uint64(wt))
}

// sizeLen1 returns the size of a length-delimited field numbered 1 to 15
// (a one-byte tag) with a payload of n bytes. Most payloads are shorter
// than 128 bytes; testing that first instead of calling sizeVarint (and
// the same in appendLen1) took about 5% off BenchmarkEncodeTraces/flowtel.
func sizeLen1(n int) int {
	if n < 0x80 {
		return 2 + n
	}
	return 1 + sizeVarint(uint64(n)) + n
}

// appendLen1 appends the tag and length of a length-delimited field
// numbered 1 to 15 whose payload of n bytes the caller appends next.
func appendLen1(dst []byte, field, n int) []byte {
	if n < 0x80 {
		return append(dst, tag1(field, wireBytes), byte(n))
	}
	return appendVarint(append(dst, tag1(field, wireBytes)), uint64(n))
}

// openLen appends the tag of length-delimited field (1 to 15) and w bytes
// reserved for its length, and returns where the length goes. It is the
// package's one way to write a message whose length depends on what
// follows: the caller writes the message, then closeLen(…, at, w).
func openLen(dst []byte, field, w int) ([]byte, int) {
	dst = append(dst, tag1(field, wireBytes))
	at := len(dst)
	for range w {
		dst = append(dst, 0)
	}
	return dst, at
}

// closeLen writes at at the length of the message written since
// openLen(…, w) returned at. When the length takes another width than w,
// the message moves, and shift says by how many bytes; reserving the usual
// width makes that rare, and cheaper than sizing every message first.
func closeLen(dst []byte, at, w int) (_ []byte, shift int) {
	n := len(dst) - at - w
	need := sizeVarint(uint64(n))
	if need != w {
		for i := w; i < need; i++ {
			dst = append(dst, 0)
		}
		copy(dst[at+need:], dst[at+w:at+w+n])
		dst = dst[:at+need+n]
	}
	v := uint64(n)
	for i := at; i < at+need-1; i++ {
		dst[i] = byte(v) | 0x80
		v >>= 7
	}
	dst[at+need-1] = byte(v)
	return dst, need - w
}

// appendVarintField appends a varint field; zero is skipped.
func appendVarintField(dst []byte, field int, v uint64) []byte {
	if v == 0 {
		return dst
	}
	dst = appendTag(dst, field, wireVarint)
	return appendVarint(dst, v)
}

// sizeVarintField returns the size appendVarintField writes.
func sizeVarintField(field int, v uint64) int {
	if v == 0 {
		return 0
	}
	return sizeVarint(uint64(field)<<3) + sizeVarint(v)
}

// appendFixed64 appends v little-endian.
func appendFixed64(dst []byte, v uint64) []byte {
	return append(dst, byte(v), byte(v>>8), byte(v>>16), byte(v>>24),
		byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56))
}

// appendFixed64Field appends a fixed64 field; zero is skipped.
func appendFixed64Field(dst []byte, field int, v uint64) []byte {
	if v == 0 {
		return dst
	}
	dst = appendTag(dst, field, wireFixed64)
	return appendFixed64(dst, v)
}

// appendFixed64Always appends fixed64 field (1 to 15) even when v is zero,
// as a oneof member or an optional field is written.
func appendFixed64Always(dst []byte, field int, v uint64) []byte {
	return appendFixed64(append(dst, tag1(field, wireFixed64)), v)
}

// appendFixed32Field appends a fixed32 field; zero is skipped.
func appendFixed32Field(dst []byte, field int, v uint32) []byte {
	if v == 0 {
		return dst
	}
	dst = appendTag(dst, field, wireFixed32)
	return append(dst, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
}

// appendBoolField appends a bool field; false is skipped.
func appendBoolField(dst []byte, field int, v bool) []byte {
	if !v {
		return dst
	}
	dst = appendTag(dst, field, wireVarint)
	return append(dst, 1)
}

// zigzag32 encodes a sint32.
func zigzag32(v int32) uint32 { return uint32(v<<1) ^ uint32(v>>31) }

// appendStringField appends a string field (1 to 15) of trusted UTF-8, a
// constant of the package; empty is skipped, as proto3 does. Strings of
// records go through strChecker.writeStringField.
func appendStringField(dst []byte, field int, s string) []byte {
	if s == "" {
		return dst
	}
	dst = appendLen1(dst, field, len(s))
	return append(dst, s...)
}
