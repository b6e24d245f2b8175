//go:build !amd64

// Package prefetch asks the CPU to bring memory into its caches ahead of
// the loads that need it.
package prefetch

import "unsafe"

// Lines does nothing on this architecture: see prefetch_amd64.go.
func Lines(p unsafe.Pointer, n uintptr) {}
