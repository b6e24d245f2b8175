package encode_test

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/valyala/bytebufferpool"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/race"
)

// TestGrowBufferProperty checks, on random contents and sizes (small ones
// and ones of fresh heap pages), that GrowBuffer keeps a buffer's
// bytes, gives it at least the capacity asked for, keeps a large enough
// array, and that the rest of a new array reads zero and can be written
// and read back.
func TestGrowBufferProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		old := make([]byte, r.IntN(1<<12), r.IntN(1<<12)+1<<12)
		for j := range old {
			old[j] = byte(r.Uint32())
		}
		want := bytes.Clone(old)
		b := &bytebufferpool.ByteBuffer{B: old}
		n := r.IntN(3 << 20)
		encode.GrowBuffer(b, n)
		if !bytes.Equal(b.B, want) {
			t.Fatalf("case %d: GrowBuffer(%d) changed the buffer's %d bytes", i, n, len(want))
		}
		if cap(b.B) < n {
			t.Fatalf("case %d: GrowBuffer(%d) left capacity %d", i, n, cap(b.B))
		}
		if n <= cap(old) && &b.B[:1][0] != &old[:1][0] {
			t.Fatalf("case %d: GrowBuffer(%d) replaced an array of capacity %d", i, n, cap(old))
		}
		full := b.B[:cap(b.B)]
		if n > cap(old) {
			// A new array: fresh or reused, the runtime gave it zeroed.
			for j := len(want); j < len(full); j++ {
				if full[j] != 0 {
					t.Fatalf("case %d: byte %d of a new array of %d reads %d", i, j, len(full), full[j])
				}
			}
		}
		for j := len(want); j < len(full); j++ {
			full[j] = byte(j)
		}
		for j := len(want); j < len(full); j++ {
			if full[j] != byte(j) {
				t.Fatalf("case %d: byte %d of %d reads %d after a write of %d", i, j, len(full), full[j], byte(j))
			}
		}
	}
}

// TestGrowBufferAllocs checks that GrowBuffer allocates nothing when the
// buffer is large enough, and one array when it is not.
func TestGrowBufferAllocs(t *testing.T) {
	if race.Enabled {
		t.Skip("allocation counts differ under -race")
	}
	b := &bytebufferpool.ByteBuffer{B: make([]byte, 10, 1<<20)}
	if a := testing.AllocsPerRun(100, func() { encode.GrowBuffer(b, 1<<20) }); a != 0 {
		t.Fatalf("GrowBuffer into room: %v allocs, want 0", a)
	}
	if a := testing.AllocsPerRun(100, func() {
		b.B = b.B[:10:10]
		encode.GrowBuffer(b, 256<<10)
	}); a != 1 {
		t.Fatalf("GrowBuffer past the capacity: %v allocs, want 1", a)
	}
}
