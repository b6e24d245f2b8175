//go:build !linux && !race

package hdr

// fenced is false: membarrier is Linux's. Writers take the atomic add
// to begin a record (see doc.go).
var fenced = false

// fence is the collector's half of the asymmetric fence: nothing here.
func fence() {}

// setFenced is for tests: without membarrier there is nothing to force.
func setFenced(bool) bool { return false }
