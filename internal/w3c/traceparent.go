package w3c

import "github.com/flowtel/flowtel/internal/hex"

// Trace flags defined by Trace Context Level 1 (sampled) and Level 2 (random).
// The other six bits are reserved: a sender must set them to zero, a receiver
// keeps what it got.
const (
	FlagSampled byte = 0x01
	FlagRandom  byte = 0x02
	// FlagsKnown masks the flags this package knows; a service that builds
	// its own traceparent from a received one keeps only these bits.
	FlagsKnown = FlagSampled | FlagRandom
)

// TraceParentLen is the length of a version 00 traceparent header and the
// minimum length of any version.
const TraceParentLen = 55

// TraceParent is the content of a traceparent header. Its zero value is not
// valid (all-zero ids). A parsed future version is kept as received; a
// TraceParent built for one's own span uses Version 0. The ids are plain
// arrays so that encode.TraceID and encode.SpanID convert to and from them.
type TraceParent struct {
	Version byte
	TraceID [16]byte
	SpanID  [8]byte
	Flags   byte
}

// Sampled reports whether the sampled flag is set.
func (tp TraceParent) Sampled() bool { return tp.Flags&FlagSampled != 0 }

// Random reports whether the random trace-id flag (Level 2) is set.
func (tp TraceParent) Random() bool { return tp.Flags&FlagRandom != 0 }

// IsValid reports whether tp could have been parsed: a version other than
// ff and two ids that are not all zeros.
func (tp TraceParent) IsValid() bool {
	return tp.Version != 0xff && tp.TraceID != [16]byte{} && tp.SpanID != [8]byte{}
}

// Child returns the traceparent a participant sends for its own span
// spanID when it continues tp's trace: version 00, the same trace-id, the
// random trace-id flag exactly as received (Level 2: a participant that
// keeps the incoming trace-id sends the flag unchanged, since it describes
// how that id was made), the sampled flag of its own recording decision,
// and the reserved flags cleared, as the specification asks of a sender.
func (tp TraceParent) Child(spanID [8]byte, sampled bool) TraceParent {
	return TraceParent{TraceID: tp.TraceID, SpanID: spanID, Flags: SendFlags(tp.Flags, sampled)}
}

// NewRandomTraceParent returns the traceparent of a span that starts a
// trace whose trace-id was drawn at random (at least its right-most 7
// bytes): version 00 with the random trace-id flag set, as Level 2 asks,
// and the sampled flag of the recording decision.
func NewRandomTraceParent(traceID [16]byte, spanID [8]byte, sampled bool) TraceParent {
	return TraceParent{TraceID: traceID, SpanID: spanID, Flags: SendFlags(FlagRandom, sampled)}
}

// SendFlags returns the trace-flags to send for a span of a trace whose
// flags were received (or, for a new trace, chosen) as received: the random
// flag kept, the sampled flag set to sampled, reserved bits zero.
func SendFlags(received byte, sampled bool) byte {
	f := received & FlagRandom
	if sampled {
		f |= FlagSampled
	}
	return f
}

// unhex maps a lower-case hex digit to its value and every other byte to
// 0xff. No valid value has a high nibble, so OR-ing the values of a field
// and testing the high nibble once validates the whole field.
var unhex = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := byte('0'); c <= '9'; c++ {
		t[c] = c - '0'
	}
	for c := byte('a'); c <= 'f'; c++ {
		t[c] = c - 'a' + 10
	}
	return t
}()

// decodeHex decodes len(dst)*2 lower-case hex digits from s into dst and
// reports whether all of them were valid.
func decodeHex(dst []byte, s string) bool {
	var bad byte
	for i := range dst {
		hi, lo := unhex[s[2*i]], unhex[s[2*i+1]]
		dst[i] = hi<<4 | lo
		bad |= hi | lo
	}
	return bad&0xf0 == 0
}

// ParseTraceParent parses a traceparent header following W3C Trace Context.
// Version 00 must be exactly "00-{32 hex}-{16 hex}-{2 hex}". A higher version
// other than ff is accepted when its first 55 characters parse the same way
// and, if the header is longer, the next character is '-'; what follows is
// ignored. Hex digits must be lower case; all-zero ids are rejected. Flags are
// kept as received, reserved bits included (see FlagsKnown). The error wraps
// ErrTraceParent. ParseTraceParent does not allocate.
func ParseTraceParent(s string) (TraceParent, error) {
	var tp TraceParent
	if len(s) < TraceParentLen {
		if s == "" {
			return tp, errTPEmpty
		}
		return tp, errTPShort
	}
	hi, lo := unhex[s[0]], unhex[s[1]]
	if (hi|lo)&0xf0 != 0 {
		return tp, errTPVersion
	}
	tp.Version = hi<<4 | lo
	switch {
	case tp.Version == 0xff:
		return TraceParent{}, errTPVersionFF
	case tp.Version == 0 && len(s) != TraceParentLen:
		return TraceParent{}, errTPLength
	case len(s) > TraceParentLen && s[TraceParentLen] != '-':
		return TraceParent{}, errTPFuture
	}
	if s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return TraceParent{}, errTPDelimiter
	}
	if !decodeHex(tp.TraceID[:], s[3:35]) {
		return TraceParent{}, errTPTraceIDHex
	}
	if !decodeHex(tp.SpanID[:], s[36:52]) {
		return TraceParent{}, errTPSpanIDHex
	}
	var f [1]byte
	if !decodeHex(f[:], s[53:55]) {
		return TraceParent{}, errTPFlagsHex
	}
	tp.Flags = f[0]
	if tp.TraceID == [16]byte{} {
		return TraceParent{}, errTPTraceID0
	}
	if tp.SpanID == [8]byte{} {
		return TraceParent{}, errTPSpanID0
	}
	return tp, nil
}

// AppendTraceParent appends the 55-character header of tp to dst and returns
// the extended slice. It writes tp as it is and does not check it; use
// IsValid first for a value that did not come from ParseTraceParent.
// AppendTraceParent allocates only when dst lacks room.
func AppendTraceParent(dst []byte, tp TraceParent) []byte {
	dst = append(dst, hex.Digits[tp.Version>>4], hex.Digits[tp.Version&15], '-')
	for _, b := range tp.TraceID {
		dst = append(dst, hex.Digits[b>>4], hex.Digits[b&15])
	}
	dst = append(dst, '-')
	for _, b := range tp.SpanID {
		dst = append(dst, hex.Digits[b>>4], hex.Digits[b&15])
	}
	return append(dst, '-', hex.Digits[tp.Flags>>4], hex.Digits[tp.Flags&15])
}

// String returns the header of tp. It allocates; carriers use
// AppendTraceParent with a stack buffer.
func (tp TraceParent) String() string {
	var buf [TraceParentLen]byte
	return string(AppendTraceParent(buf[:0], tp))
}
