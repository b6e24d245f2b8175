package engine

import "github.com/flowtel/flowtel/internal/hdr"

// memoSlots is the number of lookups a seriesMemo remembers: a run's node
// types, models and tools are few, and a workflow platform's are tens.
const memoSlots = 16

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
// A slot is chosen by the values' lengths and last bytes (no hash of the
// whole values): distinct values that collide only take turns in it.
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

// memoIndex returns the slot of the first n values of lv.
func memoIndex(lv *hdr.LabelValues, n int) uint {
	var h uint
	for i := range n {
		s := lv[i]
		h = h*7 + uint(len(s))
		if len(s) != 0 {
			h = h*5 + uint(s[len(s)-1])
		}
	}
	return h % memoSlots
}

// find returns the series kept for the first n values of lv.
func (m *seriesMemo[T]) find(lv *hdr.LabelValues, n int) (T, bool) {
	sl := &m.slots[memoIndex(lv, n)]
	if !sl.ok {
		return sl.s, false
	}
	for i := range n {
		if sl.lv[i] != lv[i] {
			return sl.s, false
		}
	}
	return sl.s, true
}

// keep remembers s as the series of the first n values of lv.
func (m *seriesMemo[T]) keep(lv *hdr.LabelValues, n int, s T) {
	sl := &m.slots[memoIndex(lv, n)]
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
