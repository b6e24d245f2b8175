package testkit

import (
	"runtime"
	"syscall"
	"testing"
	"unsafe"
)

// SetAffinity binds the calling thread to the CPUs of mask (bit i for CPU
// i) and returns the mask it had, or false when either call failed. Lock
// the goroutine to its thread first (runtime.LockOSThread), or the bound
// thread may run another goroutine.
func SetAffinity(mask uint64) (uint64, bool) {
	var old uint64
	if _, _, e := syscall.RawSyscall(syscall.SYS_SCHED_GETAFFINITY, 0, 8, uintptr(unsafe.Pointer(&old))); e != 0 {
		return 0, false
	}
	if _, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, 0, 8, uintptr(unsafe.Pointer(&mask))); e != 0 {
		return 0, false
	}
	return old, true
}

// NeedTwoCPUs is NeedCPUTime for a test that puts work on two CPUs: it
// skips t on a machine of one CPU or where the thread cannot be bound,
// and binds t's thread to CPU 0 until t ends, leaving CPU 1 to the
// thread the test binds there (SetAffinity(2)).
func NeedTwoCPUs(t testing.TB) {
	t.Helper()
	NeedCPUTime(t)
	if runtime.NumCPU() < 2 {
		t.Skip("needs 2 CPUs")
	}
	old, ok := SetAffinity(1)
	if !ok {
		t.Skip("sched_setaffinity failed")
	}
	t.Cleanup(func() { SetAffinity(old) })
}
