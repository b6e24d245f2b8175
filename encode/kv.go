package encode

import (
	"slices"
	"unicode/utf8"
)

// This file writes the strings, AnyValues and KeyValues of every OTLP
// request: Encoder (traces, logs), SpanEncoder and AppendMetrics share it.

// strChecker validates each string of a record once, as it is written, and
// counts the strings it repairs. Encoder and SpanEncoder embed one;
// AppendMetrics keeps one on its stack.
type strChecker struct {
	// invalid counts the strings repaired in the request being written.
	invalid uint64
}

// check validates s once: it returns the length writeChecked writes for s
// and whether s is valid UTF-8, counting an invalid s.
func (c *strChecker) check(s string) (int, bool) {
	if utf8ValidShort(s) || utf8.ValidString(s) {
		return len(s), true
	}
	c.invalid++
	return utf8RepairedLen(s), false
}

// writeChecked appends s as check found it: whole, or repaired.
func writeChecked(dst []byte, s string, ok bool) []byte {
	if ok {
		return append(dst, s...)
	}
	return appendUTF8Repaired(dst, s)
}

// writeStringField appends string field (1 to 15), checked; an empty s is
// skipped, as proto3 does. It is small enough to inline, so that the
// usual empty string costs no call.
func (c *strChecker) writeStringField(dst []byte, field int, s string) []byte {
	if s == "" {
		return dst
	}
	return c.writeString(dst, field, s)
}

// writeString appends string field (1 to 15), checked, even when empty.
func (c *strChecker) writeString(dst []byte, field int, s string) []byte {
	n, ok := c.check(s)
	dst = appendLen1(dst, field, n)
	return writeChecked(dst, s, ok)
}

// AnyValue. appendAnyBody is the package's one writer of the AnyValue
// oneof; sizeAny sizes it, and the fast paths below (appendKVShort,
// appendKVChecked, appendKVShortArray) write its string member with the
// same field numbers.

// sizeAny returns the size of v's AnyValue body, with what check found for
// a string value: n bytes to write, valid or not (ok).
func (c *strChecker) sizeAny(v Value) (size, n int, ok bool) {
	switch v.kind {
	case KindString:
		n, ok = c.check(v.str)
		return sizeLen1(n), n, ok
	case KindBytes:
		return sizeLen1(len(v.str)), len(v.str), true
	case KindInt64:
		return 1 + sizeVarint(v.num), 0, true
	case KindFloat64:
		return 1 + 8, 0, true
	case KindBool:
		return 1 + 1, 0, true
	}
	return 0, 0, true
}

// appendAnyBody appends the AnyValue body of v: the oneof member of its
// kind, written even when zero; n and ok are what sizeAny found. An empty
// Value writes nothing (an AnyValue with no member).
func appendAnyBody(dst []byte, v Value, n int, ok bool) []byte {
	switch v.kind {
	case KindString:
		dst = appendLen1(dst, fieldAnyString, n)
		return writeChecked(dst, v.str, ok)
	case KindBytes:
		dst = appendLen1(dst, fieldAnyBytes, len(v.str))
		return append(dst, v.str...)
	case KindInt64:
		return appendAnyInt(dst, v.num)
	case KindFloat64:
		return appendFixed64Always(dst, fieldAnyDouble, v.num)
	case KindBool:
		return appendAnyBool(dst, v.num != 0)
	}
	return dst
}

// appendAnyInt appends the int_value member of an AnyValue body.
func appendAnyInt(dst []byte, v uint64) []byte {
	return appendVarint(append(dst, tag1(fieldAnyInt, wireVarint)), v)
}

// appendAnyBool appends the bool_value member of an AnyValue body.
func appendAnyBool(dst []byte, b bool) []byte {
	v := byte(0)
	if b {
		v = 1
	}
	return append(dst, tag1(fieldAnyBool, wireVarint), v)
}

// writeAny appends v as AnyValue field (1 to 15) of the enclosing message.
func (c *strChecker) writeAny(dst []byte, field int, v Value) []byte {
	size, n, ok := c.sizeAny(v)
	dst = appendLen1(dst, field, size)
	return appendAnyBody(dst, v, n, ok)
}

// KeyValue. A KeyValue's key is a constant prefix followed by a caller's
// key (either may be empty); the prefix is trusted ASCII.

// sizeKVBody returns the size of a KeyValue with a key of keyLen bytes and
// an AnyValue body of anyLen bytes. An empty key is omitted, as proto3
// omits empty strings; the value field is always written, so an empty
// AnyValue decodes as a present, empty message.
func sizeKVBody(keyLen, anyLen int) int {
	n := sizeLen1(anyLen)
	if keyLen != 0 {
		n += sizeLen1(keyLen)
	}
	return n
}

