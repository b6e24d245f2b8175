//go:build !amd64 || race

package engine

import "sync/atomic"

// storeRelease is atomic.Uint64.Store: see release_amd64.go.
func storeRelease(w *atomic.Uint64, v uint64) { w.Store(v) }

// storeReleaseInt64 is atomic.Int64.Store: see release_amd64.go.
func storeReleaseInt64(w *atomic.Int64, v int64) { w.Store(v) }
