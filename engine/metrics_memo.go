package engine

import "github.com/flowtel/flowtel/internal/hdr"

// memoSlots is the number of lookups a seriesMemo remembers: a run's node
// types, models and tools are few, and a workflow platform's are tens.
// They are memoWays to a set, so that two values whose index is the same
// are both kept: the loadgen's node types "llm" and "node-end" shared the
// one slot of a direct-mapped memo of 16 and took turns in it, each run
// looking both up (a label check and a hash and probe each).
const (
	memoSlots = 32
	memoWays  = 2
)

// seriesMemo remembers the series the pipeline's fold looked up last in
// one family, by the values its caller read of the run (before label),
// so that a node of a type, model or tool seen before costs a compare of
// those values instead of a label check of each (utf8.ValidString) and a
// lookup (a hash of each and a probe): 4-label lookups were most of
// observeGenAINode's cost in the loadgen's profile. Only the pipeline's
// goroutine folds (Metrics' doc), so the memo is plain memory.
//
// The memo only keeps what a lookup gives the same way every time: a
// series found or made whose every label was kept as it came (label
// returned it unchanged). One cut (counted in Stats.ValuesTruncated per
// lookup) or the overflow series (counted per lookup in
// flowtel_metric_overflow_total) is looked up each time, as before.
// Series are never removed from their Vec, so a series kept stays the
// one a lookup would return. The memo holds the strings it was given, as
// a node record does (they are not copied: see Allocation), at most
// memoSlots per family, until a later lookup takes their slot.
//
// A set is chosen by the values' lengths and first and last bytes (no
// hash of the whole values); a value kept goes first in its set, the
// others move down one, the last dropped: distinct values that collide
// past the set's ways take turns in it.
type seriesMemo[T any] struct {
	slots [memoSlots]memoSlot[T]
}

type memoSlot[T any] struct {
	lv hdr.LabelValues
	s  T
	ok bool
}

// foldMemos are the pipeline's memos, one per family it looks up in.
type foldMemos struct {
	nodes    seriesMemo[*nodeSeries]
	requests seriesMemo[RequestSeries]
	ops      seriesMemo[*genAIOpSeries]
	tools    seriesMemo[*boundedHist]
	flows    seriesMemo[*boundedHist]
	apps     seriesMemo[*genAIAppSeries]
}

// memoIndex returns the first slot of the set of the first n values of
// lv: their lengths and end bytes summed, then mixed by one multiply
// (Fibonacci hashing), whose high bits pick the set.
func memoIndex(lv *hdr.LabelValues, n int) uint {
	var h uint64
	for i := range n {
		s := lv[i]
		h = h*31 + uint64(len(s))<<16
		if len(s) != 0 {
			h += uint64(s[0])<<8 | uint64(s[len(s)-1])
		}
	}
	return uint((h*0x9e3779b97f4a7c15)>>(64-memoSetBits)) * memoWays
}

// memoSetBits is log2 of the number of sets.
const memoSetBits = 4

var _ = [1]int{}[memoSlots-memoWays<<memoSetBits] // the sets fill the slots

// find returns the series kept for the first n values of lv.
func (m *seriesMemo[T]) find(lv *hdr.LabelValues, n int) (T, bool) {
	set := m.slots[memoIndex(lv, n):][:memoWays]
	for w := range set {
		if sl := &set[w]; sl.ok && sameValues(&sl.lv, lv, n) {
			return sl.s, true
		}
	}
	var zero T
	return zero, false
}

// sameValues reports whether the first n values of a and b are equal.
func sameValues(a, b *hdr.LabelValues, n int) bool {
	for i := range n {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// keep remembers s as the series of the first n values of lv, first in
// its set.
func (m *seriesMemo[T]) keep(lv *hdr.LabelValues, n int, s T) {
	set := m.slots[memoIndex(lv, n):][:memoWays]
	copy(set[1:], set)
	sl := &set[0]
	sl.lv, sl.s, sl.ok = hdr.LabelValues{}, s, true
	copy(sl.lv[:n], lv[:n])
}

// labels sets lv[:n] to the label values (Metrics.label) of raw[:n] and
// reports whether each is its raw value unchanged.
func (m *Metrics) labels(lv, raw *hdr.LabelValues, n int) bool {
	same := true
	for i := range n {
		l := m.label(raw[i])
		lv[i] = l
		same = same && l == raw[i]
	}
	return same
}

// memoWith returns vec's series for the label values of raw[:n] through
// memo, and whether it is one memo keeps (no label cut or repaired, not
// the overflow series): see seriesMemo.
func memoWith[T any](m *Metrics, memo *seriesMemo[*T], vec *hdr.Vec[T], raw *hdr.LabelValues, n int) (*T, bool) {
	if s, ok := memo.find(raw, n); ok {
		return s, true
	}
	var lv hdr.LabelValues
	same := m.labels(&lv, raw, n)
	s := vec.With(&lv)
	if !same || s == vec.Overflow() {
		return s, false
	}
	memo.keep(raw, n, s)
	return s, true
}
