package hdr

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"math/bits"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// MaxLabels is the largest number of labels a Vec may have.
const MaxLabels = 8

// OverflowAttr is the attribute OTel gives the overflow series of a
// metric whose cardinality limit was reached (with value true); exposition
// formats without booleans write OverflowValue as every label value.
const (
	OverflowAttr  = "otel.metric.overflow"
	OverflowValue = "__overflow__"
)

// Errors returned by the Vec constructors.
var (
	ErrTooManyLabels = errors.New("hdr: too many labels")
	ErrInvalidLimit  = errors.New("hdr: invalid cardinality limit")
)

// LabelValues are the values of a Vec's labels, in the order of its label
// names; values past the Vec's label count must be empty.
type LabelValues [MaxLabels]string

// Vec is a family of series (Histograms or Counters) keyed by label values,
// with a cardinality limit: once limit series exist, measurements for new
// label values go to one overflow series and are counted.
type Vec[T any] struct {
	names []string
	limit int
	mk    func() *T

	n    int // len(names): only the first n label values are compared
	seed uint64

	// tab is a read-only open-addressing table, replaced whole
	// (copy-on-write) when a series is added, so lookups take no lock.
	tab atomic.Pointer[vecTable[T]]

	mu       sync.Mutex // serialises inserts
	order    []vecEntry[T]
	overflow *T
	// overflowed counts With calls routed to the overflow series.
	overflowed *Counter
}

type vecEntry[T any] struct {
	lv LabelValues
	s  *T
}

// vecTable is an immutable hash table of series with linear probing, at
// most half full.
type vecTable[T any] struct {
	mask  uint64
	len   int
	slots []vecSlot[T]
}

type vecSlot[T any] struct {
	hash uint64
	lv   *LabelValues // nil marks an empty slot
	s    *T
}

// hash returns the hash of the first v.n values of lv. It reads 8 bytes a
// step and mixes with a 128-bit multiply (wyhash's mum): hash/maphash's
// String costs about 8 ns a call and was half of a lookup in profiles.
// Collisions cost only probes: the table is at most half full and bounded
// by the cardinality limit.
func (v *Vec[T]) hash(lv *LabelValues) uint64 {
	h := v.seed
	for i := range v.n {
		h = strHash(h, lv[i])
	}
	return h
}

// strHash mixes s into h.
func strHash(h uint64, s string) uint64 {
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	for len(b) >= 8 {
		h = mum(h^binary.LittleEndian.Uint64(b), 0x9E3779B97F4A7C15)
		b = b[8:]
	}
	var t uint64
	for i, c := range b {
		t |= uint64(c) << (8 * i)
	}
	return mum(h^t^uint64(len(s))<<59, 0xBF58476D1CE4E5B9)
}

