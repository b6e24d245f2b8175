//go:build !amd64

package engine

func tsc() uint64 { return 0 }

func invariantTSC() bool { return false }
