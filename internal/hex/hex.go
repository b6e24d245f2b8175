// Package hex reads and writes the lower-case hexadecimal that W3C Trace
// Context, the OpenTelemetry sampling threshold (th, rv) and the SID all
// use. It is a leaf: it imports nothing, so the leaves sid and
// internal/sampling may share it.
//
// Concurrency: every function is safe for concurrent use.
//
// Allocation: none; the Append functions grow dst only.
//
// Rejected alternatives: encoding/hex accepts upper case (W3C forbids it)
// and decodes to bytes, not to integers.
package hex

// Digits are the lower-case hexadecimal digits, indexed by value.
const Digits = "0123456789abcdef"

// ParseUint parses 1 to 16 lower-case hex digits as an unsigned integer
// and reports whether s was that. Upper case, signs, spaces and a "0x"
// prefix are refused.
func ParseUint(s string) (uint64, bool) {
	if s == "" || len(s) > 16 {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// AppendUint appends the low 4*width bits of v as exactly width lower-case
// hex digits, leading zeros included.
func AppendUint(dst []byte, v uint64, width int) []byte {
	n := len(dst)
	dst = append(dst, make([]byte, width)...) // The compiler turns this into a grow without allocating the temporary.
	for i := n + width - 1; i >= n; i-- {
		dst[i] = Digits[v&0xf]
		v >>= 4
	}
	return dst
}
