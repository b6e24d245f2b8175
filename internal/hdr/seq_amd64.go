//go:build !race

package hdr

import "sync/atomic"

// begin marks the start of a record on s and returns the sequence's new,
// odd value: beginSeq, in assembly, so that the branch on fenced costs
// no call of its own.
func (s *shard) begin() uint64 { return beginSeq(&s.seq) }

// end marks the end of the record begin numbered n. It only needs to be
// ordered after the record's stores, which on amd64 (total store order)
// every store is: a plain store, on both paths.
func (s *shard) end(n uint64) { storeSeq(&s.seq, n+1) }

// storeSeq stores v in w with one MOV: a release store on amd64, and a
// call to assembly, which the compiler moves no memory access across, as
// engine's storeRelease. The assembly writes the atomic.Uint64's value,
// its only field of non-zero size (TestStoreSeq).
//
//go:noescape
func storeSeq(w *atomic.Uint64, v uint64)

// beginSeq adds 1 to w and returns the sum. Only the writer pinned to the
// shard's P changes the sequence, so with the asymmetric fence (fenced)
// it is a load and a plain store, made a full fence by the collector's
// membarrier; without it, a LOCK XADD, the writer's half of the Dekker
// pattern (see doc.go).
//
//go:noescape
func beginSeq(w *atomic.Uint64) uint64
