package encode

import "github.com/valyala/bytebufferpool"

// MaxPooledBufferBytes is the largest capacity a buffer may have to go back
// into the pool. A larger one, grown by one unusually large batch, is left
// to the garbage collector so that it does not pin memory forever. It is
// the default gRPC message limit: no sendable request is larger.
const MaxPooledBufferBytes = 4 << 20

// bufferPool is the package's one piece of state: a pool of request
// buffers shared by every Encoder user, as bytebufferpool's default pool
// is. It is a pool, not configuration, so it breaks no "nothing global but
// constants" promise a caller could observe.
//
// Its buffers are out of the cache when the sink writes a request into
// one: in the loadgen (-workload synthetic -block -rate 0 -logs=false,
// counted in a build of 46f358d) the sink's GetBuffer met 170-260
// distinct buffers of over 64 KiB, each again after 115 other Gets on
// average: about that many requests are queued or in flight at once.
// Tried and not kept: a stack of the 4 buffers (of up to
// 1 MiB) put back last, taken first, ahead of the pool: the mean distance
// stayed 115 (132 distinct), and bench/perfstages' encode stage, 5
// alternating 6 s runs, medians 319 -> 348 ns per span (2 of 5 pairs
// lower, within the host's noise). A buffer in the cache needs fewer
// requests held, not another order, and would gain little: TestCPUTimeCold's
// dram batches written into the next of 256 buffers (about 25 MB) cost
// what they cost into one (3 runs: 227.8, 233.6, 227.6 against 226.4,
// 236.5, 222.6 ns per span): the buffer is written in order, which the
// CPU's own prefetch follows.
//
// In the loadgen itself the pooled buffer does cost: a build of bbe76f8
// whose sink encoded each part three times, the first untimed into a
// scratch buffer (the records now in the cache), then into the pooled
// buffer and into the scratch again, each timed by thread CPU, read
// 247.7/229.8, 256.1/236.1 and 214.4/196.5 ns per span (1 M-span
// averages of three 8 s runs, load average 12): about 18 ns per span,
// the writes into lines that gRPC's writer, usually on the other core,
// read last (it copies each request into its write buffer before the
// buffer comes back). The records as the pipeline hands them cost about
// 25 more (the same build encoding each part into the pooled buffer and
// again at once: 292.5/242.8, 280.8/240.4, 258.9/208.3).
//
// A new buffer costs its first writes: the sink grows one from 0 for
// each request the exporter's queue holds beyond what the pool had (the
// loadgen's 64 MiB queue filling in its first seconds), and the first
// write of each 4 KiB page faults: 2.4 % of the process's CPU in an 8 s
// run (perf record -e cpu-clock -g), under the sink's slices.Grow, which
// Go's pprof shows as memclrNoHeapPointers. Counted in a build, one 15 s
// run made 302 new buffers in its first 4,000 Gets and none in the next
// 21,000. A stack under a mutex that kept idle buffers across GCs, in
// place of the sync.Pool, still grew 133 new ones in a 10 s run. On the
// 2-vCPU AMD EPYC VM such a fault costs about 11 us of thread CPU (a
// first write to each page of a fresh 256 KiB mapping): GrowBuffer makes a
// new buffer rather than growing it, so that only the pages written fault.
// Advising new buffers onto transparent huge pages (MADV_HUGEPAGE, then
// MADV_NOHUGEPAGE) cut the faults further but was not kept: it marks the
// host process's Go heap, a marking Linux cannot take back and Go's
// runtime stopped making (VMA splitting, memory held in huge pages).
var bufferPool bytebufferpool.Pool

// GetBuffer returns an empty buffer from the pool. Append to b.B (for
// example b.B = enc.AppendTraces(b.B, runs)) and return it with PutBuffer
// once the bytes are no longer needed. GetBuffer is safe for concurrent use.
func GetBuffer() *bytebufferpool.ByteBuffer {
	return bufferPool.Get()
}

// PutBuffer resets b and returns it to the pool, unless b is nil or its
// capacity exceeds MaxPooledBufferBytes. The caller must not use b
// afterwards. PutBuffer is safe for concurrent use.
func PutBuffer(b *bytebufferpool.ByteBuffer) {
	if b == nil || cap(b.B) > MaxPooledBufferBytes {
		return
	}
	bufferPool.Put(b) // Put resets b.
}

// GrowBuffer makes b's capacity at least n bytes, keeping its bytes. A new
// array is made, not grown by append: the runtime does not clear fresh
// heap memory it makes, where slices.Grow cleared (and so faulted in) all
// of its capacity. GrowBuffer allocates only when b is too small.
func GrowBuffer(b *bytebufferpool.ByteBuffer, n int) {
	if cap(b.B) >= n {
		return
	}
	nb := make([]byte, len(b.B), n)
	copy(nb, b.B)
	b.B = nb
}