// appendKVHead appends the tag and length of KeyValue field (1 to 15), its
// trusted, non-empty key and the tag and length of its AnyValue of anyLen
// bytes, which the caller appends next.
func appendKVHead(dst []byte, field int, key string, anyLen int) []byte {
	if body := 2 + len(key) + 2 + anyLen; body < 0x80 {
		// Every length takes one byte, as for the conventions' own keys
		// and scalar values: two appends instead of three appendLen1.
		dst = append(dst, tag1(field, wireBytes), byte(body), tag1(fieldKVKey, wireBytes), byte(len(key)))
		dst = append(dst, key...)
		return append(dst, tag1(fieldKVValue, wireBytes), byte(anyLen))
	}
	dst = appendLen1(dst, field, sizeKVBody(len(key), anyLen))
	dst = appendLen1(dst, fieldKVKey, len(key))
	dst = append(dst, key...)
	return appendLen1(dst, fieldKVValue, anyLen)
}

// appendKVInt appends the KeyValue field key=v for a trusted key.
func appendKVInt(dst []byte, field int, key string, v int64) []byte {
	dst = appendKVHead(dst, field, key, 1+sizeVarint(uint64(v)))
	return appendAnyInt(dst, uint64(v))
}

// appendKVBool appends the KeyValue field key=b for a trusted key.
func appendKVBool(dst []byte, field int, key string, b bool) []byte {
	dst = appendKVHead(dst, field, key, 2)
	return appendAnyBool(dst, b)
}

// writeKVString appends the KeyValue field key=s for a trusted key.
func (c *strChecker) writeKVString(dst []byte, field int, key, s string) []byte {
	// The trusted key goes as the prefix, which is copied, not tested.
	if d, ok := appendKVShort(dst, field, key, "", s); ok {
		return d
	}
	n, ok := c.check(s)
	return appendKVChecked(dst, field, key, s, n, ok)
}

// writeKVStringOpt is writeKVString, skipped when s is empty.
func (c *strChecker) writeKVStringOpt(dst []byte, field int, key, s string) []byte {
	if s == "" {
		return dst
	}
	return c.writeKVString(dst, field, key, s)
}

// appendKVChecked appends the KeyValue field key=s for a trusted key and
// an s that check found to write n bytes, valid or not (ok).
func appendKVChecked(dst []byte, field int, key, s string, n int, ok bool) []byte {
	if body := 6 + len(key) + n; body < 0x80 {
		// Every length takes one byte: the tags and lengths go in two
		// appends instead of four appendLen1 and their tests.
		dst = append(dst, tag1(field, wireBytes), byte(body), tag1(fieldKVKey, wireBytes), byte(len(key)))
		dst = append(dst, key...)
		dst = append(dst, tag1(fieldKVValue, wireBytes), byte(2+n), tag1(fieldAnyString, wireBytes), byte(n))
		return writeChecked(dst, s, ok)
	}
	dst = appendKVHead(dst, field, key, sizeLen1(n))
	dst = appendLen1(dst, fieldAnyString, n)
	return writeChecked(dst, s, ok)
}

// kvShortRoom is the room appendKVShort makes in dst: its 8 tag and
// length bytes, a prefix, key and value of up to 16 bytes each, and 16
// bytes more for the word stores of jsonAppendShort past the value.
const kvShortRoom = 8 + 4*16

// appendKVShort appends the KeyValue field prefix+key=s in one go when
// prefix, key and s are each at most 16 bytes, key and s of plain ASCII
// (see jsonAppendShort), the shape of most attributes. Plain ASCII is valid
// UTF-8, and every length then fits in one byte, so nothing is checked or
// sized first: the tags and lengths are written with two appends and the
// strings with word stores. It reports false, appending nothing, for
// anything else (a non-empty key is needed too).
func appendKVShort(dst []byte, field int, prefix, key, s string) ([]byte, bool) {
	keyLen := len(prefix) + len(key)
	if len(prefix) > 16 || len(key) > 16 || len(s) > 16 || keyLen == 0 {
		return dst, false
	}
	if cap(dst)-len(dst) < kvShortRoom {
		dst = slices.Grow(dst, kvShortRoom)
	}
	start := len(dst)
	// KeyValue{key, value: AnyValue{string_value}}; the body is 2+keyLen
	// for the key and 2+2+len(s) for the value.
	dst = append(dst, tag1(field, wireBytes), byte(6+keyLen+len(s)), tag1(fieldKVKey, wireBytes), byte(keyLen))
	dst = append(dst, prefix...) // trusted; faster copied than tested
	dst, okKey := jsonAppendShort(dst, key)
	dst = append(dst, tag1(fieldKVValue, wireBytes), byte(2+len(s)), tag1(fieldAnyString, wireBytes), byte(len(s)))
	dst, okValue := jsonAppendShort(dst, s)
	if !okKey || !okValue {
		return dst[:start], false
	}
	return dst, true
}

