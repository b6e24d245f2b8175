package w3c

import (
	"iter"
	"strings"
)

// Limits of a tracestate header.
const (
	// MaxTraceStateMembers is the most list-members a tracestate may hold.
	MaxTraceStateMembers = 32
	// MaxTraceStateBytes bounds the header a parser reads. The longest
	// valid normalized header is 32*(256+1+256)+31 = 16447 bytes; the rest
	// leaves room for optional whitespace and empty members.
	MaxTraceStateBytes = 32768
)

// TraceState is a validated tracestate header. It keeps the header as
// received, so parsing copies nothing; accessors walk it. The zero value is
// the empty tracestate. A TraceState is immutable and safe to share.
type TraceState struct {
	s     string // validated header as received
	n     uint8  // number of list-members
	dirty bool   // s holds optional whitespace or empty list-members
}

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

// tsKeyChar marks lcalpha / DIGIT / "_" / "-" / "*" / "/".
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

func tsKeyRest(s string) bool {
	for i := 0; i < len(s); i++ {
		if !tsKeyChar[s[i]] {
			return false
		}
	}
	return true
}

func isLcalpha(c byte) bool { return c >= 'a' && c <= 'z' }

// validTraceStateKey checks a key against Trace Context Level 2:
//
//	key              = simple-key / multi-tenant-key
//	simple-key       = lcalpha 0*255( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
//	multi-tenant-key = tenant-id "@" system-id
//	tenant-id        = ( lcalpha / DIGIT ) 0*240( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
//	system-id        = lcalpha 0*13( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
func validTraceStateKey(k string) bool {
	tenant, system, multi := cutByte(k, '@')
	if !multi {
		return k != "" && len(k) <= 256 && isLcalpha(k[0]) && tsKeyRest(k[1:])
	}
	return tenant != "" && len(tenant) <= 241 && (isLcalpha(tenant[0]) || isDigit(tenant[0])) && tsKeyRest(tenant[1:]) &&
		system != "" && len(system) <= 14 && isLcalpha(system[0]) && tsKeyRest(system[1:])
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

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

// nextTraceStateMember splits the next list-member off s. It returns the
// member with optional whitespace removed (empty for an empty member), the
// rest of the header, and whether there was a member at all.
func nextTraceStateMember(s string) (m, rest string, more bool) {
	m, rest, more = cutByte(s, ',')
	return trimOWS(m), rest, more
}

// ParseTraceState parses and validates a tracestate header following W3C
// Trace Context Level 2: at most 32 list-members, keys and values per the
// grammar, no duplicate keys; optional whitespace around commas and empty
// list-members are allowed and dropped. Any violation makes the whole header
// invalid, as the specification asks, and the error wraps ErrTraceState
// (and ErrLimit for too many members or a header longer than
// MaxTraceStateBytes). The empty string is the empty TraceState.
// ParseTraceState does not allocate.
func ParseTraceState(s string) (TraceState, error) {
	if s == "" {
		return TraceState{}, nil
	}
	if len(s) > MaxTraceStateBytes {
		return TraceState{}, errTSTooLong
	}
	// keys holds the keys seen so far for the duplicate check: 32 keys make
	// a quadratic scan cheaper than a map, and the array stays on the stack.
	var keys [MaxTraceStateMembers]string
	n := 0
	dirty := false
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
			dirty = true
			continue
		}
		if len(m) != raw {
			dirty = true
		}
		if n == MaxTraceStateMembers {
			return TraceState{}, errTSTooMany
		}
		k, v, ok := cutByte(m, '=')
		if !ok {
			return TraceState{}, errTSNoEqual
		}
		if !validTraceStateKey(k) {
			return TraceState{}, errTSKey
		}
		if !validTraceStateValue(v) {
			return TraceState{}, errTSValue
		}
		for _, seen := range keys[:n] {
			if seen == k {
				return TraceState{}, errTSDuplicate
			}
		}
		keys[n] = k
		n++
	}
	if n == 0 {
		return TraceState{}, nil
	}
	return TraceState{s: s, n: uint8(n), dirty: dirty}, nil
}

// Len returns the number of list-members.
func (ts TraceState) Len() int { return int(ts.n) }

// All returns an iterator over the list-members, key and value, in header
// order. It does not allocate.
func (ts TraceState) All() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		rest, more := ts.s, ts.s != ""
		for more {
			var m string
			m, rest, more = nextTraceStateMember(rest)
			if m == "" {
				continue
			}
			k, v, _ := cutByte(m, '=')
			if !yield(k, v) {
				return
			}
		}
	}
}

// Get returns the value of key and whether key is present.
func (ts TraceState) Get(key string) (string, bool) {
	rest, more := ts.s, ts.s != ""
	for more {
		var m string
		m, rest, more = nextTraceStateMember(rest)
		if k, v, _ := cutByte(m, '='); k == key && m != "" {
			return v, true
		}
	}
	return "", false
}

// AppendTraceState appends the normalized header of ts (no whitespace, no
// empty members) to dst and returns the extended slice. It allocates only
// when dst lacks room.
func AppendTraceState(dst []byte, ts TraceState) []byte {
	if !ts.dirty {
		return append(dst, ts.s...)
	}
	first := true
	rest, more := ts.s, ts.s != ""
	for more {
		var m string
		m, rest, more = nextTraceStateMember(rest)
		if m == "" {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, m...)
	}
	return dst
}

// String returns the normalized header. It allocates only when the parsed
// header held whitespace or empty list-members.
func (ts TraceState) String() string {
	if !ts.dirty {
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
	for k, v := range ts.All() {
		if k == key {
			continue
		}
		if n == MaxTraceStateMembers {
			break
		}
		sb.WriteByte(',')
		sb.WriteString(k)
		sb.WriteByte('=')
		sb.WriteString(v)
		n++
	}
	return TraceState{s: sb.String(), n: uint8(n)}, nil
}

// Delete returns a TraceState without the member key. It returns ts itself,
// without allocating, when key is absent.
func (ts TraceState) Delete(key string) TraceState {
	if _, ok := ts.Get(key); !ok {
		return ts
	}
	var sb strings.Builder
	sb.Grow(len(ts.s))
	n := 0
	for k, v := range ts.All() {
		if k == key {
			continue
		}
		if n > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(k)
		sb.WriteByte('=')
		sb.WriteString(v)
		n++
	}
	if n == 0 {
		return TraceState{}
	}
	return TraceState{s: sb.String(), n: uint8(n)}
}
