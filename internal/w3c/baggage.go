package w3c

import (
	"iter"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// Limits of a baggage header.
const (
	// MaxBaggageMembers is the most list-members a Baggage keeps, from the
	// W3C Baggage grammar (list-member 0*179( OWS "," OWS list-member )).
	MaxBaggageMembers = 180
	// MaxBaggageBytes is the longest baggage header accepted.
	MaxBaggageBytes = 8192
)

// Baggage is a parsed baggage header. It keeps the header as received and the
// number of valid list-members; iteration walks the header again and skips
// the members the parser dropped, so parsing copies nothing. Duplicate keys
// are kept, in order, as the W3C specification allows; Get returns the last
// one, as OpenTelemetry does. The zero value is the empty Baggage. A Baggage
// is immutable and safe to share.
type Baggage struct {
	s     string // the header as received, at most MaxBaggageBytes
	n     uint16 // valid list-members, at most MaxBaggageMembers
	dirty bool   // s is not the normalized header of its first n valid members
}

// Member is one baggage list-member. Its strings share the header's memory.
type Member struct {
	// Key is the member's key, a token (RFC 7230).
	Key   string
	raw   string // percent-encoded value, whitespace removed
	props string // everything after the first ';', as received
}

// Property is one property (metadata) of a list-member: "key" or
// "key=value".
type Property struct {
	// Key is the property's key, a token (RFC 7230).
	Key string
	// HasValue reports whether the property had "=value", even an empty one.
	HasValue bool
	raw      string
}

// tokenChar marks tchar of RFC 7230: the characters of a baggage key.
var tokenChar = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// valueChar marks baggage-octet: %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E.
var valueChar = func() (t [256]bool) {
	for c := 0x21; c <= 0x7e; c++ {
		t[c] = true
	}
	for _, c := range "\",;\\" {
		t[c] = false
	}
	return t
}()

// unhexAny maps a hex digit of either case to its value, else 0xff.
var unhexAny = func() (t [256]byte) {
	t = unhex
	for c := byte('A'); c <= 'F'; c++ {
		t[c] = c - 'A' + 10
	}
	return t
}()

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenChar[s[i]] {
			return false
		}
	}
	return true
}

// validBaggageValue checks baggage-octets and that every '%' starts a
// two-digit escape.
func validBaggageValue(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !valueChar[c] {
			return false
		}
		if c == '%' {
			if i+2 >= len(s) || (unhexAny[s[i+1]]|unhexAny[s[i+2]])&0xf0 != 0 {
				return false
			}
			i += 2
		}
	}
	return true
}

// parseProperty parses one trimmed property: key OWS [ "=" OWS value ].
func parseProperty(p string) (Property, bool) {
	i := 0
	for i < len(p) && tokenChar[p[i]] {
		i++
	}
	if i == 0 {
		return Property{}, false
	}
	key := p[:i]
	rest := trimOWS(p[i:])
	if rest == "" {
		return Property{Key: key}, true
	}
	if rest[0] != '=' {
		return Property{}, false
	}
	v := trimOWS(rest[1:])
	if !validBaggageValue(v) {
		return Property{}, false
	}
	return Property{Key: key, HasValue: true, raw: v}, true
}

// nextProperty returns the next property element of props, trimmed, and
// the rest. Empty elements ("k=v;;p;") are skipped, as OpenTelemetry does;
// an element of only whitespace is returned as "" with ok set, and makes
// the member invalid, since the grammar wants a property after OWS ";" OWS.
func nextProperty(props string) (p, rest string, ok bool) {
	for props != "" {
		var more bool
		p, props, more = cutByte(props, ';')
		if p != "" {
			return trimOWS(p), props, true
		}
		if !more {
			break
		}
	}
	return "", "", false
}

// parseMember parses one list-member as it appears between commas. It
// returns the member, the length of its normalized form, and an error when
// the member must be dropped.
func parseMember(t string) (Member, int, error) {
	if trimOWS(t) == "" {
		return Member{}, 0, errBagEmpty
	}
	kv, props, _ := cutByte(t, ';')
	k, v, ok := cutByte(kv, '=')
	if !ok {
		return Member{}, 0, errBagNoEqual
	}
	k, v = trimOWS(k), trimOWS(v)
	if !validToken(k) {
		return Member{}, 0, errBagKey
	}
	if !validBaggageValue(v) {
		return Member{}, 0, errBagValue
	}
	norm := len(k) + 1 + len(v)
	for rest := props; ; {
		var p string
		p, rest, ok = nextProperty(rest)
		if !ok {
			break
		}
		prop, ok := parseProperty(p)
		if !ok {
			return Member{}, 0, errBagProperty
		}
		norm += 1 + len(prop.Key)
		if prop.HasValue {
			norm += 1 + len(prop.raw)
		}
	}
	return Member{Key: k, raw: v, props: props}, norm, nil
}

