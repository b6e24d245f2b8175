package encode

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// TestCloseLen checks openLen/closeLen for every reserved width against
// message lengths on both sides of each varint width boundary: the
// length decodes with protowire, the message follows it intact, and the
// shift says how far it moved.
func TestCloseLen(t *testing.T) {
	lengths := []int{0, 1, 127, 128, 129, 16383, 16384, 16385, 1<<21 - 1, 1 << 21}
	for w := 1; w <= 3; w++ {
		for _, n := range lengths {
			prefix := []byte("prefix")
			dst, at := openLen(append([]byte(nil), prefix...), 2, w)
			for i := range n {
				dst = append(dst, byte(i*7))
			}
			dst, shift := closeLen(dst, at, w)
			if want := protowire.SizeVarint(uint64(n)) - w; shift != want {
				t.Fatalf("w=%d n=%d: shift %d, want %d", w, n, shift, want)
			}
			if !bytes.Equal(dst[:len(prefix)], prefix) {
				t.Fatalf("w=%d n=%d: prefix changed", w, n)
			}
			num, typ, k := protowire.ConsumeTag(dst[len(prefix):])
			if num != 2 || typ != protowire.BytesType {
				t.Fatalf("w=%d n=%d: tag %d/%d", w, n, num, typ)
			}
			v, m := protowire.ConsumeBytes(dst[len(prefix)+k:])
			if m < 0 || len(v) != n || len(prefix)+k+m != len(dst) {
				t.Fatalf("w=%d n=%d: decoded %d bytes of %d (m=%d)", w, n, len(v), len(dst), m)
			}
			for i := range v {
				if v[i] != byte(i*7) {
					t.Fatalf("w=%d n=%d: byte %d is %d", w, n, i, v[i])
				}
			}
		}
	}
}
