package ringbuf

import "unsafe"

func offsetSlots[T any](r *ring[T]) uintptr   { return unsafe.Offsetof(r.slots) }
func offsetTail[T any](r *ring[T]) uintptr    { return unsafe.Offsetof(r.tail) }
func offsetHead[T any](r *ring[T]) uintptr    { return unsafe.Offsetof(r.head) }
func offsetDropped[T any](r *ring[T]) uintptr { return unsafe.Offsetof(r.dropped) }
