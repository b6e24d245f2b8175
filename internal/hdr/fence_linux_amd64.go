//go:build !race

package hdr

import (
	"fmt"
	"syscall"
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
	if _, _, e := syscall.RawSyscall(sysMembarrier, membarrierRegisterPrivExpedited, 0, 0); e != 0 {
		return false
	}
	_, _, e := syscall.RawSyscall(sysMembarrier, membarrierPrivateExpedited, 0, 0)
	return e == 0
}

// fence, with fenced, makes every running thread of the process execute
// a full memory barrier before it returns; threads not running have had
// a context switch, which is one. It is the collector's half of the
// asymmetric fence (about 1.3 µs on the 2-vCPU VMs).
func fence() {
	if !fenced {
		return
	}
	// Registered at init and tried once: the kernel fails the command
	// only for a process that is not registered.
	if _, _, e := syscall.RawSyscall(sysMembarrier, membarrierPrivateExpedited, 0, 0); e != 0 {
		panic(fmt.Sprintf("hdr: membarrier failed after registration: %v", e))
	}
}

// setFenced sets fenced and returns its old value, for tests that force
// the atomic path. No record may be in flight.
func setFenced(on bool) bool {
	old := fenced
	fenced = on && membarrierWorks()
	return old
}
