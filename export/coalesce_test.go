package export

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"

	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"

	"github.com/flowtel/flowtel/internal/otlptest"
)

// heldReceiver returns a receiver (not started) whose first call waits
// until release is called, so that batches queue behind it, and which
// then answers with reply(call).
func heldReceiver(t *testing.T, protocol string, reply func(otlptest.Call) otlptest.Reply) (c *otlptest.Receiver, release func()) {
	gate := make(chan struct{})
	var once sync.Once
	c = newReceiver(t, protocol, func(cl otlptest.Call) otlptest.Reply {
		if cl.N == 0 {
			<-gate
		}
		return reply(cl)
	})
	c.Keep = true
	return c, func() { once.Do(func() { close(gate) }) }
}

// queueBehindFirst enqueues a batch of items spans on e (one worker), waits
// until the receiver c holds its request, then enqueues batches-1 more
// behind it.
func queueBehindFirst(t *testing.T, e *Exporter, c *otlptest.Receiver, prefix string, batches, items int) uint64 {
	t.Helper()
	produced := produce(t, e, Traces, prefix+"-first", 1, items)
	waitFor(t, "the first request at the receiver", func() bool { return c.Calls() == 1 })
	return produced + produce(t, e, Traces, prefix, batches-1, items)
}

// heldGRPC starts a held gRPC receiver (see heldReceiver) answering
// reply, stopped when the test ends, and returns it, its release and the
// configuration of a one-worker exporter for it.
func heldGRPC(t *testing.T, reply func(otlptest.Call) otlptest.Reply) (*otlptest.Receiver, func(), Config) {
	c, release := heldReceiver(t, ProtocolGRPC, reply)
	c.Start()
	t.Cleanup(c.Stop)
	t.Cleanup(release)
	cfg := testConfig(ProtocolGRPC, c.Endpoint())
	cfg.Concurrency = 1
	return c, release, cfg
}

// TestCoalesce: batches of one signal queued behind a request go out
// together in the next, every item counted once by the official decoder,
// each batch counted as exported.
func TestCoalesce(t *testing.T) {
	c, release, cfg := heldGRPC(t, func(otlptest.Call) otlptest.Reply { return otlptest.Reply{} })
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var produced [NumSignals]uint64
	produced[Traces] = queueBehindFirst(t, e, c, "c", 10, 7)
	release()
	flush(t, e)
	wantDelivered(t, e, c, produced)
	st := e.Stats().Signals[Traces]
	if st.Requests != 2 || st.ExportedBatches != 10 {
		t.Errorf("requests %d, exported batches %d; want 2 requests (the first batch, then the 9 queued behind it) and 10 batches", st.Requests, st.ExportedBatches)
	}
	reqs := c.Traces()
	if len(reqs) != 2 || len(reqs[1].ResourceSpans) != 9 {
		t.Fatalf("the receiver decoded %d requests; want 2, the second with the 9 batches' resources", len(reqs))
	}
	shutdown(t, e)
}

// TestCoalesceBound: a request holds at most CoalesceBytes of batches.
func TestCoalesceBound(t *testing.T) {
	c, release, cfg := heldGRPC(t, func(otlptest.Call) otlptest.Reply { return otlptest.Reply{} })
	size := int64(len(encodeBatch(t, Traces, "traces-b-0", 7).B))
	cfg.CoalesceBytes = 3 * size
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var produced [NumSignals]uint64
	produced[Traces] = queueBehindFirst(t, e, c, "b", 10, 7)
	release()
	flush(t, e)
	wantDelivered(t, e, c, produced)
	// The first alone, then 9 in threes.
	if st := e.Stats().Signals[Traces]; st.Requests != 4 {
		t.Errorf("requests %d, want 4", st.Requests)
	}
	for i, r := range c.Traces() {
		if len(r.ResourceSpans) > 3 {
			t.Errorf("request %d holds %d batches, more than CoalesceBytes allows", i, len(r.ResourceSpans))
		}
	}
	shutdown(t, e)
}