// appendKVShortScalar is appendKVShort for an int, double or bool value,
// whose size is at hand: with a prefix and key of up to 16 bytes each, the
// key of plain ASCII, every length takes one byte and nothing is checked
// or sized first. It reports false, appending nothing, for anything else.
func appendKVShortScalar(dst []byte, field int, prefix, key string, v Value) ([]byte, bool) {
	keyLen := len(prefix) + len(key)
	if len(prefix) > 16 || len(key) > 16 || keyLen == 0 {
		return dst, false
	}
	if cap(dst)-len(dst) < kvShortRoom {
		dst = slices.Grow(dst, kvShortRoom)
	}
	anyLen := 1 + 8 // KindFloat64
	switch v.kind {
	case KindInt64:
		anyLen = 1 + sizeVarint(v.num)
	case KindBool:
		anyLen = 1 + 1
	}
	start := len(dst)
	dst = append(dst, tag1(field, wireBytes), byte(4+keyLen+anyLen), tag1(fieldKVKey, wireBytes), byte(keyLen))
	dst = append(dst, prefix...)
	dst, okKey := jsonAppendShort(dst, key)
	if !okKey {
		return dst[:start], false
	}
	dst = append(dst, tag1(fieldKVValue, wireBytes), byte(anyLen))
	return appendAnyBody(dst, v, 0, true), true
}

// writeKV appends the KeyValue field prefix+key=v; prefix is trusted.
func (c *strChecker) writeKV(dst []byte, field int, prefix, key string, v Value) []byte {
	switch v.kind {
	case KindString:
		if d, ok := appendKVShort(dst, field, prefix, key, v.str); ok {
			return d
		}
	case KindInt64, KindFloat64, KindBool:
		if d, ok := appendKVShortScalar(dst, field, prefix, key, v); ok {
			return d
		}
	}
	kn, kok := c.check(key)
	keyLen := len(prefix) + kn
	var size, n int
	ok := true
	if v.kind == KindString {
		// The usual kind, sized here rather than by a call to sizeAny,
		// and, when every length takes one byte, written with two
		// appends for the tags and lengths as appendKVChecked does.
		n, ok = c.check(v.str)
		if body := 2 + keyLen + 2 + 2 + n; body < 0x80 && keyLen != 0 {
			dst = append(dst, tag1(field, wireBytes), byte(body), tag1(fieldKVKey, wireBytes), byte(keyLen))
			dst = append(dst, prefix...)
			dst = writeChecked(dst, key, kok)
			dst = append(dst, tag1(fieldKVValue, wireBytes), byte(2+n), tag1(fieldAnyString, wireBytes), byte(n))
			return writeChecked(dst, v.str, ok)
		}
		size = sizeLen1(n)
	} else {
		size, n, ok = c.sizeAny(v)
	}
	dst = appendLen1(dst, field, sizeKVBody(keyLen, size))
	if keyLen != 0 {
		dst = appendLen1(dst, fieldKVKey, keyLen)
		dst = append(dst, prefix...)
		dst = writeChecked(dst, key, kok)
	}
	dst = appendLen1(dst, fieldKVValue, size)
	return appendAnyBody(dst, v, n, ok)
}

// writeAttrs appends attrs as KeyValue fields with key prefix.
func (c *strChecker) writeAttrs(dst []byte, field int, prefix string, attrs []Attr) []byte {
	for i := range attrs {
		dst = c.writeKV(dst, field, prefix, attrs[i].Key, attrs[i].Value)
	}
	return dst
}

// writeKeyValues appends kvs, attributes that may hold arrays, as KeyValue
// fields. An array is written with reserved lengths: its size is not at
// hand.
func (c *strChecker) writeKeyValues(dst []byte, field int, kvs []KeyValue) []byte {
	for i := range kvs {
		kv := &kvs[i]
		if !kv.IsArray {
			dst = c.writeKV(dst, field, "", kv.Key, kv.Value)
			continue
		}
		var at, any, arr int
		dst, at = openLen(dst, field, 1)
		dst = c.writeStringField(dst, fieldKVKey, kv.Key)
		dst, any = openLen(dst, fieldKVValue, 1)
		dst, arr = openLen(dst, fieldAnyArray, 1)
		for _, v := range kv.Array {
			dst = c.writeAny(dst, fieldArrayValues, v)
		}
		dst, _ = closeLen(dst, arr, 1)
		dst, _ = closeLen(dst, any, 1)
		dst, _ = closeLen(dst, at, 1)
	}
	return dst
}

