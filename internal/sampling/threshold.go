package sampling

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/flowtel/flowtel/internal/hex"
)

// Threshold limits.
const (
	// MaxThreshold is 2^56, the threshold that keeps nothing. It is not a
	// valid th: "never" is not a probability, and is not propagated.
	MaxThreshold uint64 = 1 << 56
	// AlwaysThreshold keeps everything (th:0).
	AlwaysThreshold uint64 = 0
	// MinProbability is the smallest probability a threshold expresses.
	MinProbability = 0x1p-56
	// DefaultPrecision is the number of significant hex digits a
	// threshold keeps, as the specification recommends.
	DefaultPrecision = 4
	// randomMask keeps the 56 bits of randomness.
	randomMask = MaxThreshold - 1
)

// ErrProbability reports a probability outside [MinProbability, 1].
var ErrProbability = errors.New("sampling: probability must be in [2^-56, 1]")

// ThresholdFromProbability returns the rejection threshold of probability
// p, rounded to DefaultPrecision significant hex digits as the
// specification's reference algorithm (and OpenTelemetry's samplers) round:
// one digit more for each leading hex 0 of p (each factor 16 that p is
// below 1) and for each leading f of the threshold (each factor 16 that
// 1-p is below 1), up to all 14 digits, so that both the fraction kept and
// the fraction rejected keep DefaultPrecision significant digits.
func ThresholdFromProbability(p float64) (uint64, error) {
	return ThresholdWithPrecision(p, DefaultPrecision)
}

// ThresholdWithPrecision is ThresholdFromProbability with precision
// significant hex digits (1 to 14).
func ThresholdWithPrecision(p float64, precision int) (uint64, error) {
	if !(p >= MinProbability && p <= 1) {
		return 0, fmt.Errorf("%w: %v", ErrProbability, p)
	}
	if precision < 1 || precision > 14 {
		return 0, fmt.Errorf("sampling: precision %d not in [1, 14]", precision)
	}
	if p == 1 {
		return 0, nil
	}
	// Frexp's exponents are <= 0 here: -e/4 leading hex zeros.
	_, expKept := math.Frexp(p)
	_, expRejected := math.Frexp(1 - p)
	precision = min(14, precision+max(-expKept, -expRejected)/4)
	// p*2^56 is exact (a power of two scales it); its rounding to an
	// integer is the fraction kept in units of 2^-56.
	t := MaxThreshold - uint64(math.Round(math.Ldexp(p, 56)))
	if shift := 4 * (14 - precision); shift > 0 {
		t = (t + 1<<(shift-1)) >> shift << shift // half a digit rounds up
	}
	return t, nil
}

// Probability returns the fraction of traces threshold t keeps.
func Probability(t uint64) float64 {
	if t >= MaxThreshold {
		return 0
	}
	return float64(MaxThreshold-t) / float64(MaxThreshold)
}

// Keep reports whether randomness r passes threshold t.
func Keep(r, t uint64) bool { return r >= t }

// TraceIDRandomness returns the randomness of a trace-id made at random:
// its right-most 7 bytes, as a 56-bit integer.
func TraceIDRandomness(traceID [16]byte) uint64 {
	return binary.BigEndian.Uint64(traceID[8:]) & randomMask
}

// AppendTh appends the th encoding of threshold t (t < MaxThreshold): 14
// hex digits with trailing zeros removed, "0" for zero.
func AppendTh(dst []byte, t uint64) []byte {
	if t == 0 {
		return append(dst, '0')
	}
	n := 14
	for t&0xf == 0 {
		t >>= 4
		n--
	}
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, hex.Digits[(t>>(4*i))&0xf])
	}
	return dst
}

// parseHex56 parses 1 to 14 lower-case hex digits as the high digits of a
// 56-bit value.
func parseHex56(s string) (uint64, bool) {
	if len(s) > 14 {
		return 0, false
	}
	v, ok := hex.ParseUint(s)
	return v << (4 * (14 - len(s))), ok
}

// ParseTh parses a th value: 1 to 14 lower-case hex digits, the high
// digits of the threshold.
func ParseTh(s string) (uint64, bool) { return parseHex56(s) }

// ParseRv parses an rv value: exactly 14 lower-case hex digits.
func ParseRv(s string) (uint64, bool) {
	if len(s) != 14 {
		return 0, false
	}
	return parseHex56(s)
}
