//go:build !amd64 || race

package hdr

// fenced is false: the asymmetric fence is for amd64 without the race
// detector, whose plain stores are release stores and which the
// detector would report (see doc.go).
const fenced = false

// begin marks the start of a record on s: an atomic add, the writer's
// half of the Dekker pattern (see doc.go).
func (s *shard) begin() uint64 { return s.seq.Add(1) }

// end marks the end of the record begin numbered n. An atomic add: on
// arches other than amd64 a plain store would not be ordered after the
// record's, and the race detector must see the edge.
func (s *shard) end(uint64) { s.seq.Add(1) }

// fence is the collector's half of the asymmetric fence: nothing here.
func fence() {}

// setFenced is for tests: without the fence there is nothing to force.
func setFenced(bool) bool { return false }
