//go:build linux

package testkit

import (
	"flag"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"unsafe"
)

var cpuTime = flag.Bool("cputime", false, "TestCPUTime prints the thread CPU time of hot calls, in the benchmark format")

// NeedCPUTime skips t unless the test binary was given -cputime, and
// locks t's goroutine to its thread, for ThreadCPU, until t ends.
func NeedCPUTime(t testing.TB) {
	t.Helper()
	if !*cpuTime {
		t.Skip("run with -cputime")
	}
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
}

// ThreadCPU returns the calling thread's CPU time in nanoseconds
// (CLOCK_THREAD_CPUTIME_ID). On the project's shared machines it varies
// by a few percent where wall-clock benchmarks vary by 50 % or more, as
// the other processes' work is not counted.
func ThreadCPU() int64 {
	const clockThreadCPUTimeID = 3
	var ts syscall.Timespec
	syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

// LeastCPU returns the least thread CPU time, in nanoseconds, that per
// calls of f (given 0 to per-1) take over samples samples. The caller
// locks its goroutine to its thread (runtime.LockOSThread).
func LeastCPU(samples, per int, f func(i int)) int64 {
	least := int64(1 << 62)
	for range samples {
		t0 := ThreadCPU()
		for i := range per {
			f(i)
		}
		least = min(least, ThreadCPU()-t0)
	}
	return least
}

// PrintCPUTime prints, in the benchmark format (for benchstat), the least
// thread CPU time of a call of f over 40 samples of as many calls as take
// about 5 ms, and that time over n, per unit (a call handles n spans,
// say). The caller locks its goroutine to its thread (NeedCPUTime).
func PrintCPUTime(name string, n int, unit string, f func()) {
	per := 0
	for t0 := ThreadCPU(); ThreadCPU()-t0 < 5e6; per++ {
		f()
	}
	ns := float64(LeastCPU(40, per, func(int) { f() })) / float64(per)
	fmt.Printf("BenchmarkCPUTime/%s\t%d\t%.0f ns/op\t%.1f ns/%s\n", name, 40*per, ns, ns/float64(n), unit)
}