// TestCoalescedRetry: a coalesced request that fails with a retryable
// error is sent again whole, and everything is delivered once.
func TestCoalescedRetry(t *testing.T) {
	c, release, cfg := heldGRPC(t, func(cl otlptest.Call) otlptest.Reply {
		if cl.N == 1 {
			return otlptest.Reply{Code: codes.Unavailable, Message: "restarting"}
		}
		return otlptest.Reply{}
	})
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var produced [NumSignals]uint64
	produced[Traces] = queueBehindFirst(t, e, c, "r", 6, 5)
	release()
	flush(t, e)
	wantDelivered(t, e, c, produced)
	// The first, the failed 5, then the 5 again in one request.
	if st := e.Stats().Signals[Traces]; st.Requests != 3 || st.Retried != 1 || st.ExportedBatches != 6 {
		t.Errorf("requests %d retried %d exported batches %d; want 3, 1 and 6", st.Requests, st.Retried, st.ExportedBatches)
	}
	shutdown(t, e)
}

// TestCoalescedPartialSuccess: the receiver's rejections in a coalesced
// request are counted once, against its batches.
func TestCoalescedPartialSuccess(t *testing.T) {
	c, release, cfg := heldGRPC(t, func(cl otlptest.Call) otlptest.Reply {
		if cl.N == 1 {
			return otlptest.Reply{Rejected: 12, Message: "attribute too long"}
		}
		return otlptest.Reply{}
	})
	e, log := newLogged(t, cfg)
	produced := queueBehindFirst(t, e, c, "p", 4, 5)
	release()
	s := flushChecked(t, e)
	st := s.Signals[Traces]
	if st.Rejected != 12 || st.Exported != produced-12 || st.Dropped != 0 || st.ExportedBatches != 4 {
		t.Errorf("%+v; want 12 rejected, %d exported, 4 batches", st, produced-12)
	}
	if got := received(c)[Traces]; got != int64(produced-12) {
		t.Errorf("collector accepted %d, want %d", got, produced-12)
	}
	if errs := log.all(); len(errs) != 1 {
		t.Errorf("error handler got %v, want the one partial success", errs)
	}
	shutdown(t, e)
}

// TestCoalesceSignalBySignal: over both protocols a request takes the
// batches of its signal from among the others queued (logs and traces
// interleaved, as the OTLP sink enqueues them), the others keep their
// order, and everything is delivered once (OTLP/HTTP sent each batch
// alone, 5 trace and 4 log requests).
func TestCoalesceSignalBySignal(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		c, release := heldReceiver(t, protocol, func(otlptest.Call) otlptest.Reply { return otlptest.Reply{} })
		c.Start()
		defer c.Stop()
		defer release()
		cfg := testConfig(protocol, c.Endpoint())
		cfg.Concurrency = 1
		e, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var produced [NumSignals]uint64
		produced[Traces] = produce(t, e, Traces, "first", 1, 3)
		waitFor(t, "the first request at the receiver", func() bool { return c.Calls() == 1 })
		for _, p := range []string{"a", "b"} {
			produced[Logs] += produce(t, e, Logs, p, 2, 3)
			produced[Traces] += produce(t, e, Traces, p, 2, 3)
		}
		release()
		flush(t, e)
		wantDelivered(t, e, c, produced)
		s := e.Stats()
		// The first trace batch; then the 4 log batches (the traces among
		// them kept); then the 4 trace batches.
		want := [2]uint64{2, 1}
		if got := [2]uint64{s.Signals[Traces].Requests, s.Signals[Logs].Requests}; got != want {
			t.Errorf("trace and log requests %v, want %v", got, want)
		}
		shutdown(t, e)
	})
}

// TestCoalesceRandomInterleaving queues random runs of batches of the
// three signals behind a held request, with a bound that lets some
// coalesce and not others, and checks that every batch reaches the
// receiver exactly once, in its own resource, and that the queue drains.
func TestCoalesceRandomInterleaving(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	for round := range 5 {
		c, release := heldReceiver(t, ProtocolGRPC, func(otlptest.Call) otlptest.Reply { return otlptest.Reply{} })
		c.Start()
		size := int64(len(encodeBatch(t, Traces, "traces-x-0", 4).B))
		cfg := testConfig(ProtocolGRPC, c.Endpoint())
		cfg.Concurrency = 1 + round%2
		cfg.CoalesceBytes = int64(1+rng.IntN(6)) * size
		e, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var produced [NumSignals]uint64
		produced[Traces] = produce(t, e, Traces, "first", 1, 4)
		waitFor(t, "the first request at the receiver", func() bool { return c.Calls() == 1 })
		want := map[string]bool{"traces-first-0": true}
		for i := range 40 {
			sig := Signal(rng.IntN(int(NumSignals)))
			id := fmt.Sprintf("%s-x%d", sig, i)
			if !e.Enqueue(sig, encodeBatch(t, sig, id, 4), 4) {
				t.Fatalf("batch %s refused", id)
			}
			produced[sig] += 4
			want[id] = true
		}
		release()
		flush(t, e)
		wantDelivered(t, e, c, produced)
		got := map[string]int{}
		for _, r := range c.Traces() {
			for _, rs := range r.ResourceSpans {
				got[batchIDOf(rs.Resource)]++
			}
		}
		for _, r := range c.Logs() {
			for _, rl := range r.ResourceLogs {
				got[batchIDOf(rl.Resource)]++
			}
		}
		for _, r := range c.Metrics() {
			for _, rm := range r.ResourceMetrics {
				got[batchIDOf(rm.Resource)]++
			}
		}
		for id := range want {
			if got[id] != 1 {
				t.Errorf("round %d: batch %s arrived %d times", round, id, got[id])
			}
		}
		if len(got) != len(want) {
			t.Errorf("round %d: %d batches arrived, %d produced", round, len(got), len(want))
		}
		shutdown(t, e)
		c.Stop()
	}
}