// ParseBaggage parses a baggage header following W3C Baggage. A header longer
// than MaxBaggageBytes is rejected whole before anything else is read.
// Otherwise invalid list-members are dropped and the valid ones kept, up to
// MaxBaggageMembers; the returned Baggage holds them even when the error is
// not nil. The error reports the first problem and wraps ErrBaggage (and
// ErrLimit for the limits). Optional whitespace is removed and empty property
// elements are ignored. ParseBaggage does not allocate.
func ParseBaggage(s string) (Baggage, error) {
	if s == "" {
		return Baggage{}, nil
	}
	if len(s) > MaxBaggageBytes {
		return Baggage{}, errBagTooLarge
	}
	var err error
	n := 0
	dirty := false
	for rest, more := s, true; more; {
		var t string
		t, rest, more = cutByte(rest, ',')
		_, norm, merr := parseMember(t)
		if merr != nil {
			if err == nil {
				err = merr
			}
			dirty = true
			continue
		}
		if n == MaxBaggageMembers {
			if err == nil {
				err = errBagTooMany
			}
			dirty = true
			break
		}
		if norm != len(t) {
			dirty = true
		}
		n++
	}
	if n == 0 {
		return Baggage{}, err
	}
	return Baggage{s: s, n: uint16(n), dirty: dirty}, err
}

// Len returns the number of list-members.
func (b Baggage) Len() int { return int(b.n) }

// All returns an iterator over the list-members in header order. It does
// not allocate.
func (b Baggage) All() iter.Seq[Member] {
	return func(yield func(Member) bool) {
		left := int(b.n)
		for rest, more := b.s, left > 0; more && left > 0; {
			var t string
			t, rest, more = cutByte(rest, ',')
			m, _, err := parseMember(t)
			if err != nil {
				continue
			}
			left--
			if !yield(m) {
				return
			}
		}
	}
}

// Get returns the last member with key, and whether there is one.
func (b Baggage) Get(key string) (Member, bool) {
	var found Member
	ok := false
	for m := range b.All() {
		if m.Key == key {
			found, ok = m, true
		}
	}
	return found, ok
}

// appendMember appends the normalized form of m.
func appendMember(dst []byte, m Member) []byte {
	dst = append(dst, m.Key...)
	dst = append(dst, '=')
	dst = append(dst, m.raw...)
	for p := range m.Properties() {
		dst = append(dst, ';')
		dst = append(dst, p.Key...)
		if p.HasValue {
			dst = append(dst, '=')
			dst = append(dst, p.raw...)
		}
	}
	return dst
}

// AppendBaggage appends the normalized header of b to dst and returns the
// extended slice: valid members only, no whitespace, values as received
// (still percent-encoded). It allocates only when dst lacks room.
func AppendBaggage(dst []byte, b Baggage) []byte {
	if !b.dirty {
		return append(dst, b.s...)
	}
	first := true
	for m := range b.All() {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendMember(dst, m)
	}
	return dst
}

// String returns the normalized header. It allocates only when the parsed
// header was not already normalized.
func (b Baggage) String() string {
	if !b.dirty {
		return b.s
	}
	return ownedString(AppendBaggage(make([]byte, 0, len(b.s)), b))
}

