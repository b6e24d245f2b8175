package engine

import (
	"time"
	"unicode/utf8"

	"github.com/flowtel/flowtel/encode"
)

// Attr is a key and a typed value. Building one never allocates.
type Attr = encode.Attr

// Value is a typed attribute value; scalars are never boxed.
type Value = encode.Value

// Usage is LLM token usage, with the original's names.
type Usage = encode.Usage

// String returns an Attr for a string value.
func String(key, v string) Attr { return Attr{Key: key, Value: encode.StringValue(v)} }

// Int64 returns an Attr for an int64 value.
func Int64(key string, v int64) Attr { return Attr{Key: key, Value: encode.Int64Value(v)} }

// Int returns an Attr for an int value.
func Int(key string, v int) Attr { return Int64(key, int64(v)) }

// Float64 returns an Attr for a float64 value.
func Float64(key string, v float64) Attr { return Attr{Key: key, Value: encode.Float64Value(v)} }

// Bool returns an Attr for a bool value.
func Bool(key string, v bool) Attr { return Attr{Key: key, Value: encode.BoolValue(v)} }

// Bytes returns an Attr for a bytes value. The engine copies b when the
// attribute is recorded, so the caller may reuse b afterwards.
func Bytes(key string, b []byte) Attr { return Attr{Key: key, Value: encode.BytesValue(b)} }

// Duration returns an Attr holding d in milliseconds as an int64, the unit
// of the run trace log.
func Duration(key string, d time.Duration) Attr { return Int64(key, d.Milliseconds()) }

// truncate cuts s to at most n bytes at a UTF-8 boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}
