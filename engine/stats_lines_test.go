package engine

import (
	"testing"
	"unsafe"
)

// TestCounterStripesOwnTheirLines checks, on a real Engine, that the line
// of each stripe's word of its striped counters holds nothing but the
// counter: a stripe the callers write on every run must not share a line
// with a field another core reads (stats.accepted's first stripe shared
// one with the ring, arena, sid and sink pointers the pipeline loads for
// every run).
func TestCounterStripesOwnTheirLines(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(t.Context())
	for name, c := range map[string]*counter{"stats.accepted": &e.stats.accepted, "pushing": &e.pushing.c} {
		lo := uintptr(unsafe.Pointer(c))
		hi := lo + unsafe.Sizeof(*c)
		for i := range c.s {
			w := uintptr(unsafe.Pointer(&c.s[i]))
			start := w &^ (cacheLine - 1)
			if start < lo || start+cacheLine > hi {
				t.Errorf("%s: stripe %d's word at %#x shares its line [%#x, %#x) with what lies outside the counter [%#x, %#x)",
					name, i, w, start, start+cacheLine, lo, hi)
			}
		}
	}
}
