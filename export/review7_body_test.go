package export

import (
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/valyala/bytebufferpool"
)

// TestHTTPBodyNotReusedWhileSent: a receiver that answers before it reads
// the request (here 400 at once, the body left unread) returns the
// response while the transport is still writing the body. The sender must
// not hand the body's memory back (the parts to their pool, the gzip
// buffer to its own) until the transport has closed the body: the next
// batch is written into the same memory. Under -race the write of the next
// batch raced with the transport's read of this one.
func TestHTTPBodyNotReusedWhileSent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
	}))
	t.Cleanup(srv.Close)
	const size = 3 << 20
	data := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	for _, comp := range []string{CompressionNone, CompressionGzip} {
		for _, parts := range []int{1, 3} {
			cfg := testConfig(ProtocolHTTPProtobuf, srv.URL)
			cfg.Compression = comp
			cfg.Concurrency = 1
			e, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for range 4 {
				bufs := make([]*bytebufferpool.ByteBuffer, parts)
				items := make([]int, parts)
				for i := range bufs {
					b := bytebufferpool.Get()
					b.B = append(b.B, data[i*size/parts:(i+1)*size/parts]...)
					bufs[i], items[i] = b, 1
				}
				if !e.EnqueueParts(Traces, bufs, items) {
					t.Fatal("refused")
				}
				flush(t, e)
			}
			shutdown(t, e)
		}
	}
}
