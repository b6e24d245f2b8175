package encode

import (
	"unicode/utf8"
	"unsafe"
)

// utf8Replacement is U+FFFD encoded as UTF-8, written in place of each run
// of invalid bytes.
const utf8Replacement = "\uFFFD"

// utf8RepairedLen returns the length of s once every maximal run of invalid
// UTF-8 bytes is replaced by one U+FFFD, the rule of strings.ToValidUTF8.
// The caller has already found s invalid with utf8.ValidString: a valid s is
// never repaired, so the common path pays one scan and no more.
func utf8RepairedLen(s string) int {
	n := 0
	inRun := false
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			n++
			i++
			inRun = false
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		if size == 1 { // utf8.RuneError of width 1: an invalid byte.
			if !inRun {
				n += len(utf8Replacement)
				inRun = true
			}
			i++
			continue
		}
		n += size
		i += size
		inRun = false
	}
	return n
}

// appendUTF8Repaired appends s with every maximal run of invalid UTF-8 bytes
// replaced by one U+FFFD. It writes exactly utf8RepairedLen(s) bytes.
func appendUTF8Repaired(dst []byte, s string) []byte {
	inRun := false
	start := 0 // start of the pending valid stretch
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			i++
			inRun = false
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		if size == 1 {
			dst = append(dst, s[start:i]...)
			if !inRun {
				dst = append(dst, utf8Replacement...)
				inRun = true
			}
			i++
			start = i
			continue
		}
		i += size
		inRun = false
	}
	return append(dst, s[start:]...)
}

// appendUTF8 appends s, repairing it first when it is not valid UTF-8. It
// reports whether a repair happened, so the caller can count it.
func appendUTF8(dst []byte, s string) ([]byte, bool) {
	if utf8.ValidString(s) {
		return append(dst, s...), false
	}
	return appendUTF8Repaired(dst, s), true
}

// utf8ShortMax is the longest string utf8ValidShort tests: attribute keys
// and identifiers are mostly shorter (http.request.header.content-type is
// 33 bytes).
const utf8ShortMax = 32

// utf8ValidShort reports whether s is ASCII and at most utf8ShortMax bytes
// long, the shape of most keys and identifiers, without the call
// utf8.ValidString costs; false means "unknown", not "invalid". From 8
// bytes on it tests two or four overlapping 8-byte words instead of
// looping.
func utf8ValidShort(s string) bool {
	const hi = 0x8080808080808080
	switch {
	case len(s) > utf8ShortMax:
		return false
	case len(s) > 16:
		return (utf8Load64(s)|utf8Load64(s[8:])|load64At(s, len(s)-16)|tail64(s))&hi == 0
	case len(s) >= 8:
		return (utf8Load64(s)|tail64(s))&hi == 0
	}
	var or byte
	for i := 0; i < len(s); i++ {
		or |= s[i]
	}
	return or < utf8.RuneSelf
}

// load64At returns the 8 bytes of s from i (i+8 <= len(s)), as
// utf8Load64 of s[i:]. The 8-byte string is made from s's pointer:
// s[i:] took four instructions more a load to keep the pointer of a
// slice to the end within it when the slice is empty, which it never is
// here.
func load64At(s string, i int) uint64 {
	return utf8Load64(*(*string)(unsafe.Pointer(&stringHeader{unsafe.Add(unsafe.Pointer(unsafe.StringData(s)), i), 8})))
}

// load32At is load64At for the 4 bytes of s from i (i+4 <= len(s)), as
// jsonLoad32 of s[i:].
func load32At(s string, i int) uint32 {
	return jsonLoad32(*(*string)(unsafe.Pointer(&stringHeader{unsafe.Add(unsafe.Pointer(unsafe.StringData(s)), i), 4})))
}

// tail64 returns the last 8 bytes of s, of at least 8 bytes.
func tail64(s string) uint64 { return load64At(s, len(s)-8) }

// tail32 returns the last 4 bytes of s, of at least 4 bytes.
func tail32(s string) uint32 { return load32At(s, len(s)-4) }

// utf8Load64 returns the first 8 bytes of s, little-endian; the compiler
// turns it into one load.
func utf8Load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}
