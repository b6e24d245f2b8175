package sampling

import "strings"

// OTKey is the tracestate key of OpenTelemetry's entry.
const OTKey = "ot"

// maxOTValue is the longest tracestate value.
const maxOTValue = 256

// OT is what the ot entry says about sampling.
type OT struct {
	Th, Rv       uint64
	HasTh, HasRv bool
}

// ParseOT reads th and rv from an ot value ("th:fd70a;rv:...;k:v"). A
// sub-key that does not parse is treated as absent; other sub-keys are
// ignored. It does not allocate.
func ParseOT(v string) OT {
	var o OT
	var seenTh, seenRv bool
	for v != "" {
		var m string
		m, v, _ = strings.Cut(v, ";")
		k, val, ok := strings.Cut(m, ":")
		if !ok {
			continue
		}
		switch k {
		case "th":
			if !seenTh {
				o.Th, o.HasTh = ParseTh(val)
			}
			seenTh = true
		case "rv":
			if !seenRv {
				o.Rv, o.HasRv = ParseRv(val)
			}
			seenRv = true
		}
	}
	return o
}

// Randomness returns the randomness of a trace: the explicit rv when the
// ot entry holds one, else the trace-id's when the trace-id is random
// (the random trace-id flag). ok is false when neither is known.
func (o OT) Randomness(traceID [16]byte, randomFlag bool) (r uint64, ok bool) {
	if o.HasRv {
		return o.Rv, true
	}
	if randomFlag {
		return TraceIDRandomness(traceID), true
	}
	return 0, false
}

// SetThreshold returns the ot value v with its th sub-key set to t, or
// removed when set is false; other sub-keys keep their order, a new th
// comes first. ok is false when the result would pass 256 characters, in
// which case v is returned unchanged. It returns v itself, without
// allocating, when nothing changes.
func SetThreshold(v string, t uint64, set bool) (out string, ok bool) {
	var th [14]byte
	thv := AppendTh(th[:0], t)
	if n, only := countTh(v, thv); set && n == 1 && only || !set && n == 0 {
		return v, true
	}
	var b strings.Builder
	found, changed := false, false
	rest := v
	first := true
	b.Grow(len(v) + 4 + len(thv))
	write := func(m string) {
		if !first {
			b.WriteByte(';')
		}
		first = false
		b.WriteString(m)
	}
	writeTh := func() {
		write("th:")
		b.Write(thv)
	}
	if set && !hasTh(v) {
		writeTh()
		found, changed = true, true
	}
	for rest != "" {
		var m string
		m, rest, _ = strings.Cut(rest, ";")
		if k, val, ok := strings.Cut(m, ":"); ok && k == "th" {
			switch {
			case !set:
				changed = true
				continue
			case found:
				changed = true
				continue
			default:
				found = true
				if val != string(thv) {
					changed = true
				}
				writeTh()
				continue
			}
		}
		write(m)
	}
	if !changed {
		return v, true
	}
	if b.Len() > maxOTValue {
		return v, false
	}
	return b.String(), true
}

// hasTh reports whether the ot value v holds a th sub-key.
func hasTh(v string) bool {
	for v != "" {
		var m string
		m, v, _ = strings.Cut(v, ";")
		if strings.HasPrefix(m, "th:") {
			return true
		}
	}
	return false
}

// countTh returns how many th sub-keys v holds and whether they all have
// the value thv.
func countTh(v string, thv []byte) (n int, same bool) {
	same = true
	for v != "" {
		var m string
		m, v, _ = strings.Cut(v, ";")
		if val, ok := strings.CutPrefix(m, "th:"); ok {
			n++
			same = same && val == string(thv)
		}
	}
	return n, same
}
