//go:build !linux

package engine

// threadCPU is -1: there is no thread clock here.
func threadCPU() int64 { return -1 }
