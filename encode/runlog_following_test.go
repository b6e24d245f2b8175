package encode

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestRunLogFollowingSorted is the property test of runlogFollowingSorted:
// on random runs whose nodes are sorted by start, with many equal starts
// and repeated node ids, it finds what runlogFollowing finds, for every
// node and node id.
func TestRunLogFollowingSorted(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	ids := []string{"a", "b", "c", "llm:1", ""}
	for range 3000 {
		r := &Run{}
		for range rng.IntN(12) {
			r.Nodes = append(r.Nodes, &Node{NodeID: ids[rng.IntN(len(ids))], StartUnixNano: rng.Int64N(6)})
		}
		slices.SortStableFunc(r.Nodes, func(a, b *Node) int { return cmp.Compare(a.StartUnixNano, b.StartUnixNano) })
		for i, n := range r.Nodes {
			for _, id := range ids {
				if got, want := runlogFollowingSorted(r.Nodes, i, id), runlogFollowing(r, n, id); got != want {
					t.Fatalf("node %d of %d, id %q: got %p, want %p", i, len(r.Nodes), id, got, want)
				}
			}
		}
	}
}

// TestRunLogSortedMatchesReference is TestRunLogMatchesReference on runs
// whose nodes are sorted by start, the order most runs have, which
// next_log_ids resolves with runlogFollowingSorted.
func TestRunLogSortedMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(53, 54))
	var buf []byte
	for i := range 500 {
		r := runlogRandRun(rng)
		for _, n := range r.Nodes {
			if rng.IntN(2) == 0 {
				n.StartUnixNano = r.StartUnixNano // equal starts
			}
		}
		slices.SortStableFunc(r.Nodes, func(a, b *Node) int { return cmp.Compare(a.StartUnixNano, b.StartUnixNano) })
		buf = AppendRunLogOptions(buf[:0], r, &RunLogOptions{Location: time.UTC})
		want, err := json.Marshal(runlogReference(r))
		if err != nil {
			t.Fatal(err)
		}
		got, ref := runlogTokens(t, buf), runlogTokens(t, want)
		if !slices.Equal(got, ref) {
			t.Fatalf("run %d:\n got: %s\nwant: %s", i, buf, want)
		}
	}
}

// TestRunLogDigits8 checks runlogDigits8 on every four-digit half with
// other halves of every width (its lanes do not touch each other) and on
// every 97th value below 10^8.
func TestRunLogDigits8(t *testing.T) {
	check := func(x uint64) {
		var want uint64 // the digits of x, the last one in the highest byte
		for i, y := 0, x; i < 8; i, y = i+1, y/10 {
			want |= ('0' + y%10) << (8 * (7 - i))
		}
		if got := runlogDigits8(x); got != want {
			var b, w [8]byte
			binary.LittleEndian.PutUint64(b[:], got)
			binary.LittleEndian.PutUint64(w[:], want)
			t.Fatalf("runlogDigits8(%d) = %q, want %q (strconv: %s)", x, b[:], w[:], strconv.FormatUint(x, 10))
		}
	}
	for h := range uint64(1e4) {
		for _, l := range []uint64{0, 1, 9, 10, 99, 100, 999, 1000, 5000, 9999, h} {
			check(h*1e4 + l)
			check(l*1e4 + h)
		}
	}
	for x := uint64(0); x < 1e8; x += 97 {
		check(x)
	}
}
