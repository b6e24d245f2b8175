package encode

import "math/bits"

// Protobuf wire types.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

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

// sizeTag returns the size of a field's tag.
func sizeTag(field int) int { return sizeVarint(uint64(field) << 3) }

// appendTag appends the tag of field with wire type wt.
func appendTag(dst []byte, field int, wt int) []byte {
	return appendVarint(dst, uint64(field)<<3|uint64(wt))
}

// sizeLenField returns the size of a length-delimited field whose payload is n bytes.
func sizeLenField(field, n int) int { return sizeTag(field) + sizeVarint(uint64(n)) + n }

// appendLenPrefix appends the tag and length of a length-delimited field whose
// payload of n bytes the caller appends next.
func appendLenPrefix(dst []byte, field, n int) []byte {
	dst = appendTag(dst, field, wireBytes)
	return appendVarint(dst, uint64(n))
}

// appendStringField appends a string field. Empty strings are skipped, as
// proto3 does for scalars.
func appendStringField(dst []byte, field int, s string) []byte {
	if s == "" {
		return dst
	}
	dst = appendLenPrefix(dst, field, len(s))
	return append(dst, s...)
}

// sizeStringField returns the size appendStringField writes.
func sizeStringField(field int, s string) int {
	if s == "" {
		return 0
	}
	return sizeLenField(field, len(s))
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
	return sizeTag(field) + sizeVarint(v)
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

// sizeFixed64Field returns the size appendFixed64Field writes.
func sizeFixed64Field(field int, v uint64) int {
	if v == 0 {
		return 0
	}
	return sizeTag(field) + 8
}

// appendFixed32Field appends a fixed32 field; zero is skipped.
func appendFixed32Field(dst []byte, field int, v uint32) []byte {
	if v == 0 {
		return dst
	}
	dst = appendTag(dst, field, wireFixed32)
	return append(dst, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
}

// sizeFixed32Field returns the size appendFixed32Field writes.
func sizeFixed32Field(field int, v uint32) int {
	if v == 0 {
		return 0
	}
	return sizeTag(field) + 4
}

// appendBoolField appends a bool field; false is skipped.
func appendBoolField(dst []byte, field int, v bool) []byte {
	if !v {
		return dst
	}
	dst = appendTag(dst, field, wireVarint)
	return append(dst, 1)
}

// sizeBoolField returns the size appendBoolField writes.
func sizeBoolField(field int, v bool) int {
	if !v {
		return 0
	}
	return sizeTag(field) + 1
}
