package sid

import "testing"

// TestZeroGenerator: the zero Generator issues empty SIDs (it dereferenced
// its nil clock).
func TestZeroGenerator(t *testing.T) {
	var g Generator
	if s := g.Next(); s != "" || g.Len() != 0 || len(g.AppendNext([]byte("x"))) != 1 {
		t.Errorf("zero Generator: Next %q, Len %d", s, g.Len())
	}
}
