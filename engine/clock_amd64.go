package engine

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
