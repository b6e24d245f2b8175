//go:build !amd64

package engine

func tsc() uint64 { return 0 }

// clockNow is clockSince here: there is no counter to read (see
// clock_amd64.go).
func clockNow(c *clock) int64 { return clockSince(c) }

func invariantTSC() bool { return false }
