//go:build !race

package hdr

import "testing"

// TestSeqWord checks the sequence's plain marks (seq_amd64.go): begin and
// end write the word an atomic load reads, and begin adds one on both
// paths, the plain store's (fenced) and the LOCK XADD's.
func TestSeqWord(t *testing.T) {
	old := fenced
	defer setFenced(old)
	for _, on := range []bool{true, false} {
		if setFenced(on); fenced != (on && membarrierOffered()) {
			t.Fatalf("setFenced(%v): fenced = %v", on, fenced)
		}
		var s shard
		for _, v := range []uint64{0, 1, 1<<63 | 5, ^uint64(0) - 1} {
			s.end(v - 1)
			if got := s.seq.Load(); got != v {
				t.Fatalf("end stored %#x, loaded %#x", v, got)
			}
			if n := s.begin(); n != v+1 || s.seq.Load() != v+1 {
				t.Fatalf("fenced %v: begin after %#x returned %#x, loaded %#x", fenced, v, n, s.seq.Load())
			}
		}
	}
}