// writeKVStringArray appends the KeyValue field key=ss (an ArrayValue of
// strings) for a trusted key.
func (c *strChecker) writeKVStringArray(dst []byte, field int, key string, ss []string) []byte {
	if d, ok := appendKVShortArray(dst, field, key, ss); ok {
		return d
	}
	dst, kv := openLen(dst, field, 1)
	dst = appendStringField(dst, fieldKVKey, key)
	dst, any := openLen(dst, fieldKVValue, 1)
	dst, arr := openLen(dst, fieldAnyArray, 1)
	for _, s := range ss {
		dst = c.writeAny(dst, fieldArrayValues, StringValue(s))
	}
	dst, _ = closeLen(dst, arr, 1)
	dst, _ = closeLen(dst, any, 1)
	dst, _ = closeLen(dst, kv, 1)
	return dst
}

// appendKVShortArray is writeKVStringArray for the usual next_node_ids, a
// few strings of up to 16 bytes of plain ASCII (see jsonAppendShort) in a
// KeyValue shorter than 128 bytes: the lengths are then known before and
// take one byte each, so nothing is reserved, moved or checked first. It
// reports false, appending nothing, for anything else.
func appendKVShortArray(dst []byte, field int, key string, ss []string) ([]byte, bool) {
	arr := 0 // ArrayValue{values: AnyValue{string_value}}
	for _, s := range ss {
		if len(s) > 16 {
			return dst, false
		}
		arr += 4 + len(s)
	}
	any := 2 + arr
	kv := 2 + len(key) + 2 + any
	if kv >= 0x80 {
		return dst, false
	}
	// Room for the field and 16 bytes of word stores past its end.
	if cap(dst)-len(dst) < 2+kv+16 {
		dst = slices.Grow(dst, 2+kv+16)
	}
	start := len(dst)
	dst = append(dst, tag1(field, wireBytes), byte(kv), tag1(fieldKVKey, wireBytes), byte(len(key)))
	dst = append(dst, key...)
	dst = append(dst, tag1(fieldKVValue, wireBytes), byte(any), tag1(fieldAnyArray, wireBytes), byte(arr))
	for _, s := range ss {
		dst = append(dst, tag1(fieldArrayValues, wireBytes), byte(2+len(s)), tag1(fieldAnyString, wireBytes), byte(len(s)))
		var ok bool
		if dst, ok = jsonAppendShort(dst, s); !ok {
			return dst[:start], false
		}
	}
	return dst, true
}

// Resource, scope and status, the same in every request.

// writeResource appends the Resource body for res.
func (c *strChecker) writeResource(dst []byte, res *Resource) []byte {
	const f = fieldResourceAttrs
	dst = c.writeKVString(dst, f, "service.name", res.ServiceName)
	dst = c.writeKVStringOpt(dst, f, "service.instance.id", res.ServiceInstanceID)
	dst = c.writeKVStringOpt(dst, f, "ip", res.HostIP)
	dst = c.writeKVStringOpt(dst, f, "host.ip", res.HostIP)
	dst = c.writeKVString(dst, f, "telemetry.sdk.name", "flowtel")
	dst = c.writeKVString(dst, f, "telemetry.sdk.language", "go")
	dst = c.writeKVString(dst, f, "telemetry.sdk.version", ScopeVersion)
	return c.writeAttrs(dst, f, "", res.Attrs)
}

// appendScope appends flowtel's InstrumentationScope (ScopeName,
// ScopeVersion) as field 1 of a ScopeSpans, ScopeLogs or ScopeMetrics.
func appendScope(dst []byte) []byte {
	dst = appendLen1(dst, fieldScopeXScope, sizeLen1(len(ScopeName))+sizeLen1(len(ScopeVersion)))
	dst = appendStringField(dst, fieldScopeName, ScopeName)
	return appendStringField(dst, fieldScopeVersion, ScopeVersion)
}

// writeStatus appends the Status field of a span; it is always written,
// as the OpenTelemetry SDK does.
func (c *strChecker) writeStatus(dst []byte, code StatusCode, msg string) []byte {
	n, ok := 0, true
	size := sizeVarintField(fieldStatusCode, uint64(code))
	if msg != "" {
		n, ok = c.check(msg)
		size += sizeLen1(n)
	}
	dst = appendLen1(dst, fieldSpanStatus, size)
	if msg != "" {
		dst = appendLen1(dst, fieldStatusMessage, n)
		dst = writeChecked(dst, msg, ok)
	}
	return appendVarintField(dst, fieldStatusCode, uint64(code))
}
