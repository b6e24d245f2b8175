package otelbridge

import (
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"

	"github.com/flowtel/flowtel/engine"
)

// maxClipDepth bounds the nesting of a slice or map value the bridge
// writes: a value nested deeper is written as null there. The string form
// recurses once a level, and a value nested millions deep would overflow
// the goroutine's stack, a fatal error no recover stops.
const maxClipDepth = 1000

// valueBytes returns the engine's Limits.ValueBytes, the most of a
// value's string form a record keeps; with no engine, the largest.
func (s *bridgeSpan) valueBytes() int {
	if s.e == nil {
		return engine.MaxLimits().ValueBytes
	}
	return hooks.ValueBytes(s.e)
}

// attr converts kv as toAttr does, a slice or map value first clipped
// (clipValue) to what its string form can keep of it under the engine's
// Limits.ValueBytes: the string form of a 64 MiB string slice of control
// characters, escaped six bytes a byte, took gigabytes to be cut to
// 256 KiB. The bytes the record keeps are the same. Callers hold s.mu or
// own s.
func (s *bridgeSpan) attr(kv attribute.KeyValue) engine.Attr {
	switch kv.Value.Type() {
	case attribute.BOOLSLICE, attribute.INT64SLICE, attribute.FLOAT64SLICE, attribute.STRINGSLICE, attribute.SLICE, attribute.MAP:
		kv.Value = clipKeeping(kv.Value, s.valueBytes())
	}
	return toAttr(kv)
}

// clipKeeping returns v clipped (clipValue) so that its string form
// still begins with the first keep bytes of v's: utf8.UTFMax more than
// keep, as clipValue may cut a string at a rune's start up to that many
// bytes short of its budget.
func clipKeeping(v attribute.Value, keep int) attribute.Value {
	v, _ = clipValue(v, keep+utf8.UTFMax+1, 0)
	return v
}

// clipValue returns a value whose string form (attribute.Value.String)
// begins with the first budget-utf8.UTFMax bytes of v's, or is v's
// whole, and holds about budget bytes at most before escapes, and the
// bytes its string form holds at least. It keeps the elements of a slice
// or map whose string form begins within budget, the last one's string
// (or key) cut; a scalar is kept as it is (its string form is short). A
// level past maxClipDepth is the empty value (null).
func clipValue(v attribute.Value, budget, depth int) (attribute.Value, int) {
	switch v.Type() {
	case attribute.STRING:
		s := clipString(v.AsString(), budget)
		return attribute.StringValue(s), len(s) + 2
	case attribute.BYTESLICE:
		if b := v.AsByteSlice(); len(b) > budget {
			// Base64 of a prefix whose length is a multiple of 3 is a
			// prefix of the whole's, at least as long as it.
			b = b[:min(len(b), (budget+2)/3*3)]
			return attribute.ByteSliceValue(b), len(b) + 2
		}
		return v, len(v.AsByteSlice()) + 2
	case attribute.BOOLSLICE:
		b := v.AsBoolSlice()
		b = b[:min(len(b), budget)]
		return attribute.BoolSliceValue(b), 2 + 2*len(b)
	case attribute.INT64SLICE:
		b := v.AsInt64Slice()
		b = b[:min(len(b), budget)]
		return attribute.Int64SliceValue(b), 2 + 2*len(b)
	case attribute.FLOAT64SLICE:
		b := v.AsFloat64Slice()
		b = b[:min(len(b), budget)]
		return attribute.Float64SliceValue(b), 2 + 2*len(b)
	case attribute.STRINGSLICE:
		ss := v.AsStringSlice()
		n := 2
		for i, s := range ss {
			if n >= budget {
				return attribute.StringSliceValue(ss[:i]), n
			}
			ss[i] = clipString(s, budget-n)
			n += len(ss[i]) + 3
		}
		return attribute.StringSliceValue(ss), n
	case attribute.SLICE:
		vs := v.AsSlice()
		n := 2
		for i := range vs {
			if n >= budget {
				return attribute.SliceValue(vs[:i]...), n
			}
			if depth >= maxClipDepth {
				vs[i] = attribute.Value{}
				n += 5
				continue
			}
			var used int
			vs[i], used = clipValue(vs[i], budget-n, depth+1)
			n += used + 1
		}
		return attribute.SliceValue(vs...), n
	case attribute.MAP:
		kvs := v.AsMap() // sorted by key: MapValue keeps the order
		n := 2
		for i := range kvs {
			if n >= budget {
				return attribute.MapValue(kvs[:i]...), n
			}
			if k := string(kvs[i].Key); len(k) > budget-n {
				// The key's cut ends with a byte above any of UTF-8's, so
				// that it sorts after the keys before it, as it did whole;
				// past the budget, its string form is not kept.
				kvs[i].Key = attribute.Key(clipString(k, budget-n) + "\xff")
			}
			n += len(kvs[i].Key) + 4
			if depth >= maxClipDepth {
				kvs[i].Value = attribute.Value{}
				continue
			}
			var used int
			kvs[i].Value, used = clipValue(kvs[i].Value, max(budget-n, 0), depth+1)
			n += used
		}
		return attribute.MapValue(kvs...), n
	}
	return v, 1
}

// clipString cuts s to at most n bytes at a rune's start, as the
// engine's truncation cuts.
func clipString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	n = max(n, 0)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
