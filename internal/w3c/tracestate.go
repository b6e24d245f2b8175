package w3c

import (
	"iter"
	"strings"
)

// Limits of a tracestate header.
const (
	// MaxTraceStateMembers is the most list-members a tracestate may hold.
	MaxTraceStateMembers = 32
	// MaxTraceStateBytes bounds the header a parser reads: a longer header
	// is discarded whole, before anything in it is read. The longest valid
	// normalized header is 32*(256+1+256)+31 = 16447 bytes; the rest leaves
	// room for optional whitespace and empty members.
	MaxTraceStateBytes = 32768
	// MinTraceStateBytes is the combined header size the specification
	// asks every participant to propagate at least. Nothing here cuts below
	// it: ParseTraceState keeps every valid member, and Truncate is for a
	// carrier with its own, documented, budget.
	MinTraceStateBytes = 512
	// LargeTraceStateEntry is the length above which a list-member ("key=value")
	// is removed first when a tracestate must be truncated.
	LargeTraceStateEntry = 128
)

// TraceState is a validated tracestate header. It keeps the header as
// received, so parsing copies nothing; accessors walk it. The zero value is
// the empty tracestate. A TraceState is immutable and safe to share.
type TraceState struct {
	s    string // header as received, every list-member valid
	n    uint8  // number of list-members
	form uint8  // tsNormal or tsSpaced
}

// The forms of a kept header.
const (
	tsNormal uint8 = iota // s is the normalized header
	tsSpaced              // s holds optional whitespace or empty list-members
)

// isOWS reports whether c is optional whitespace (SP or HTAB, RFC 7230).
func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// trimOWS removes leading and trailing SP and HTAB.
func trimOWS(s string) string {
	for s != "" && isOWS(s[0]) {
		s = s[1:]
	}
	for s != "" && isOWS(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// cutByte is strings.Cut for one byte.
func cutByte(s string, c byte) (before, after string, found bool) {
	if i := strings.IndexByte(s, c); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

// tsKeyChar marks the characters of a key after its first: lcalpha /
// DIGIT / "_" / "-" / "*" / "/".
var tsKeyChar = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "_-*/" {
		t[c] = true
	}
	return t
}()

func isLcalpha(c byte) bool { return c >= 'a' && c <= 'z' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// validTraceStateKey checks a key against Trace Context Level 1, the W3C
// Recommendation, whose grammar the W3C test suite and OpenTelemetry's
// SDKs check:
//
//	key              = simple-key / multi-tenant-key
//	simple-key       = lcalpha 0*255( lcalpha / DIGIT / "_" / "-" / "*" / "/" )
//	multi-tenant-key = tenant-id "@" system-id
//	tenant-id        = ( lcalpha / DIGIT ) 0*240( lcalpha / DIGIT / "_" / "-" / "*" / "/" )
//	system-id        = lcalpha 0*13( lcalpha / DIGIT / "_" / "-" / "*" / "/" )
//
// The Level 2 draft's looser key (any '@', a leading digit without one)
// is not accepted: a receiver on the Level 1 grammar discards the whole
// header for one such key, so forwarding it would cost every other
// vendor its entry downstream.
func validTraceStateKey(k string) bool {
	tenant, system, multi := cutByte(k, '@')
	if !multi {
		return k != "" && len(k) <= 256 && isLcalpha(k[0]) && tsKeyChars(k[1:])
	}
	return tenant != "" && len(tenant) <= 241 && (isLcalpha(tenant[0]) || isDigit(tenant[0])) && tsKeyChars(tenant[1:]) &&
		system != "" && len(system) <= 14 && isLcalpha(system[0]) && tsKeyChars(system[1:])
}

// tsKeyChars reports whether every character of s is a key character
// (no '@').
func tsKeyChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if !tsKeyChar[s[i]] {
			return false
		}
	}
	return true
}

// validTraceStateValue checks a value:
//
//	value    = 0*255(chr) nblk-chr
//	nblk-chr = %x21-2B / %x2D-3C / %x3E-7E
//	chr      = %x20 / nblk-chr
func validTraceStateValue(v string) bool {
	if v == "" || len(v) > 256 || v[len(v)-1] == ' ' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e || c == ',' || c == '=' {
			return false
		}
	}
	return true
}

