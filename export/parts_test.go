package export

import (
	"context"
	"fmt"
	"testing"

	"github.com/valyala/bytebufferpool"

	"github.com/flowtel/flowtel/internal/otlptest"
	"github.com/flowtel/flowtel/internal/race"
	"github.com/flowtel/flowtel/internal/testkit"
)

// TestEnqueuePartsOneRequest: the parts of a batch queued with EnqueueParts
// while both workers wait leave in one gRPC request (the official decoder
// finds the parts' resources in it), each part counted as a batch; a
// partial success of that request is counted once. Over OTLP/HTTP too (each
// part was a request of its own, 60 where 20 batches were queued).
func TestEnqueuePartsOneRequest(t *testing.T) {
	const batches, parts, items = 20, 3, 7
	for _, protocol := range protocols {
		t.Run(protocol, func(t *testing.T) {
			c := newReceiver(t, protocol, func(cl otlptest.Call) otlptest.Reply {
				if cl.N == 5 {
					return otlptest.Reply{Rejected: 4, Message: "attribute too long"}
				}
				return otlptest.Reply{}
			})
			c.Keep = true
			c.Start()
			t.Cleanup(c.Stop)
			cfg := testConfig(protocol, c.Endpoint())
			cfg.Concurrency = 2
			e, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			bufs := make([]*bytebufferpool.ByteBuffer, parts)
			counts := make([]int, parts)
			for b := range batches {
				for p := range parts {
					bufs[p], counts[p] = encodeBatch(t, Traces, fmt.Sprintf("b%d-p%d", b, p), items), items
				}
				if !e.EnqueueParts(Traces, bufs, counts) {
					t.Fatalf("batch %d refused", b)
				}
				// The workers wait again before the next batch: the
				// case where parts queued one by one went alone.
				flush(t, e)
			}
			s := flushChecked(t, e)
			st := s.Signals[Traces]
			const requests = batches
			const produced = batches * parts * items
			if st.Requests != requests || st.EnqueuedBatches != batches*parts || st.ExportedBatches != batches*parts ||
				st.Enqueued != produced || st.Exported != produced-4 || st.Rejected != 4 || st.Dropped != 0 || st.InFlight != 0 {
				t.Errorf("%+v; want %d requests, %d batches, %d exported, 4 rejected", st, requests, batches*parts, produced-4)
			}
			if got := received(c)[Traces]; got != produced-4 {
				t.Errorf("the receiver accepted %d spans, want %d", got, produced-4)
			}
			reqs := c.Traces()
			if uint64(len(reqs)) != requests {
				t.Fatalf("the receiver decoded %d requests, want %d", len(reqs), requests)
			}
			for i, r := range reqs {
				if len(r.ResourceSpans) != parts {
					t.Errorf("request %d holds %d resources, want %d", i, len(r.ResourceSpans), parts)
				}
			}
			shutdown(t, e)
		})
	}
}

// TestEnqueuePartsFallback: parts that do not all fit the queue now are
// queued one by one as Enqueue queues them (the ones that do not fit
// dropped and counted by reason), as are parts after Shutdown; a part over
// MaxRequestBytes is split as Enqueue splits it.
func TestEnqueuePartsFallback(t *testing.T) {
	e, err := newExporter(Config{QueueBatches: 2, Endpoint: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if e.EnqueueParts(Traces, []*bytebufferpool.ByteBuffer{encodeBatch(t, Traces, "a", 3), encodeBatch(t, Traces, "b", 4), encodeBatch(t, Traces, "c", 5)}, []int{3, 4, 5}) {
		t.Error("three parts reported queued in a queue of two batches")
	}
	st := e.Stats().Signals[Traces]
	if st.Enqueued != 12 || st.EnqueuedBatches != 3 || st.QueuedBatches != 2 || st.QueuedItems != 7 || st.DroppedBy[DropQueueFull] != 5 || st.DroppedBatches != 1 {
		t.Errorf("%+v; want a and b queued, c dropped as queue full", st)
	}
	e.drainForBench()

	// Two parts, the second over MaxRequestBytes.
	small := encodeBatch(t, Traces, "small", 2)
	max := int64(len(small.B)) + 10
	e2, err := newExporter(Config{MaxRequestBytes: max, QueueBatches: 16, Endpoint: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if !e2.EnqueueParts(Traces, []*bytebufferpool.ByteBuffer{small, encodeBatch(t, Traces, "big", 6)}, []int{2, 6}) {
		t.Error("refused")
	}
	st = e2.Stats().Signals[Traces]
	if st.Enqueued != 8 || st.QueuedItems != 8 || st.QueuedBatches < 3 {
		t.Errorf("%+v; want the big part split into requests of at most %d bytes", st, max)
	}
	e2.drainForBench()

	for _, x := range []*Exporter{e, e2} {
		if err := x.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if e.EnqueueParts(Logs, []*bytebufferpool.ByteBuffer{encodeBatch(t, Logs, "x", 1), encodeBatch(t, Logs, "y", 2)}, []int{1, 2}) {
		t.Error("queued after Shutdown")
	}
	if st := e.Stats().Signals[Logs]; st.Enqueued != 3 || st.DroppedBy[DropShutdown] != 3 || st.DroppedBatches != 2 {
		t.Errorf("%+v; want both parts dropped at shutdown", st)
	}
}

// TestEnqueuePartsAllocs: EnqueueParts allocates nothing when it queues
// the parts together.
func TestEnqueuePartsAllocs(t *testing.T) {
	const calls = testkit.AllocRuns + 1
	e, err := newExporter(Config{QueueBatches: 2 * calls, QueueBytes: 1 << 20, Endpoint: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	bufs := pooled(2*calls, 100)
	items := []int{10, 20}
	i := 0
	testkit.WantAllocs(t, 0, func() {
		if !e.EnqueueParts(Traces, bufs[i:i+2], items) {
			t.Fatal("refused")
		}
		i += 2
	})
	if race.Enabled {
		return
	}
	if st := e.Stats().Signals[Traces]; st.Enqueued != 30*calls || st.QueuedBatches != 2*calls {
		t.Errorf("counts after the runs: %+v", st)
	}
}
