package export

import (
	"sync"
	"testing"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/flowtel/flowtel/internal/otlptest"
)

// TestFailedBufferNotReleased checks that a buffer an attempt timed out
// with is never handed back to Config.Release over HTTP (the transport may
// still be reading it), and once over gRPC, by Shutdown, while a buffer
// sent at the first attempt is, once.
func TestFailedBufferNotReleased(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		c := newReceiver(t, protocol, func(cl otlptest.Call) otlptest.Reply {
			if cl.Attempt == 0 && cl.Batch[len(cl.Batch)-1] == 'w' {
				return otlptest.Reply{Sleep: time.Minute} // until the attempt's Timeout cancels it
			}
			return otlptest.Reply{}
		})
		c.Start()
		defer c.Stop()
		var mu sync.Mutex
		released := map[*bytebufferpool.ByteBuffer]int{}
		cfg := oneBatchPerRequest(testConfig(protocol, c.Endpoint()))
		// Long enough for a fast attempt on a loaded machine (100 ms timed
		// fast ones out under go test -race with a CPU burner).
		cfg.Timeout = 2 * time.Second
		cfg.Release = func(b *bytebufferpool.ByteBuffer) {
			mu.Lock()
			released[b]++
			mu.Unlock()
		}
		e, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var slow, fast []*bytebufferpool.ByteBuffer
		for i, name := range []string{"a-slow", "b-fast", "c-slow", "d-fast"} {
			b := encodeBatch(t, Traces, name, 3)
			if name[len(name)-1] == 'w' {
				slow = append(slow, b)
			} else {
				fast = append(fast, b)
			}
			if !e.Enqueue(Traces, b, 3) {
				t.Fatalf("batch %d refused", i)
			}
		}
		flush(t, e)
		// A timed-out attempt spent its batch's Timeout: the slow
		// batches are dropped, the fast ones delivered.
		if st := e.Stats().Signals[Traces]; st.Exported != 6 || st.DroppedBy[DropRetryExhausted] != 6 || st.InFlight != 0 {
			t.Errorf("%+v, want 6 exported and 6 retry_exhausted", st)
		}
		shutdown(t, e)
		mu.Lock()
		defer mu.Unlock()
		// Over gRPC it comes back once gRPC has freed it (grpc.go's lease).
		want := 0
		if protocol == ProtocolGRPC {
			want = 1
		}
		for _, b := range slow {
			if released[b] != want {
				t.Errorf("a buffer whose first attempt timed out was released %d times, want %d", released[b], want)
			}
		}
		for _, b := range fast {
			if released[b] != 1 {
				t.Errorf("a buffer sent at once was released %d times, want 1", released[b])
			}
		}
	})
}
