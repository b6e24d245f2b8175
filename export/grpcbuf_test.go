package export

import (
	"context"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/bytebufferpool"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// bufServer is a gRPC server whose handler answers each call with what
// answer returns for the call's number (from 0), before it reads the
// request: nil is an empty response and OK. Its windows are large unless
// small is set, so that the client's writer is still sending the request
// when the answer comes; small windows stop the writer after 64 KiB.
func bufServer(t *testing.T, small bool, answer func(ctx context.Context, call int64) error) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	opts := []grpc.ServerOption{grpc.UnknownServiceHandler(func(_ any, s grpc.ServerStream) error {
		if err := answer(s.Context(), calls.Add(1)-1); err != nil {
			return err
		}
		return s.SendMsg(&coltrace.ExportTraceServiceResponse{})
	})}
	if !small {
		opts = append(opts, grpc.InitialWindowSize(64<<20), grpc.InitialConnWindowSize(64<<20))
	}
	srv := grpc.NewServer(opts...)
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.Serve(ln) })
	t.Cleanup(func() { srv.Stop(); wg.Wait() })
	return ln.Addr().String()
}

// TestGRPCBufferNotReusedWhileSent: gRPC's Invoke returns when the
// receiver answers, which a receiver may do before it has read the whole
// request (here at once, OK or not), while gRPC's writer goroutine is
// still copying the request's frames out of the batches' buffers. A
// buffer goes back to its pool (Config.Release, where the next batch is
// encoded) only once gRPC has freed it: here Release overwrites it, as the
// next batch would, and under -race that write raced with gRPC's read of
// the frames not yet written before the fix (the exporter released a
// buffer when Invoke returned OK). A buffer comes back at most once, the
// failed ones too (they were left to the garbage collector), and one sent
// again while gRPC still held it from the attempt before.
func TestGRPCBufferNotReusedWhileSent(t *testing.T) {
	const size = 3 << 20
	data := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	next := make([]byte, size)
	for _, c := range []struct {
		name   string
		small  bool
		retry  bool
		answer func(ctx context.Context, call int64) error
	}{
		{"ok", false, false, func(context.Context, int64) error { return nil }},
		{"refused", false, false, func(context.Context, int64) error {
			return status.Error(codes.InvalidArgument, "answered before reading")
		}},
		{"retried", false, true, func(_ context.Context, call int64) error {
			if call%2 == 0 {
				return status.Error(codes.Unavailable, "answered before reading")
			}
			return nil
		}},
		// The writer waits for a window the server never gives; the
		// attempt's deadline ends the call.
		{"deadline", true, false, func(ctx context.Context, _ int64) error {
			<-ctx.Done()
			return ctx.Err()
		}},
	} {
		for _, parts := range []int{1, 3} {
			addr := bufServer(t, c.small, c.answer)
			var released atomic.Int64
			cfg := testConfig(ProtocolGRPC, "http://"+addr)
			cfg.Concurrency = 1
			cfg.Retry.Disabled = !c.retry
			if c.small {
				cfg.Timeout = 200 * time.Millisecond
			}
			var mu sync.Mutex
			seen := map[*bytebufferpool.ByteBuffer]bool{}
			cfg.Release = func(b *bytebufferpool.ByteBuffer) {
				copy(b.B, next) // the next batch
				released.Add(1)
				mu.Lock()
				defer mu.Unlock()
				if seen[b] {
					t.Errorf("%s: a buffer released twice", c.name)
				}
				seen[b] = true
			}
			e, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			const batches = 6
			for range batches {
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
			if st := e.Stats().Signals[Traces]; c.retry && st.Retried == 0 {
				t.Errorf("%s parts=%d: no batch was sent again: %+v", c.name, parts, st)
			}
			shutdown(t, e)
			// gRPC frees what it was given, except a request whose
			// stream ended between the check and the queueing of its
			// data (preprocessData drops it): that one goes to the
			// garbage collector. With no early answer, every one.
			got, want := released.Load(), batches*int64(parts)
			if got > want || got == 0 || c.small && got != want {
				t.Errorf("%s parts=%d: %d buffers released after Shutdown, want %d", c.name, parts, got, want)
			}
		}
	}
}