// mum multiplies a and b to 128 bits and folds the halves.
func mum(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// equal reports whether the first n values of a and b are equal.
func equal(a, b *LabelValues, n int) bool {
	for i := range n {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// find returns the series for lv with hash h, or nil.
func (t *vecTable[T]) find(lv *LabelValues, h uint64, n int) *T {
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		sl := &t.slots[i]
		if sl.lv == nil {
			return nil
		}
		if sl.hash == h && equal(sl.lv, lv, n) {
			return sl.s
		}
	}
}

// with returns a copy of t with lv added, grown to stay at most half full.
func (t *vecTable[T]) with(lv *LabelValues, h uint64, s *T) *vecTable[T] {
	size := len(t.slots)
	if 2*(t.len+1) > size {
		size *= 2
	}
	nt := &vecTable[T]{mask: uint64(size - 1), len: t.len + 1, slots: make([]vecSlot[T], size)}
	put := func(sl vecSlot[T]) {
		i := sl.hash & nt.mask
		for nt.slots[i].lv != nil {
			i = (i + 1) & nt.mask
		}
		nt.slots[i] = sl
	}
	for _, sl := range t.slots {
		if sl.lv != nil {
			put(sl)
		}
	}
	put(vecSlot[T]{hash: h, lv: lv, s: s})
	return nt
}

// NewHistogramVec returns a Vec of Histograms over cfg with the given label
// names and at most limit series (besides the overflow series).
func NewHistogramVec(cfg Config, names []string, limit int) (*Vec[Histogram], error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return newVec(names, limit, func() *Histogram {
		h, _ := New(cfg) // validated above
		return h
	})
}

// NewCounterVec returns a Vec of Counters with the given label names and at
// most limit series (besides the overflow series).
func NewCounterVec(names []string, limit int) (*Vec[Counter], error) {
	return newVec(names, limit, NewCounter)
}

// NewVec returns a Vec of series made by mk (called once per series,
// under the Vec's insert lock, and once for the overflow series) with the
// given label names and at most limit series besides the overflow series.
// It lets a caller keep several instruments per label set in one series
// (for example an ok counter, an error counter and a histogram) and pay
// one lookup for all of them.
func NewVec[T any](names []string, limit int, mk func() *T) (*Vec[T], error) {
	return newVec(names, limit, mk)
}

func newVec[T any](names []string, limit int, mk func() *T) (*Vec[T], error) {
	if len(names) > MaxLabels {
		return nil, fmt.Errorf("cannot build a family with %d labels (max %d): %w", len(names), MaxLabels, ErrTooManyLabels)
	}
	if limit < 1 {
		return nil, fmt.Errorf("cannot build a family with cardinality limit %d: %w", limit, ErrInvalidLimit)
	}
	v := &Vec[T]{
		names:      append([]string(nil), names...),
		n:          len(names),
		seed:       new(maphash.Hash).Sum64(), // a random seed per Vec
		limit:      limit,
		mk:         mk,
		overflow:   mk(),
		overflowed: NewCounter(),
	}
	v.tab.Store(&vecTable[T]{mask: 7, slots: make([]vecSlot[T], 8)})
	return v, nil
}

// Names returns the label names of v. The result must not be modified.
func (v *Vec[T]) Names() []string { return v.names }

// With returns the series for lv, creating it if the limit allows, or the
// overflow series. Values of lv past the Vec's label count are ignored. It
// allocates nothing once the series exists. A new series keeps copies of
// the label values, never lv's strings, so lv may hold transient strings.
func (v *Vec[T]) With(lv *LabelValues) *T {
	h := v.hash(lv)
	// The map only grows, so a full map stays full: no lock needed.
	if s := v.found(v.tab.Load(), lv, h); s != nil {
		return s
	}
	return v.insert(lv, h)
}

// found returns the series for lv in t, the overflow series (counted) if t
// is full, or nil if lv has room for a new series.
func (v *Vec[T]) found(t *vecTable[T], lv *LabelValues, h uint64) *T {
	if s := t.find(lv, h, v.n); s != nil {
		return s
	}
	if t.len >= v.limit {
		v.overflowed.Inc()
		return v.overflow
	}
	return nil
}

// insert adds the series for lv or returns the overflow series.
func (v *Vec[T]) insert(lv *LabelValues, h uint64) *T {
	v.mu.Lock()
	defer v.mu.Unlock()
	t := v.tab.Load()
	if s := v.found(t, lv, h); s != nil {
		return s
	}
	s := v.mk()
	key := new(LabelValues)
	for i := range v.n {
		// Clone: the caller's strings may alias memory it reuses (a
		// pooled record, a scratch buffer); the series outlives them.
		key[i] = strings.Clone(lv[i])
	}
	v.order = append(v.order, vecEntry[T]{lv: *key, s: s})
	v.tab.Store(t.with(key, h, s))
	return s
}

// Each calls fn for every series in creation order, then for the overflow
// series (with overflow true and zero label values) if anything was routed
// to it. fn must not call v's methods that add series. Each drains
// nothing: a collector drains the Histograms of its pass together first
// (Batch, AddVec), then reads them.
func (v *Vec[T]) Each(fn func(lv *LabelValues, s *T, overflow bool)) {
	v.mu.Lock()
	order := v.order[:len(v.order):len(v.order)]
	v.mu.Unlock()
	for i := range order {
		fn(&order[i].lv, order[i].s, false)
	}
	if v.overflowed.Value() != 0 {
		var none LabelValues
		fn(&none, v.overflow, true)
	}
}

// Len returns the number of series, not counting the overflow series.
func (v *Vec[T]) Len() int { return v.tab.Load().len }

// Overflow returns the overflow series, which With returns (counting the
// lookup) once the cardinality limit is reached.
func (v *Vec[T]) Overflow() *T { return v.overflow }

// Overflowed returns how many lookups were routed to the overflow series
// because the cardinality limit was reached.
func (v *Vec[T]) Overflowed() uint64 { return v.overflowed.Value() }
