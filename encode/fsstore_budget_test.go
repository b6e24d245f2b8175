package encode

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
)

// TestFSStoreBudgetDirectPuts: a Put on a bounded store without Reserve
// counts in the budget (FSStore.stored), and takes its room out of what
// is reserved, not knowing whether it was; a Release after it gave back
// the reservation whole, so the pending count went below zero and the
// budget counted less than the directory held for good (past the budget
// after). Random Reserves, Releases, reserved and direct Puts: once
// nothing is reserved, Used is what the directory holds.
func TestFSStoreBudgetDirectPuts(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for round := range 50 {
		dir := t.TempDir()
		s, err := NewBoundedFSStore(dir, "", 1<<20, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var reserved []int
		for i := range 2 + rng.IntN(20) {
			value := make([]byte, 1+rng.IntN(200))
			key := "k" + strconv.Itoa(i)
			switch op := rng.IntN(4); {
			case op == 0 && len(reserved) > 0: // a reserved value stored
				n := reserved[0]
				reserved = reserved[1:]
				if err := s.Put(context.Background(), key, make([]byte, n)); err != nil {
					t.Fatal(err)
				}
			case op == 1 && len(reserved) > 0: // one not stored
				s.Release(reserved[0])
				reserved = reserved[1:]
			case op == 2:
				if !s.Reserve(len(value)) {
					t.Fatal("Reserve refused within the budget")
				}
				reserved = append(reserved, len(value))
			default: // a Put without Reserve
				if err := s.Put(context.Background(), key, value); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, n := range reserved {
			s.Release(n)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		wantB, wantF := countDir(entries)
		if b, f := s.Used(); b != wantB || f != wantF {
			t.Fatalf("round %d: nothing reserved, Used = %d bytes in %d files, the directory holds %d in %d", round, b, f, wantB, wantF)
		}
	}
}
