package encode

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// TestKVFast checks appendKVFast, the one-go KeyValue writer, against a
// KeyValue built field by field with protowire, for random prefixes, keys
// and values on both sides of each of its limits (key 16 bytes, prefix
// and key 32, value kvFastValueMax, word stores at 4 and 8 bytes) in
// ASCII, other valid UTF-8 and invalid UTF-8: where it reports true the
// bytes are the reference's, where it reports false it appended nothing,
// and it refuses only what it must (a non-ASCII key, an invalid value, a
// size past its limits).
func TestKVFast(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	str := func(n int) string {
		var b strings.Builder
		for b.Len() < n {
			switch rng.IntN(10) {
			case 0:
				b.WriteString("é") // 2 bytes
			case 1:
				b.WriteString("模") // 3 bytes
			case 2:
				b.WriteByte(0xff) // invalid
			default:
				b.WriteByte(byte(' ' + rng.IntN(95)))
			}
		}
		return b.String()
	}
	ascii := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(128))
		}
		return string(b)
	}
	lens := []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, kvFastValueMax - 1, kvFastValueMax, kvFastValueMax + 1}
	prefixes := []string{"", "input.", "output.", "a.sixteen.bytes.", "seventeen.bytes.x", strings.Repeat("p", 32)}
	for range 20000 {
		prefix := prefixes[rng.IntN(len(prefixes))]
		pre, ok := makeKVPrefix(prefix)
		if !ok {
			t.Fatalf("makeKVPrefix(%q) refused", prefix)
		}
		key := ascii(lens[rng.IntN(len(lens))])
		if rng.IntN(8) == 0 {
			key = str(lens[rng.IntN(len(lens))])
		}
		var v Value
		switch rng.IntN(5) {
		case 0:
			v = Int64Value(int64(rng.Uint64()) >> rng.IntN(64))
		case 1:
			v = Float64Value(rng.NormFloat64())
		case 2:
			v = BoolValue(rng.IntN(2) == 0)
		case 3:
			v = StringValue(ascii(lens[rng.IntN(len(lens))]))
		default:
			v = StringValue(str(lens[rng.IntN(len(lens))]))
		}
		head := []byte("head")
		got, ok := appendKVFast(kvRoom(bytes.Clone(head)), fieldSpanAttrs, &pre, key, v.kind(), &v)
		keyOK := len(prefix)+len(key) <= kvFastKeyMax && len(prefix)+len(key) > 0 && isASCII(key)
		valueOK := v.kind() != KindString || len(v.str()) <= kvFastValueMax && utf8.ValidString(v.str())
		if ok != (keyOK && valueOK) {
			t.Fatalf("appendKVFast(%q, %q, %v) reported %v, want %v", prefix, key, v, ok, keyOK && valueOK)
		}
		if !ok {
			if !bytes.Equal(got, head) {
				t.Fatalf("appendKVFast(%q, %q, %v) refused but appended % x", prefix, key, v, got[len(head):])
			}
			continue
		}
		if want := append(head, refKV(fieldSpanAttrs, prefix+key, v)...); !bytes.Equal(got, want) {
			t.Fatalf("appendKVFast(%q, %q, %v):\n got % x\nwant % x", prefix, key, v, got, want)
		}
	}
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// refKV is KeyValue field key=v written with protowire, the reference.
func refKV(field protowire.Number, key string, v Value) []byte {
	var any []byte
	switch v.kind() {
	case KindString:
		any = protowire.AppendString(protowire.AppendTag(nil, fieldAnyString, protowire.BytesType), v.str())
	case KindInt64:
		any = protowire.AppendVarint(protowire.AppendTag(nil, fieldAnyInt, protowire.VarintType), v.num)
	case KindFloat64:
		any = protowire.AppendFixed64(protowire.AppendTag(nil, fieldAnyDouble, protowire.Fixed64Type), math.Float64bits(math.Float64frombits(v.num)))
	case KindBool:
		any = protowire.AppendVarint(protowire.AppendTag(nil, fieldAnyBool, protowire.VarintType), protowire.EncodeBool(v.num != 0))
	}
	var kv []byte
	if key != "" {
		kv = protowire.AppendString(protowire.AppendTag(kv, fieldKVKey, protowire.BytesType), key)
	}
	kv = protowire.AppendBytes(protowire.AppendTag(kv, fieldKVValue, protowire.BytesType), any)
	return protowire.AppendBytes(protowire.AppendTag(nil, field, protowire.BytesType), kv)
}

// TestKVLong checks appendKVLong, the writer of long string values,
// against refKV as TestKVFast does, for values on both sides of its
// limits (kvFastValueMax, 8 KiB, copyASCII's 8- and 32-byte steps) in
// ASCII, other valid UTF-8 and invalid UTF-8, and keys within and past
// kvFastKeyMax: where it reports true the bytes are the reference's,
// where it reports false it appended nothing, and it refuses only what
// it must.
func TestKVLong(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	lens := []int{kvFastValueMax, kvFastValueMax + 1, 95, 96, 97, 127, 128, 129, 256, 1000, 1<<13 - 1, 1 << 13}
	spice := []string{"", "\"", "\n", "é", "模", "\xff", "\x80"}
	prefixes := []string{"", "input.", strings.Repeat("p", 32)}
	keys := []string{"", "k", "result", strings.Repeat("k", 26), strings.Repeat("k", 33), "ké"}
	for range 4000 {
		n := lens[rng.IntN(len(lens))]
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(' ' + rng.IntN(95))
		}
		if sp := spice[rng.IntN(len(spice))]; sp != "" && n > len(sp) {
			copy(b[rng.IntN(n-len(sp)+1):], sp)
		}
		s := string(b)
		prefix, key := prefixes[rng.IntN(len(prefixes))], keys[rng.IntN(len(keys))]
		head := []byte("head")
		got, ok := appendKVLong(bytes.Clone(head), fieldSpanAttrs, prefix, key, s)
		kl := len(prefix) + len(key)
		want := n > kvFastValueMax && n < 1<<13 && kl > 0 && kl <= kvFastKeyMax && isASCII(key) && utf8.ValidString(s)
		if ok != want {
			t.Fatalf("appendKVLong(%q, %q, %d bytes) reported %v, want %v", prefix, key, n, ok, want)
		}
		if !ok {
			if !bytes.Equal(got, head) {
				t.Fatalf("appendKVLong(%q, %q, %d bytes) refused but appended %d bytes", prefix, key, n, len(got)-len(head))
			}
			continue
		}
		if want := append(head, refKV(fieldSpanAttrs, prefix+key, StringValue(s))...); !bytes.Equal(got, want) {
			t.Fatalf("appendKVLong(%q, %q, %q):\n got % x\nwant % x", prefix, key, s, got, want)
		}
	}
}