// Insert returns a Baggage with key set to value, added last; earlier
// members with key are removed. value is the decoded value and must be
// valid UTF-8; it is percent-encoded as needed. An invalid key or value, or a
// result past MaxBaggageMembers or MaxBaggageBytes, returns b and an error
// wrapping ErrBaggage. Insert allocates the new header.
func (b Baggage) Insert(key, value string) (Baggage, error) {
	if !validToken(key) {
		return b, errBagKey
	}
	// The member alone takes at least this much, escaped: refuse a value
	// past the limit before a buffer three times its size is made for it.
	if len(key)+1+len(value) > MaxBaggageBytes {
		return b, errBagTooLarge
	}
	if !utf8.ValidString(value) {
		return b, errBagUTF8
	}
	buf := make([]byte, 0, len(b.s)+len(key)+1+len(value)*3+1)
	n := 0
	for m := range b.All() {
		if m.Key == key {
			continue
		}
		buf = appendMember(buf, m)
		buf = append(buf, ',')
		n++
	}
	buf = append(buf, key...)
	buf = append(buf, '=')
	buf = appendEscaped(buf, value)
	n++
	if n > MaxBaggageMembers {
		return b, errBagTooMany
	}
	if len(buf) > MaxBaggageBytes {
		return b, errBagTooLarge
	}
	return Baggage{s: ownedString(buf), n: uint16(n)}, nil
}

// Delete returns a Baggage without any member with key. It returns b itself,
// without allocating, when key is absent.
func (b Baggage) Delete(key string) Baggage {
	if _, ok := b.Get(key); !ok {
		return b
	}
	buf := make([]byte, 0, len(b.s))
	n := 0
	for m := range b.All() {
		if m.Key == key {
			continue
		}
		if n > 0 {
			buf = append(buf, ',')
		}
		buf = appendMember(buf, m)
		n++
	}
	if n == 0 {
		return Baggage{}
	}
	return Baggage{s: ownedString(buf), n: uint16(n)}
}

// RawValue returns the value as it appeared on the wire, percent-encoded.
func (m Member) RawValue() string { return m.raw }

// Value returns the percent-decoded value. Octets that do not form UTF-8
// become U+FFFD, as the specification asks. Value allocates only when the
// raw value holds a percent-escape; AppendValue never does.
func (m Member) Value() string { return decodeValue(m.raw) }

// AppendValue appends the percent-decoded value to dst.
func (m Member) AppendValue(dst []byte) []byte { return appendDecoded(dst, m.raw) }

// Properties returns an iterator over the member's properties, empty
// elements skipped. It does not allocate.
func (m Member) Properties() iter.Seq[Property] {
	return func(yield func(Property) bool) {
		for rest := m.props; ; {
			p, r, ok := nextProperty(rest)
			if !ok {
				return
			}
			rest = r
			prop, _ := parseProperty(p) // validated by parseMember
			if !yield(prop) {
				return
			}
		}
	}
}

// RawValue returns the property's value as it appeared on the wire.
func (p Property) RawValue() string { return p.raw }

// Value returns the property's percent-decoded value.
func (p Property) Value() string { return decodeValue(p.raw) }

func decodeValue(raw string) string {
	if strings.IndexByte(raw, '%') < 0 {
		return raw
	}
	return ownedString(appendDecoded(make([]byte, 0, len(raw)), raw))
}

// appendDecoded appends the percent-decoding of a validated raw value and
// replaces every octet that is not part of valid UTF-8 by U+FFFD.
func appendDecoded(dst []byte, raw string) []byte {
	start := len(dst)
	escaped := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '%' && i+2 < len(raw) {
			c = unhexAny[raw[i+1]]<<4 | unhexAny[raw[i+2]]
			i += 2
			escaped = true
		}
		dst = append(dst, c)
	}
	if !escaped || utf8.Valid(dst[start:]) {
		return dst
	}
	// Rare path: the escapes decoded to something that is not UTF-8.
	bad := append([]byte(nil), dst[start:]...)
	dst = dst[:start]
	for i := 0; i < len(bad); {
		r, size := utf8.DecodeRune(bad[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, "\uFFFD"...)
		} else {
			dst = append(dst, bad[i:i+size]...)
		}
		i += size
	}
	return dst
}

// appendEscaped appends value percent-encoded: '%' and every octet that is
// not a baggage-octet become %XX (upper-case hex, as OpenTelemetry writes).
func appendEscaped(dst []byte, value string) []byte {
	const upper = "0123456789ABCDEF"
	for i := 0; i < len(value); i++ {
		c := value[i]
		if valueChar[c] && c != '%' {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', upper[c>>4], upper[c&15])
	}
	return dst
}

// ownedString returns b as a string without copying. The caller must own b
// (a buffer it made) and never touch it again: this saves the copy that
// string(b) would make, one allocation per built header.
func ownedString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
