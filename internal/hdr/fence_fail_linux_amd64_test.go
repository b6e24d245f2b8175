//go:build !race

package hdr

import (
	"sync/atomic"
	"syscall"
	"testing"
)

// TestFenceFailureFallsBack makes every membarrier fail once the package
// has registered, as a kernel short of memory could: collections go on
// without a panic, the fence is off from the first failure, writers take
// the locked add, and every record still reconciles exactly.
func TestFenceFailureFallsBack(t *testing.T) {
	if !fenced {
		t.Skip("the kernel offers no private expedited membarrier: the fence path is not taken")
	}
	call := membarrier
	var calls atomic.Int64
	membarrier = func(cmd uintptr) syscall.Errno {
		calls.Add(1)
		return syscall.ENOMEM
	}
	defer func() {
		membarrier = call
		fenceOffUntil.Store(0)
		setFenced(true)
	}()
	reconcileUnderCollection(t)
	if fenced {
		t.Fatal("fenced after a failed membarrier")
	}
	if fenceOffUntil.Load() == 0 {
		t.Fatal("no wait set after a failed membarrier")
	}
	// Collectors of different histograms may fail at once; none calls
	// again once it has seen the fence off.
	if n := calls.Load(); n < 1 || n > 4 {
		t.Fatalf("%d membarrier calls, want 1 to 4 (the collectors that failed at once)", n)
	}
}
