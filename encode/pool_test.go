package encode_test

import (
	"testing"

	"github.com/flowtel/flowtel/encode"
)

// TestBufferPool checks that a returned buffer comes back empty and that
// PutBuffer tolerates nil.
func TestBufferPool(t *testing.T) {
	b := encode.GetBuffer()
	if len(b.B) != 0 {
		t.Fatalf("new buffer has %d bytes", len(b.B))
	}
	b.B = append(b.B, "payload"...)
	encode.PutBuffer(b)
	encode.PutBuffer(nil)
	for i := 0; i < 10; i++ {
		b := encode.GetBuffer()
		if len(b.B) != 0 {
			t.Fatalf("pooled buffer not reset: %q", b.B)
		}
		encode.PutBuffer(b)
	}
}

// TestBufferPoolRefusesOversized checks that a buffer grown past
// MaxPooledBufferBytes never comes back from GetBuffer.
func TestBufferPoolRefusesOversized(t *testing.T) {
	big := encode.GetBuffer()
	big.B = make([]byte, 0, encode.MaxPooledBufferBytes+1)
	encode.PutBuffer(big)
	for i := 0; i < 100; i++ {
		b := encode.GetBuffer()
		if b == big || cap(b.B) > encode.MaxPooledBufferBytes {
			t.Fatalf("GetBuffer returned an oversized buffer (cap %d)", cap(b.B))
		}
		defer encode.PutBuffer(b)
	}
}
