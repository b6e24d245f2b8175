//go:build !linux || !amd64

package hdr

// membarrierOffered is false: the fence path is linux/amd64's.
func membarrierOffered() bool { return false }