// batchIDOf returns the resource's batch attribute (encodeBatch's id).
func batchIDOf(res *resourcepb.Resource) string {
	for _, kv := range res.GetAttributes() {
		if kv.Key == "batch" {
			return kv.GetValue().GetStringValue()
		}
	}
	return ""
}

// TestCoalesceLockedKeepsOrder takes a batch and coalesces behind it on an
// exporter whose workers are not started, and checks which batches the
// request takes and that the queue keeps the others in seq order (what
// ForceFlush relies on).
func TestCoalesceLockedKeepsOrder(t *testing.T) {
	size := int64(len(encodeBatch(t, Traces, "traces-o-0", 4).B))
	e, err := newExporter(Config{Protocol: ProtocolGRPC, Endpoint: "127.0.0.1:1", Insecure: true, CoalesceBytes: 3 * size})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	// seq:   0 1 2 3 4 5 6 7 8 9
	// sig:   T L T M T T L T L T
	sigs := []Signal{Traces, Logs, Traces, Metrics, Traces, Traces, Logs, Traces, Logs, Traces}
	for i, sig := range sigs {
		if !e.Enqueue(sig, encodeBatch(t, sig, fmt.Sprintf("%s-o-%d", sig, i), 4), 4) {
			t.Fatal("refused")
		}
	}
	e.mu.Lock()
	group := e.coalesceLocked([]entry{e.popLocked()})
	var took, left []uint64
	for _, en := range group {
		took = append(took, en.seq)
	}
	for i := range e.n {
		left = append(left, e.ring[(e.head+i)%len(e.ring)].seq)
	}
	st := e.stats[Traces]
	e.mu.Unlock()
	// The bound is three trace batches: 0, 2 and 4.
	if fmt.Sprint(took) != "[0 2 4]" || fmt.Sprint(left) != "[1 3 5 6 7 8 9]" {
		t.Errorf("took %v, left %v; want [0 2 4] and [1 3 5 6 7 8 9]", took, left)
	}
	if st.QueuedBatches != 3 || st.QueuedItems != 12 {
		t.Errorf("queued trace batches %d, items %d; want 3 and 12", st.QueuedBatches, st.QueuedItems)
	}
	for _, en := range group {
		e.free(en)
	}
}

// TestCoalescedPermanent: a coalesced request refused as one that cannot
// succeed (a receiver refusing one malformed batch, here the batch of 3
// spans among batches of 5) is sent again batch by batch: only the batch
// refused alone is dropped, not the batches that shared its request.
func TestCoalescedPermanent(t *testing.T) {
	c, release, cfg := heldGRPC(t, func(cl otlptest.Call) otlptest.Reply {
		if cl.Items%5 != 0 {
			return otlptest.Reply{Code: codes.InvalidArgument, Message: "malformed"}
		}
		return otlptest.Reply{}
	})
	e, _ := newLogged(t, cfg)
	good := queueBehindFirst(t, e, c, "g", 3, 5)
	bad := produce(t, e, Traces, "bad", 1, 3)
	good += produce(t, e, Traces, "h", 2, 5)
	release()
	st := flushChecked(t, e).Signals[Traces]
	if st.Exported != good || st.DroppedBy[DropNonRetryable] != bad || st.Dropped != bad {
		t.Errorf("%+v; want the %d good spans exported and the %d of the bad batch dropped", st, good, bad)
	}
	if got := received(c)[Traces]; got != int64(good) {
		t.Errorf("collector accepted %d, want %d", got, good)
	}
	shutdown(t, e)
}
