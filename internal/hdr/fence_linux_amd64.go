//go:build !race

package hdr

import (
	"sync/atomic"
	"syscall"
	"time"
)

// membarrier(2) on linux/amd64 and the commands flowtel uses.
const (
	sysMembarrier                   = 324
	membarrierPrivateExpedited      = 1 << 3
	membarrierRegisterPrivExpedited = 1 << 4
)

// fenced is set at init if the kernel lets this process use
// MEMBARRIER_CMD_PRIVATE_EXPEDITED: writers then mark records with plain
// stores and collectors call fence after swapping buffers (see doc.go).
// It is never changed afterwards, except by tests with no record in
// flight (setFenced), so the writer's branch on it is always predicted.
var fenced = membarrierWorks()

// membarrierWorks registers the process for private expedited
// membarriers and makes one. Kernels before 4.14, seccomp filters and
// sandboxes such as gVisor may refuse either.
func membarrierWorks() bool {
	return membarrier(membarrierRegisterPrivExpedited) == 0 && membarrier(membarrierPrivateExpedited) == 0
}

// fence, with fenced, makes every running thread of the process execute
// a full memory barrier before it returns; threads not running have had
// a context switch, which is one. It is the collector's half of the
// asymmetric fence (about 1.3 µs on the 2-vCPU VMs).
//
// The kernel fails the command only for a process that is not registered
// (and, in theory, when it cannot allocate a CPU mask). Should it fail,
// fence never panics in the process that links flowtel: it turns the
// fence off for good, so that writers take the locked add from their next
// record, and every collector waits until a millisecond after the
// failure, in which the plain store that began a
// record already under way leaves its core's store buffer (a store buffer
// drains in nanoseconds; a thread switched out has had a context switch).
func fence() {
	if fenced {
		if membarrier(membarrierPrivateExpedited) == 0 {
			fences.Add(1)
			return
		}
		// Every collector, not only this one, waits out the millisecond:
		// one that finds the fence off just after must not trust the
		// sequence of a record begun with a plain store either.
		fenceOffUntil.CompareAndSwap(0, time.Now().Add(time.Millisecond).UnixNano())
		fenced = false
	}
	if u := fenceOffUntil.Load(); u != 0 {
		if d := time.Until(time.Unix(0, u)); d > 0 {
			time.Sleep(d)
		}
	}
}

// fenceOffUntil is, once a membarrier has failed, the time (Unix
// nanoseconds) until which collectors wait before they read a sequence.
var fenceOffUntil atomic.Int64

// membarrier makes the membarrier(2) call cmd; a variable so that a test
// can make it fail.
var membarrier = func(cmd uintptr) syscall.Errno {
	_, _, e := syscall.RawSyscall(sysMembarrier, cmd, 0, 0)
	return e
}

// setFenced sets fenced and returns its old value, for tests that force
// the atomic path. No record may be in flight.
func setFenced(on bool) bool {
	old := fenced
	fenced = on && membarrierWorks()
	return old
}
