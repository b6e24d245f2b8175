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
