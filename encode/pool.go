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
