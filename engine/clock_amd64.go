package engine

// clockNow returns clock.now: the counter's reading through c's line, in
// nanoseconds since base, read under the line's sequence lock: the
// counter's ticks since the line's reading (none when another core's
// counter reads a few behind) times its slope, added to the line's
// monotonic time; with no line (mult 0) it jumps to clockSince. It is
// assembly, so that a clock reading is one call where it was three (now,
// its Go loop, a call to read the counter, whose registers the loop saved
// around it): see clock_amd64.s for the figures.
//
//go:noescape
func clockNow(c *clock) int64

// tsc reads the CPU's time-stamp counter (RDTSC).
func tsc() uint64

// cpuid returns EAX and EDX of CPUID leaf leaf (subleaf 0).
func cpuid(leaf uint32) (a, d uint32)

// invariantTSC reports whether the time-stamp counter ticks at a constant
// rate in every power state and across cores (CPUID 0x80000007 EDX bit 8),
// the condition for reading time from it.
func invariantTSC() bool {
	if max, _ := cpuid(0x80000000); max < 0x80000007 {
		return false
	}
	_, d := cpuid(0x80000007)
	return d&(1<<8) != 0
}