// checkTraceStateMember validates one non-empty list-member, already
// trimmed of optional whitespace, and returns its key and value.
func checkTraceStateMember(m string) (k, v string, err error) {
	k, v, ok := cutByte(m, '=')
	switch {
	case !ok:
		return "", "", errTSNoEqual
	case !validTraceStateKey(k):
		return "", "", errTSKey
	case !validTraceStateValue(v):
		return "", "", errTSValue
	}
	return k, v, nil
}

// nextTraceStateMember splits the next list-member off s. It returns the
// member with optional whitespace removed (empty for an empty member), the
// rest of the header, and whether there was a member at all.
func nextTraceStateMember(s string) (m, rest string, more bool) {
	m, rest, more = cutByte(s, ',')
	return trimOWS(m), rest, more
}

// ParseTraceState parses a tracestate header following W3C Trace Context.
// A header that breaks a rule is discarded whole, as the W3C test suite
// and OpenTelemetry expect, and the error (wrapping ErrTraceState, and
// ErrLimit for the count and byte limits) says which rule:
//
//   - a list-member whose key or value does not match the grammar, or
//     that lacks '=';
//   - a key that appears twice: only one entry per key is allowed, and a
//     receiver cannot tell which of two is the vendor's latest;
//   - more than 32 list-members;
//   - a header longer than MaxTraceStateBytes (checked first).
//
// Optional whitespace around commas and empty list-members are accepted
// and removed on output; they do not count as members. The empty string
// is the empty TraceState. ParseTraceState does not allocate.
func ParseTraceState(s string) (TraceState, error) {
	if s == "" {
		return TraceState{}, nil
	}
	if len(s) > MaxTraceStateBytes {
		return TraceState{}, errTSTooLong
	}
	form := tsNormal
	// keys holds the keys seen so far for the duplicate check: 32 keys make
	// a quadratic scan cheaper than a map, and the array stays on the stack.
	var keys [MaxTraceStateMembers]string
	n := 0
	rest, more := s, true
	for more {
		var m string
		before := len(rest)
		m, rest, more = nextTraceStateMember(rest)
		raw := before - len(rest)
		if more {
			raw-- // the comma
		}
		if m == "" {
			form = tsSpaced
			continue
		}
		if len(m) != raw {
			form = tsSpaced
		}
		if n == MaxTraceStateMembers {
			return TraceState{}, errTSTooMany
		}
		k, _, err := checkTraceStateMember(m)
		if err != nil {
			return TraceState{}, err
		}
		if duplicateKey(keys[:n], k) {
			return TraceState{}, errTSDuplicate
		}
		keys[n] = k
		n++
	}
	if n == 0 {
		return TraceState{}, nil
	}
	return TraceState{s: s, n: uint8(n), form: form}, nil
}

// duplicateKey reports whether k is among keys.
func duplicateKey(keys []string, k string) bool {
	for _, seen := range keys {
		if seen == k {
			return true
		}
	}
	return false
}

// walk calls yield with each list-member (trimmed), its key and value, in
// header order, until yield returns false.
func (ts TraceState) walk(yield func(m, k, v string) bool) {
	for rest, more := ts.s, ts.s != ""; more; {
		var m string
		m, rest, more = nextTraceStateMember(rest)
		if m == "" {
			continue
		}
		k, v, _ := cutByte(m, '=')
		if !yield(m, k, v) {
			return
		}
	}
}

// Len returns the number of list-members.
func (ts TraceState) Len() int { return int(ts.n) }

// All returns an iterator over the list-members, key and value, in header
// order. It does not allocate.
func (ts TraceState) All() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		ts.walk(func(_, k, v string) bool { return yield(k, v) })
	}
}

// Get returns the value of key and whether key is present.
func (ts TraceState) Get(key string) (value string, found bool) {
	ts.walk(func(_, k, v string) bool {
		if k == key {
			value, found = v, true
			return false
		}
		return true
	})
	return value, found
}

