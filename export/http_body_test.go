package export

import (
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/valyala/bytebufferpool"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
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

// TestHTTPBodyRetried: a request refused with 503 is sent again: each
// body the receiver reads decodes with the official types, the first to
// every part of the batch, the retries to each part once, gzip on and off,
// one part and three.
func TestHTTPBodyRetried(t *testing.T) {
	for _, comp := range []string{CompressionNone, CompressionGzip} {
		for _, parts := range []int{1, 3} {
			var mu sync.Mutex
			var calls int
			var got []int
			mux := http.NewServeMux()
			mux.HandleFunc("/v1/traces", func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				calls++
				n := calls
				mu.Unlock()
				body := readBody(r)
				if n == 1 {
					w.WriteHeader(http.StatusServiceUnavailable)
				}
				mu.Lock()
				got = append(got, body)
				mu.Unlock()
			})
			srv := httptest.NewServer(mux)
			cfg := testConfig(ProtocolHTTPProtobuf, srv.URL)
			cfg.Compression = comp
			e, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			bufs := make([]*bytebufferpool.ByteBuffer, parts)
			items := make([]int, parts)
			for i := range bufs {
				bufs[i], items[i] = encodeBatch(t, Traces, fmt.Sprintf("p%d", i), 5), 5
			}
			if !e.EnqueueParts(Traces, bufs, items) {
				t.Fatal("refused")
			}
			flush(t, e)
			shutdown(t, e)
			srv.Close()
			// The retry may send the parts in requests of their own.
			sum := 0
			for _, n := range got[1:] {
				sum += n
				if n <= 0 {
					sum = -1 << 20
				}
			}
			if len(got) < 2 || got[0] != parts || sum != parts {
				t.Errorf("%s, %d parts: bodies held %v resources, want %d then %d in all", comp, parts, got, parts, parts)
			}
		}
	}
}

// readBody decodes a trace request's body and returns its resources (-1
// when it does not decode).
func readBody(r *http.Request) int {
	var rd io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return -1
		}
		rd = zr
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		return -1
	}
	var req coltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		return -1
	}
	for _, rs := range req.ResourceSpans {
		if len(rs.ScopeSpans) != 1 || len(rs.ScopeSpans[0].Spans) != 5 {
			return -1
		}
	}
	return len(req.ResourceSpans)
}
