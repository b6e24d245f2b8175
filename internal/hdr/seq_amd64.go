//go:build !race

package hdr

import "unsafe"

// begin marks the start of a record on s and returns the sequence's new,
// odd value. Only the writer pinned to the shard's P changes the
// sequence, so with the asymmetric fence (fenced) it is a load and a
// plain store, made a full fence by the collector's membarrier; without
// it, a LOCK XADD, the writer's half of the Dekker pattern (see doc.go).
//
// The plain store is Go's, through the word's address: the compiler
// keeps stores, atomic operations and calls in program order (they are
// one chain of memory states in its SSA), so the store stays before the
// load of cur, and no later store to the word can remove it, as a load
// (cur's) comes between. It was a MOV in assembly, a call the compiler
// moves nothing across: the calls (begin's and end's), and the spills
// around them, cost a record 7.92 -> 5.92 ns of thread CPU time
// (engine's TestCPUTime -cputime, 6 alternated runs, medians).
func (s *shard) begin() uint64 {
	if fenced {
		w := seqWord(s)
		n := *w + 1
		*w = n
		return n
	}
	return s.seq.Add(1)
}

// end marks the end of the record begin numbered n. It only needs to be
// ordered after the record's stores, which on amd64 (total store order)
// every store is: a plain store, on both paths.
func (s *shard) end(n uint64) { *seqWord(s) = n + 1 }

// seqWord returns the word of s.seq: an atomic.Uint64's value is its
// only field of non-zero size (TestSeqWord).
func seqWord(s *shard) *uint64 { return (*uint64)(unsafe.Pointer(&s.seq)) }
