//go:build !race

package engine

import "sync/atomic"

// storeRelease stores v in w with release semantics: a goroutine whose
// atomic load of w observes v also observes every write the storing
// goroutine made before the store. Unlike sync/atomic's Store, which is
// sequentially consistent (an exchange on amd64, a read-modify-write that
// drains the store buffer), it orders nothing after the store: on amd64,
// whose memory model is total store order, a plain store is a release
// store, so this is one MOV in assembly, and the call is a point the
// compiler moves no store across. Under the race detector, and on other
// architectures, it is atomic.Uint64.Store (release_other.go), so that
// the detector sees the edge; arm64's Store is STLR, not a
// read-modify-write. The assembly writes the atomic.Uint64's value, its
// only field of non-zero size (TestStoreRelease).
//
//go:noescape
func storeRelease(w *atomic.Uint64, v uint64)

// storeReleaseInt64 is storeRelease for an atomic.Int64.
//
//go:noescape
func storeReleaseInt64(w *atomic.Int64, v int64)
