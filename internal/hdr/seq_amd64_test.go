//go:build !race

package hdr

import (
	"sync/atomic"
	"testing"
)

// TestStoreSeq checks the assembly of the sequence (seq_amd64.s): storeSeq
// and beginSeq write the word an atomic load reads, and beginSeq adds one
// on both paths, the plain store's (fenced) and the LOCK XADD's.
func TestStoreSeq(t *testing.T) {
	old := fenced
	defer setFenced(old)
	for _, on := range []bool{true, false} {
		if setFenced(on); fenced != (on && membarrierOffered()) {
			t.Fatalf("setFenced(%v): fenced = %v", on, fenced)
		}
		var w atomic.Uint64
		for _, v := range []uint64{0, 1, 1<<63 | 5, ^uint64(0) - 1} {
			storeSeq(&w, v)
			if got := w.Load(); got != v {
				t.Fatalf("stored %#x, loaded %#x", v, got)
			}
			if n := beginSeq(&w); n != v+1 || w.Load() != v+1 {
				t.Fatalf("fenced %v: beginSeq after %#x returned %#x, loaded %#x", fenced, v, n, w.Load())
			}
		}
	}
}
