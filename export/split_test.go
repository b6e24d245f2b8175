package export

import (
	"context"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/flowtel/flowtel/internal/otlptest"
	"github.com/valyala/bytebufferpool"
	"google.golang.org/protobuf/proto"
)

// TestSplitRequest splits requests of every signal at several limits and
// checks with the official decoder that every part fits, keeps its items'
// resource, scope and metric, and that together they hold every item but
// the ones that alone exceed the limit.
func TestSplitRequest(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for sig := Signal(0); sig < NumSignals; sig++ {
		for _, max := range []int{300, 1000, 4000, 1 << 20} {
			req, want := bigRequest(sig, rng, 400)
			body, err := proto.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			parts, items := 0, 0
			tooLarge, ok := splitRequest(sig, body, max, func(b []byte, n int) {
				if len(b) > max {
					t.Errorf("%s max %d: a part of %d bytes", sig, max, len(b))
				}
				names := itemNames(t, sig, b)
				if len(names) != n {
					t.Errorf("%s max %d: a part said to hold %d items holds %d", sig, max, n, len(names))
				}
				got = append(got, names...)
				parts++
				items += n
			})
			if !ok {
				t.Fatalf("%s: not split", sig)
			}
			if items+tooLarge != len(want) || (max >= 1000 && tooLarge != 0) || (max == 1<<20 && parts != 1) {
				t.Errorf("%s max %d: %d parts, %d items, %d too large, of %d", sig, max, parts, items, tooLarge, len(want))
			}
			// Every item kept is one of the request's, in order.
			sort.Strings(want)
			for _, n := range got {
				if i := sort.SearchStrings(want, n); i == len(want) || want[i] != n {
					t.Errorf("%s: item %q not in the request", sig, n)
				}
			}
			if len(got) != items {
				t.Errorf("%s: %d names, %d items", sig, len(got), items)
			}
		}
	}
	if _, ok := splitRequest(Traces, []byte{0x0a, 0x80}, 100, func([]byte, int) { t.Error("emitted") }); ok {
		t.Error("a malformed request was split")
	}
}

// TestOversizeBatchSplit: batches of about 8 MiB go to a real gRPC server with
// gRPC's default 4 MiB limit: the exporter splits them, and every item
// arrives.
func TestOversizeBatchSplit(t *testing.T) {
	r := otlptest.Start(t, ProtocolGRPC, nil)
	cfg := testConfig(ProtocolGRPC, r.Endpoint())
	cfg.Timeout = time.Minute // a liveness guard: two 4 MiB requests took 10 s under -race on a loaded machine
	e, log := newLogged(t, cfg)
	rng := rand.New(rand.NewPCG(5, 6))
	var produced [NumSignals]uint64
	for sig := Signal(0); sig < NumSignals; sig++ {
		req, names := bigRequest(sig, rng, 64<<10)
		body, _ := proto.Marshal(req)
		if len(body) < 4<<20 {
			t.Fatalf("%s request of %d bytes: want over 4 MiB", sig, len(body))
		}
		buf := bytebufferpool.Get()
		buf.B = append(buf.B[:0], body...)
		if !e.Enqueue(sig, buf, len(names)) {
			t.Errorf("%s: refused", sig)
		}
		produced[sig] = uint64(len(names))
	}
	s := flushChecked(t, e)
	got := received(r)
	for sig := Signal(0); sig < NumSignals; sig++ {
		st := s.Signals[sig]
		if st.Exported != produced[sig] || got[sig] != int64(produced[sig]) || st.ExportedBatches < 2 {
			t.Errorf("%s: %+v, received %d, want %d exported in 2 or more requests", sig, st, got[sig], produced[sig])
		}
	}
	if errs := log.all(); len(errs) != 0 {
		t.Errorf("errors: %v", errs)
	}
	shutdown(t, e)
}

// TestSplitCountMismatch: when the caller's item count differs from the
// items in an oversize batch, every item is still sent and the accounting
// identity holds in the caller's count.
func TestSplitCountMismatch(t *testing.T) {
	r := otlptest.Start(t, ProtocolHTTPProtobuf, nil)
	cfg := testConfig(ProtocolHTTPProtobuf, r.Endpoint())
	cfg.MaxRequestBytes = 4000
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	req, names := bigRequest(Metrics, rng, 100)
	body, _ := proto.Marshal(req)
	var said uint64
	for _, delta := range []int{-7, +7} {
		buf := bytebufferpool.Get()
		buf.B = append(buf.B[:0], body...)
		e.Enqueue(Metrics, buf, len(names)+delta)
		said += uint64(len(names) + delta)
	}
	s := flushChecked(t, e)
	if st := s.Signals[Metrics]; st.Enqueued != said || st.Exported != said || received(r)[Metrics] != 2*int64(len(names)) {
		t.Errorf("%+v, received %d: want %d exported and %d received", st, received(r)[Metrics], said, 2*len(names))
	}
	shutdown(t, e)
}

// TestEnqueueContextSplitAccounting: a batch larger than MaxRequestBytes
// that EnqueueContext splits, into a full queue whose receiver never
// answers, under Block with an hour's BlockTimeout: the wait ends with the
// context, every part not queued is dropped as a block timeout, and the
// accounting identity holds in the caller's count, as with Enqueue.
func TestEnqueueContextSplitAccounting(t *testing.T) {
	cfg := testConfig(ProtocolGRPC, "http://"+otlptest.ReserveAddr(t))
	cfg.MaxRequestBytes = 4000
	cfg.QueueBytes = 8000
	cfg.Block = true
	cfg.BlockTimeout = time.Hour
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req, names := bigRequest(Metrics, rand.New(rand.NewPCG(1, 2)), 100)
	body, _ := proto.Marshal(req)
	buf := bytebufferpool.Get()
	buf.B = append(buf.B[:0], body...)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan bool, 1)
	go func() { done <- e.EnqueueContext(ctx, Metrics, buf, len(names)) }()
	select {
	case ok := <-done:
		if ok {
			t.Error("a batch of more than the queue holds accepted whole")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("EnqueueContext did not return when its context ended")
	}
	st := e.Stats().Signals[Metrics]
	if st.Enqueued != uint64(len(names)) || st.DroppedBy[DropBlockTimeout] == 0 || st.Dropped != st.DroppedBy[DropBlockTimeout] {
		t.Errorf("stats %+v: want the %d points given, the parts not queued dropped as block timeouts", st, len(names))
	}
	sctx, scancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer scancel()
	_ = e.Shutdown(sctx)
	checkIdentity(t, e.Stats())
}
