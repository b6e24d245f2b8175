// Package hexnum parses the lower-case hexadecimal numbers flowtel reads
// back from identifiers it writes (SIDs) and from W3C tracestate (the
// OpenTelemetry threshold th), where an upper-case digit is invalid: unlike
// strconv.ParseUint it refuses upper case, a sign, a prefix and
// underscores, and it allocates no error.
//
// # Concurrency and allocation
//
// ParseLower may be called from any goroutine; it allocates nothing.
package hexnum

// ParseLower parses s, lower-case hex digits only, as an unsigned number.
// It reports false for any other character; s must hold at most 16 digits
// for the result not to overflow, which the callers check.
func ParseLower(s string) (uint64, bool) {
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