// AppendTraceState appends the normalized header of ts (no whitespace, no
// empty members) to dst and returns the extended slice. It
// allocates only when dst lacks room.
func AppendTraceState(dst []byte, ts TraceState) []byte {
	if ts.form == tsNormal {
		return append(dst, ts.s...)
	}
	first := true
	ts.walk(func(m, _, _ string) bool {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, m...)
		return true
	})
	return dst
}

// String returns the normalized header. It allocates only when the parsed
// header held optional whitespace or empty list-members.
func (ts TraceState) String() string {
	if ts.form == tsNormal {
		return ts.s
	}
	return ownedString(AppendTraceState(make([]byte, 0, len(ts.s)), ts))
}

// Insert returns a TraceState with key set to value as its first member, as
// the specification asks of a vendor that updates its entry: an existing
// member with that key is removed, and when the list would pass 32 members
// the right-most one is dropped. An invalid key or value returns ts and an
// error wrapping ErrTraceState. Insert allocates the new header.
func (ts TraceState) Insert(key, value string) (TraceState, error) {
	if !validTraceStateKey(key) {
		return ts, errTSKey
	}
	if !validTraceStateValue(value) {
		return ts, errTSValue
	}
	var sb strings.Builder
	sb.Grow(len(key) + 1 + len(value) + 1 + len(ts.s))
	sb.WriteString(key)
	sb.WriteByte('=')
	sb.WriteString(value)
	n := 1
	ts.walk(func(m, k, _ string) bool {
		if k == key {
			return true
		}
		if n == MaxTraceStateMembers {
			return false
		}
		sb.WriteByte(',')
		sb.WriteString(m)
		n++
		return true
	})
	return TraceState{s: sb.String(), n: uint8(n)}, nil
}

// Delete returns a TraceState without the member key. It returns ts itself,
// without allocating, when key is absent.
func (ts TraceState) Delete(key string) TraceState {
	if _, ok := ts.Get(key); !ok {
		return ts
	}
	return ts.keep(len(ts.s), func(_ int, _, k string) bool { return k != key })
}

// keep builds a normalized TraceState of the members for which ok returns
// true; ok gets each member's index, text and key. size bounds the header.
func (ts TraceState) keep(size int, ok func(i int, m, k string) bool) TraceState {
	var sb strings.Builder
	sb.Grow(size)
	n, i := 0, 0
	ts.walk(func(m, k, _ string) bool {
		if ok(i, m, k) {
			if n > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(m)
			n++
		}
		i++
		return true
	})
	if n == 0 {
		return TraceState{}
	}
	return TraceState{s: sb.String(), n: uint8(n)}
}

// Truncate returns ts cut to at most maxBytes of normalized header, for a
// carrier that cannot propagate more, following the specification's order:
// whole list-members are removed, those longer than LargeTraceStateEntry
// characters first (right-most first), then the others from the end. It
// returns ts itself, without allocating, when it already fits. The
// specification asks a participant to propagate at least
// MinTraceStateBytes and to document a smaller limit.
func (ts TraceState) Truncate(maxBytes int) TraceState {
	total := 0
	var lens [MaxTraceStateMembers]int
	n := 0
	ts.walk(func(m, _, _ string) bool {
		lens[n] = len(m)
		total += len(m)
		n++
		return true
	})
	if n > 1 {
		total += n - 1
	}
	if total <= maxBytes {
		return ts
	}
	var drop [MaxTraceStateMembers]bool
	size := func(l int) int { // bytes freed by removing a member of length l
		if n == 1 {
			return l
		}
		return l + 1
	}
	for i := n - 1; i >= 0 && total > maxBytes; i-- {
		if lens[i] > LargeTraceStateEntry {
			total -= size(lens[i])
			drop[i] = true
			n--
		}
	}
	for i := len(drop) - 1; i >= 0 && total > maxBytes; i-- {
		if i < ts.Len() && !drop[i] {
			total -= size(lens[i])
			drop[i] = true
			n--
		}
	}
	return ts.keep(max(total, 0), func(i int, _, _ string) bool { return !drop[i] })
}
