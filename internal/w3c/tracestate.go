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
	// is cut after the last whole list-member that fits, as the
	// specification asks of a truncation (whole entries, from the end). The
	// longest valid normalized header is 32*(256+1+256)+31 = 16447 bytes;
	// the rest leaves room for optional whitespace and empty members.
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
// received, so parsing copies nothing; accessors walk it and see only the
// members kept. The zero value is the empty tracestate. A TraceState is
// immutable and safe to share.
type TraceState struct {
	s    string // header as received, cut after the last kept member
	n    uint8  // number of kept list-members
	form uint8  // tsNormal, tsSpaced or tsFiltered
}

// The forms of a kept header, from cheapest to walk to dearest.
const (
	tsNormal   uint8 = iota // s is the normalized header
	tsSpaced                // s holds optional whitespace or empty list-members
	tsFiltered              // s holds list-members that were dropped
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

// tsKeyChar marks keychar = lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@".
var tsKeyChar = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "_-*/@" {
		t[c] = true
	}
	return t
}()

func isLcalpha(c byte) bool { return c >= 'a' && c <= 'z' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// validTraceStateKey checks a key against Trace Context Level 2 as
// published now:
//
//	key     = ( lcalpha / DIGIT ) 0*255 ( keychar )
//	keychar = lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@"
//
// '@' is an ordinary key character: the earlier tenant-id "@" system-id
// form, with its 241 and 14 character parts, is gone from the grammar.
func validTraceStateKey(k string) bool {
	if k == "" || len(k) > 256 || !isLcalpha(k[0]) && !isDigit(k[0]) {
		return false
	}
	for i := 1; i < len(k); i++ {
		if !tsKeyChar[k[i]] {
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

// cutTraceState returns the part of s, longer than limit, that ends with
// the last whole list-member within the first limit bytes.
func cutTraceState(s string, limit int) string {
	if s[limit] == ',' {
		return s[:limit]
	}
	if i := strings.LastIndexByte(s[:limit], ','); i >= 0 {
		return s[:i]
	}
	return ""
}

// ParseTraceState parses a tracestate header following W3C Trace Context
// Level 2. The specification lets a receiver discard the invalid entries of
// a header rather than the whole header, and this parser does so:
//
//   - a list-member whose key or value does not match the grammar, or
//     that lacks '=', is dropped;
//   - a list-member whose key was already seen is dropped: only one entry
//     per key is allowed, and the left-most is the latest position in the
//     trace (a participant moves its updated entry to the left);
//   - list-members past the 32nd are dropped, from the end, as the
//     specification truncates;
//   - a header longer than MaxTraceStateBytes is read up to the last whole
//     list-member within that many bytes.
//
// Optional whitespace around commas and empty list-members are accepted
// and removed on output. The members kept are returned, with an error
// (wrapping ErrTraceState, and ErrLimit for the count and byte limits) that
// reports the first problem, so that the caller can count the header as
// malformed. The empty string is the empty TraceState. ParseTraceState does
// not allocate.
func ParseTraceState(s string) (TraceState, error) {
	if s == "" {
		return TraceState{}, nil
	}
	var err error
	form := tsNormal
	if len(s) > MaxTraceStateBytes {
		s = cutTraceState(s, MaxTraceStateBytes)
		err, form = errTSTooLong, tsFiltered
	}
	// keys holds the keys kept so far for the duplicate check: 32 keys make
	// a quadratic scan cheaper than a map, and the array stays on the stack.
	var keys [MaxTraceStateMembers]string
	n, end := 0, 0
	rest, more := s, s != ""
	for more {
		var m string
		before := len(rest)
		m, rest, more = nextTraceStateMember(rest)
		raw := before - len(rest)
		if more {
			raw-- // the comma
		}
		if m == "" {
			form = max(form, tsSpaced)
			continue
		}
		if len(m) != raw {
			form = max(form, tsSpaced)
		}
		if n == MaxTraceStateMembers {
			if err == nil {
				err = errTSTooMany
			}
			form = tsFiltered
			break
		}
		k, _, merr := checkTraceStateMember(m)
		if merr == nil && duplicateKey(keys[:n], k) {
			merr = errTSDuplicate
		}
		if merr != nil {
			if err == nil {
				err = merr
			}
			form = tsFiltered
			continue
		}
		keys[n] = k
		n++
		end = len(s) - len(rest)
		if more {
			end-- // the comma
		}
	}
	if n == 0 {
		return TraceState{}, err
	}
	return TraceState{s: s[:end], n: uint8(n), form: form}, err
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

// walk calls yield with each kept list-member (trimmed), its key and value,
// in header order, until yield returns false. A filtered header is walked
// with the parser's rules again: validity of a member is a function of its
// text and of the keys kept before it.
func (ts TraceState) walk(yield func(m, k, v string) bool) {
	rest, more := ts.s, ts.s != ""
	if ts.form != tsFiltered {
		for more {
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
		return
	}
	var keys [MaxTraceStateMembers]string
	n := 0
	for more && n < int(ts.n) {
		var m string
		m, rest, more = nextTraceStateMember(rest)
		if m == "" {
			continue
		}
		k, v, err := checkTraceStateMember(m)
		if err != nil || duplicateKey(keys[:n], k) {
			continue
		}
		keys[n] = k
		n++
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
// empty or dropped members) to dst and returns the extended slice. It
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
// header held whitespace, empty list-members or dropped list-members.
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
