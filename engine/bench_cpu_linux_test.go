//go:build linux

package engine

import "github.com/flowtel/flowtel/internal/testkit"

// threadCPU is the calling thread's CPU time in nanoseconds.
func threadCPU() int64 { return testkit.ThreadCPU() }
