//go:build !amd64

package engine

import "unsafe"

// prefetchw does nothing on this architecture: see prefetch_amd64.go.
func prefetchw(p unsafe.Pointer, n uintptr) {}

// prefetch does nothing on this architecture: see prefetch_amd64.go.
func prefetch(p unsafe.Pointer, n uintptr) {}
