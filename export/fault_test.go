package export

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/bytebufferpool"
	"google.golang.org/grpc/codes"

	"github.com/flowtel/flowtel/internal/otlptest"
)

var protocols = []string{ProtocolGRPC, ProtocolHTTPProtobuf}

func forEachProtocol(t *testing.T, f func(t *testing.T, protocol string)) {
	for _, p := range protocols {
		t.Run(strings.ReplaceAll(p, "/", "_"), func(t *testing.T) { f(t, p) })
	}
}

// produce enqueues batches of items items each and returns the items
// offered. It fails the test if a batch is refused.
func produce(t *testing.T, e *Exporter, sig Signal, prefix string, batches, items int) uint64 {
	t.Helper()
	for i := 0; i < batches; i++ {
		if !e.Enqueue(sig, encodeBatch(t, sig, fmt.Sprintf("%s-%s-%d", sig, prefix, i), items), items) {
			t.Fatalf("batch %d of %s refused: %+v", i, sig, e.Stats().Signals[sig])
		}
	}
	return uint64(batches * items)
}

// wantDelivered asserts that everything produced was exported, nothing was
// dropped, and the collector accepted exactly that many items.
func wantDelivered(t *testing.T, e *Exporter, c *otlptest.Receiver, produced [NumSignals]uint64) {
	t.Helper()
	s := e.Stats()
	checkIdentity(t, s)
	got := received(c)
	for sig := Signal(0); sig < NumSignals; sig++ {
		st := s.Signals[sig]
		if st.Enqueued != produced[sig] || st.Exported != produced[sig] || st.Dropped != 0 || st.InFlight != 0 {
			t.Errorf("%s: produced %d, stats %+v", sig, produced[sig], st)
		}
		if got[sig] != int64(produced[sig]) {
			t.Errorf("%s: collector accepted %d items, produced %d", sig, got[sig], produced[sig])
		}
	}
}

func TestExportAllSignals(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		for _, comp := range []string{"", CompressionGzip} {
			t.Run("compression="+comp, func(t *testing.T) {
				c := newReceiver(t, protocol, nil)
				c.Start()
				defer c.Stop()
				cfg := testConfig(protocol, c.Endpoint())
				cfg.Compression = comp
				cfg.CoalesceBytes = -1 // each batch its own request, as the counts below assume
				cfg.Headers = map[string]string{"X-Token": "secret-token"}
				e, err := New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				var produced [NumSignals]uint64
				for sig := Signal(0); sig < NumSignals; sig++ {
					produced[sig] = produce(t, e, sig, "a", 20, 17)
				}
				flush(t, e)
				wantDelivered(t, e, c, produced)
				if got := c.Header().Get("X-Token"); got != "secret-token" {
					t.Errorf("collector saw x-token %q", got)
				}
				shutdown(t, e)
				if s := e.Stats(); s.Signals[Traces].Requests != 20 || s.Signals[Traces].Retried != 0 {
					t.Errorf("requests %d retried %d, want 20 and 0", s.Signals[Traces].Requests, s.Signals[Traces].Retried)
				}
			})
		}
	})
}

func TestCollectorDownAtStartThenUp(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		c := newReceiver(t, protocol, nil)
		c.Addr = otlptest.ReserveAddr(t)
		e, err := New(testConfig(protocol, c.Endpoint()))
		if err != nil {
			t.Fatal(err)
		}
		var produced [NumSignals]uint64
		produced[Traces] = produce(t, e, Traces, "down", 30, 10)
		waitFor(t, "failed attempts", func() bool { return e.Stats().Signals[Traces].Retried >= 2 })
		c.Start()
		defer c.Stop()
		flush(t, e)
		wantDelivered(t, e, c, produced)
		shutdown(t, e)
	})
}

func TestCollectorKilledMidStreamAndRestarted(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		// The first incarnation accepts 4 requests, then holds every
		// request until it is killed: the kill is always mid-request.
		var hang atomic.Bool
		hang.Store(true)
		c := newReceiver(t, protocol, func(cl otlptest.Call) otlptest.Reply {
			if hang.Load() && cl.N >= 4 {
				return otlptest.Reply{Sleep: time.Minute}
			}
			return otlptest.Reply{}
		})
		c.Start()
		cfg := testConfig(protocol, c.Endpoint())
		cfg.CoalesceBytes = -1 // each batch its own request, as the counts below assume
		e, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var produced [NumSignals]uint64
		produced[Traces] = produce(t, e, Traces, "before", 20, 10)
		waitFor(t, "requests held by the collector", func() bool {
			return c.Calls() >= 6
		})
		if st := e.Stats().Signals[Traces]; st.InFlight == 0 || st.Exported != 40 {
			t.Fatalf("before the kill: %+v, want 40 exported and the rest in flight", st)
		}
		c.Stop()
		produced[Traces] += produce(t, e, Traces, "during", 20, 10)
		produced[Logs] = produce(t, e, Logs, "during", 10, 5)
		waitFor(t, "failed attempts", func() bool { return e.Stats().Signals[Traces].Retried >= 2 })
		hang.Store(false)
		c.Start()
		defer c.Stop()
		produced[Traces] += produce(t, e, Traces, "after", 20, 10)
		flush(t, e)
		wantDelivered(t, e, c, produced)
		shutdown(t, e)
	})
}

func TestUnavailableForSeconds(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		until := time.Now().Add(2 * time.Second)
		c := newReceiver(t, protocol, func(otlptest.Call) otlptest.Reply {
			if time.Now().Before(until) {
				return otlptest.Reply{Code: codes.Unavailable, Message: "warming up"}
			}
			return otlptest.Reply{}
		})
		c.Start()
		defer c.Stop()
		e, err := New(testConfig(protocol, c.Endpoint()))
		if err != nil {
			t.Fatal(err)
		}
		var produced [NumSignals]uint64
		produced[Metrics] = produce(t, e, Metrics, "u", 25, 8)
		flush(t, e)
		wantDelivered(t, e, c, produced)
		if e.Stats().Signals[Metrics].Retried == 0 {
			t.Error("no retries counted")
		}
		shutdown(t, e)
	})
}

func TestResourceExhaustedGRPC(t *testing.T) {
	t.Run("without RetryInfo", func(t *testing.T) {
		c := newReceiver(t, ProtocolGRPC, func(otlptest.Call) otlptest.Reply {
			return otlptest.Reply{Code: codes.ResourceExhausted, Message: "full"}
		})
		c.Start()
		defer c.Stop()
		e, log := newLogged(t, oneBatchPerRequest(testConfig(ProtocolGRPC, c.Endpoint())))
		produced := produce(t, e, Traces, "re", 5, 4)
		s := flushChecked(t, e)
		st := s.Signals[Traces]
		if st.DroppedBy[DropNonRetryable] != produced || st.Requests != 5 || st.Retried != 0 {
			t.Errorf("stats %+v, want %d dropped non_retryable after 5 requests", st, produced)
		}
		if len(log.all()) != 1 {
			t.Errorf("error handler called %d times, want once for the one refusal", len(log.all()))
		}
		shutdown(t, e)
	})
	t.Run("with RetryInfo", func(t *testing.T) {
		const delay = 300 * time.Millisecond
		c := newReceiver(t, ProtocolGRPC, func(cl otlptest.Call) otlptest.Reply {
			if cl.Attempt == 0 {
				return otlptest.Reply{Code: codes.ResourceExhausted, Message: "slow down", RetryDelay: delay}
			}
			return otlptest.Reply{}
		})
		c.Start()
		defer c.Stop()
		e, err := New(oneBatchPerRequest(testConfig(ProtocolGRPC, c.Endpoint())))
		if err != nil {
			t.Fatal(err)
		}
		var produced [NumSignals]uint64
		produced[Traces] = produce(t, e, Traces, "ri", 4, 4)
		flush(t, e)
		wantDelivered(t, e, c, produced)
		for i := 0; i < 4; i++ {
			a := c.Arrivals(fmt.Sprintf("traces-ri-%d", i))
			if len(a) != 2 {
				t.Fatalf("batch %d arrived %d times, want 2", i, len(a))
			}
			if gap := a[1].Sub(a[0]); gap < delay {
				t.Errorf("batch %d retried after %v, before the RetryInfo delay %v", i, gap, delay)
			}
		}
		shutdown(t, e)
	})
}

func TestHTTP429RetryAfter(t *testing.T) {
	t.Run("honoured", func(t *testing.T) {
		c := newReceiver(t, ProtocolHTTPProtobuf, func(cl otlptest.Call) otlptest.Reply {
			if cl.Attempt == 0 {
				return otlptest.Reply{Code: codes.ResourceExhausted, RetryAfter: "1"}
			}
			return otlptest.Reply{}
		})
		c.Start()
		defer c.Stop()
		e, err := New(oneBatchPerRequest(testConfig(ProtocolHTTPProtobuf, c.Endpoint())))
		if err != nil {
			t.Fatal(err)
		}
		var produced [NumSignals]uint64
		produced[Logs] = produce(t, e, Logs, "ra", 2, 3)
		flush(t, e)
		wantDelivered(t, e, c, produced)
		for i := 0; i < 2; i++ {
			a := c.Arrivals(fmt.Sprintf("logs-ra-%d", i))
			if len(a) != 2 || a[1].Sub(a[0]) < time.Second {
				t.Errorf("batch %d arrivals %v: want a retry no sooner than Retry-After 1 s", i, a)
			}
		}
		shutdown(t, e)
	})
	t.Run("endless", func(t *testing.T) {
		c := newReceiver(t, ProtocolHTTPProtobuf, func(otlptest.Call) otlptest.Reply {
			return otlptest.Reply{Code: codes.ResourceExhausted, RetryAfter: "999999999999"}
		})
		c.Start()
		defer c.Stop()
		e, err := New(oneBatchPerRequest(testConfig(ProtocolHTTPProtobuf, c.Endpoint())))
		if err != nil {
			t.Fatal(err)
		}
		produced := produce(t, e, Traces, "endless", 3, 3)
		flush(t, e) // must return: the delay exceeds MaxElapsedTime, so the batches are dropped at once
		st := e.Stats().Signals[Traces]
		// One first attempt per batch: a transport error on a loaded host
		// (CI's race run saw one) may add a retry before the 429.
		if st.DroppedBy[DropRetryExhausted] != produced || st.Requests-st.Retried != 3 {
			t.Errorf("stats %+v: want %d dropped retry_exhausted after 3 requests", st, produced)
		}
		shutdown(t, e)
	})
}

// TestPartialSuccess: the items a partial success rejects are counted
// (Rejected), none retried, and each message of the receiver is reported
// once, not once a batch (12 reports for 4 batches of 3 signals before).
func TestPartialSuccess(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		c := newReceiver(t, protocol, func(cl otlptest.Call) otlptest.Reply {
			if cl.Signal == otlptest.Logs && cl.N%2 == 1 {
				return otlptest.Reply{Rejected: 3, Message: "body too long"}
			}
			return otlptest.Reply{Rejected: 3, Message: "attribute too long"}
		})
		c.Start()
		defer c.Stop()
		e, log := newLogged(t, oneBatchPerRequest(testConfig(protocol, c.Endpoint())))
		for sig := Signal(0); sig < NumSignals; sig++ {
			produce(t, e, sig, "p", 4, 10)
		}
		s := flushChecked(t, e)
		got := received(c)
		for sig := Signal(0); sig < NumSignals; sig++ {
			st := s.Signals[sig]
			if st.Rejected != 12 || st.Exported != 28 || st.Dropped != 0 {
				t.Errorf("%s: %+v, want 12 rejected and 28 exported", sig, st)
			}
			if got[sig] != 28 {
				t.Errorf("%s: collector accepted %d", sig, got[sig])
			}
		}
		var msgs []string
		for _, err := range log.all() {
			msgs = append(msgs, err.Error())
		}
		slices.Sort(msgs)
		want := []string{`export logs: partial success: 3 rejected: "attribute too long" (reported once; Stats counts every item)`,
			`export logs: partial success: 3 rejected: "body too long" (reported once; Stats counts every item)`,
			`export metrics: partial success: 3 rejected: "attribute too long" (reported once; Stats counts every item)`,
			`export traces: partial success: 3 rejected: "attribute too long" (reported once; Stats counts every item)`}
		if !slices.Equal(msgs, want) {
			t.Errorf("error handler got %q, want %q", msgs, want)
		}
		shutdown(t, e)
	})
}

func TestNonRetryable(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		c := newReceiver(t, protocol, func(otlptest.Call) otlptest.Reply {
			return otlptest.Reply{Code: codes.InvalidArgument, Message: "bad span"}
		})
		c.Start()
		defer c.Stop()
		var log errorLog
		cfg := testConfig(protocol, c.Endpoint())
		cfg.ErrorHandler = log.handle
		cfg.Headers = map[string]string{"X-Token": "hunter2"}
		cfg.CoalesceBytes = -1 // each batch its own request, as the counts below assume
		e, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		produced := produce(t, e, Traces, "bad", 7, 3)
		s := flushChecked(t, e)
		st := s.Signals[Traces]
		if st.DroppedBy[DropNonRetryable] != produced || st.Requests != 7 || st.Retried != 0 {
			t.Errorf("stats %+v, want %d non_retryable after 7 requests", st, produced)
		}
		errs := log.all()
		if len(errs) != 1 {
			t.Fatalf("error handler called %d times, want once for the one refusal", len(errs))
		}
		for _, err := range errs {
			if !strings.Contains(err.Error(), "bad span") || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q: want the receiver's message and no header value", err)
			}
		}
		shutdown(t, e)
	})
}

// TestPermanentReportedOnce: a receiver that refuses every batch (gRPC
// UNAUTHENTICATED, HTTP 401) with the same message is reported to the
// ErrorHandler once per signal, status and message, not once a batch (12
// reports for 4 batches of 3 signals before, 13 with the second message),
// and every item of every batch is counted dropped.
func TestPermanentReportedOnce(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		c := newReceiver(t, protocol, func(cl otlptest.Call) otlptest.Reply {
			if cl.Signal == otlptest.Logs && (strings.HasSuffix(cl.Batch, "-1") || strings.HasSuffix(cl.Batch, "-3")) {
				return otlptest.Reply{Code: codes.Unauthenticated, Message: "token expired"}
			}
			return otlptest.Reply{Code: codes.Unauthenticated, Message: "bad token"}
		})
		c.Start()
		defer c.Stop()
		e, log := newLogged(t, oneBatchPerRequest(testConfig(protocol, c.Endpoint())))
		var produced [NumSignals]uint64
		for sig := Signal(0); sig < NumSignals; sig++ {
			produced[sig] = produce(t, e, sig, "p", 4, 10)
		}
		s := flushChecked(t, e)
		for sig := Signal(0); sig < NumSignals; sig++ {
			if st := s.Signals[sig]; st.DroppedBy[DropNonRetryable] != produced[sig] || st.Requests != 4 || st.Exported != 0 {
				t.Errorf("%s: %+v, want %d non_retryable after 4 requests", sig, st, produced[sig])
			}
		}
		status := "gRPC Unauthenticated"
		if protocol != "grpc" {
			status = "HTTP 401"
		}
		count := map[string]int{}
		for _, err := range log.all() {
			for _, w := range []string{
				"export logs: " + status + `: "bad token"`, "export logs: " + status + `: "token expired"`,
				"export metrics: " + status + `: "bad token"`, "export traces: " + status + `: "bad token"`,
			} {
				if strings.HasPrefix(err.Error(), w+"; dropped 10 ") && strings.HasSuffix(err.Error(), "(reported once; Stats counts every item)") {
					count[w]++
				}
			}
			count["all"]++
		}
		if len(count) != 5 || count["all"] != 4 {
			t.Errorf("error handler got %q, want one report for each of 4 (signal, status, message)", log.all())
		}
		shutdown(t, e)
	})
}

func TestRetryExhausted(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		c := newReceiver(t, protocol, func(otlptest.Call) otlptest.Reply { return otlptest.Reply{Code: codes.Unavailable} })
		c.Start()
		defer c.Stop()
		cfg := testConfig(protocol, c.Endpoint())
		cfg.Retry.MaxElapsedTime = 300 * time.Millisecond
		e, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		produced := produce(t, e, Metrics, "x", 3, 2)
		s := flushChecked(t, e)
		if st := s.Signals[Metrics]; st.DroppedBy[DropRetryExhausted] != produced || st.Retried == 0 {
			t.Errorf("stats %+v, want %d retry_exhausted after retries", st, produced)
		}
		shutdown(t, e)
	})
}

// TestQueueBoundedWhileDead checks that memory stays bounded while the
// collector is unreachable and that Shutdown accounts for everything.
func TestQueueBoundedWhileDead(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		one := encodeBatch(t, Traces, "traces-dead-0", 10)
		size := int64(len(one.B))
		cfg := testConfig(protocol, "http://"+otlptest.ReserveAddr(t))
		cfg.QueueBytes = 8 * size
		e, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		accepted := 0
		if e.Enqueue(Traces, one, 10) {
			accepted++
		}
		for i := 1; i < 50; i++ {
			if e.Enqueue(Traces, encodeBatch(t, Traces, fmt.Sprintf("traces-dead-%d", i), 10), 10) {
				accepted++
			}
			s := e.Stats()
			checkIdentity(t, s)
		}
		if accepted != 8 {
			t.Errorf("accepted %d batches, want 8 (QueueBytes / batch size)", accepted)
		}
		st := e.Stats().Signals[Traces]
		if st.DroppedBy[DropQueueFull] != 420 {
			t.Errorf("dropped queue_full %d, want 420", st.DroppedBy[DropQueueFull])
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if err := e.Shutdown(ctx); err == nil || !strings.Contains(err.Error(), "80 items dropped") {
			t.Errorf("shutdown error %v, want 80 items dropped", err)
		}
		s := e.Stats()
		checkIdentity(t, s)
		st = s.Signals[Traces]
		if st.InFlight != 0 || st.DroppedBy[DropShutdown] != 80 || st.Enqueued != 500 || s.HeldBytes != 0 {
			t.Errorf("after shutdown: %+v held %d", st, s.HeldBytes)
		}
		if e.Enqueue(Traces, encodeBatch(t, Traces, "late", 1), 1) {
			t.Error("Enqueue after Shutdown accepted a batch")
		}
		if st := e.Stats().Signals[Traces]; st.DroppedBy[DropShutdown] != 81 {
			t.Errorf("late batch not counted as shutdown drop: %+v", st)
		}
		if err := e.Shutdown(context.Background()); err != nil {
			t.Errorf("second Shutdown = %v, want nil (the first one said the loss)", err)
		}
	})
}

func TestBlock(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		one := encodeBatch(t, Logs, "logs-b-0", 5)
		cfg := testConfig(ProtocolGRPC, "http://"+otlptest.ReserveAddr(t))
		cfg.QueueBytes = 2 * int64(len(one.B))
		cfg.Block = true
		cfg.BlockTimeout = 20 * time.Millisecond
		e, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		e.Enqueue(Logs, one, 5)
		e.Enqueue(Logs, encodeBatch(t, Logs, "logs-b-1", 5), 5)
		if e.Enqueue(Logs, encodeBatch(t, Logs, "logs-b-2", 5), 5) {
			t.Error("third batch accepted into a full queue")
		}
		if st := e.Stats().Signals[Logs]; st.DroppedBy[DropBlockTimeout] != 5 {
			t.Errorf("stats %+v, want 5 block_timeout", st)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_ = e.Shutdown(ctx)
		checkIdentity(t, e.Stats())
	})
	// EnqueueContext waits for room no longer than its context, where
	// Enqueue waits BlockTimeout (an hour here): the batch is dropped and
	// counted as a block timeout.
	t.Run("context", func(t *testing.T) {
		one := encodeBatch(t, Logs, "logs-c-0", 5)
		cfg := testConfig(ProtocolGRPC, "http://"+otlptest.ReserveAddr(t))
		cfg.QueueBytes = 2 * int64(len(one.B))
		cfg.Block = true
		cfg.BlockTimeout = time.Hour
		e, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		e.Enqueue(Logs, one, 5)
		e.Enqueue(Logs, encodeBatch(t, Logs, "logs-c-1", 5), 5)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		done := make(chan bool, 1)
		go func() { done <- e.EnqueueContext(ctx, Logs, encodeBatch(t, Logs, "logs-c-2", 5), 5) }()
		select {
		case ok := <-done:
			if ok {
				t.Error("third batch accepted into a full queue")
			}
			if st := e.Stats().Signals[Logs]; st.DroppedBy[DropBlockTimeout] != 5 {
				t.Errorf("stats %+v, want 5 block_timeout", st)
			}
		case <-time.After(20 * time.Second):
			t.Error("EnqueueContext did not return when its context ended")
		}
		sctx, scancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer scancel()
		_ = e.Shutdown(sctx)
		checkIdentity(t, e.Stats())
	})
	t.Run("no loss", func(t *testing.T) {
		forEachProtocol(t, func(t *testing.T, protocol string) {
			c := newReceiver(t, protocol, nil)
			c.Start()
			defer c.Stop()
			one := encodeBatch(t, Traces, "x", 10)
			cfg := testConfig(protocol, c.Endpoint())
			cfg.QueueBytes = 3 * int64(len(one.B))
			bytebufferpool.Put(one)
			cfg.Block = true
			cfg.BlockTimeout = time.Minute
			e, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			var produced [NumSignals]uint64
			var wg sync.WaitGroup
			for p := 0; p < 3; p++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 30; i++ {
						if !e.Enqueue(Traces, encodeBatch(t, Traces, fmt.Sprintf("traces-p%d-%d", p, i), 10), 10) {
							t.Errorf("blocking Enqueue dropped a batch")
						}
					}
				}()
			}
			wg.Wait()
			produced[Traces] = 900
			flush(t, e)
			wantDelivered(t, e, c, produced)
			shutdown(t, e)
		})
	})
}

// TestRandomFaults is a property test: whatever the collector answers,
// exported + rejected + dropped == produced, and the collector accepted
// exactly the exported items.
func TestRandomFaults(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		for seed := uint64(1); seed <= 3; seed++ {
			t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
				var mu sync.Mutex
				rng := rand.New(rand.NewPCG(seed, seed))
				c := newReceiver(t, protocol, func(otlptest.Call) otlptest.Reply {
					mu.Lock()
					defer mu.Unlock()
					switch rng.IntN(6) {
					case 0:
						return otlptest.Reply{Code: codes.Unavailable}
					case 1:
						return otlptest.Reply{Code: codes.InvalidArgument, Message: "no"}
					case 2:
						return otlptest.Reply{Rejected: int64(rng.IntN(20)), Message: "partial"}
					case 3:
						return otlptest.Reply{Code: codes.ResourceExhausted}
					}
					return otlptest.Reply{}
				})
				c.Start()
				defer c.Stop()
				cfg := testConfig(protocol, c.Endpoint())
				cfg.Concurrency = 3
				e, err := New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				var produced uint64
				for i := 0; i < 60; i++ {
					sig := Signal(i % NumSignals)
					n := 1 + i%9
					produced += uint64(n)
					if !e.Enqueue(sig, encodeBatch(t, sig, fmt.Sprintf("%s-r-%d", sig, i), n), n) {
						t.Fatal("refused")
					}
				}
				shutdown(t, e)
				s := e.Stats()
				checkIdentity(t, s)
				got := received(c)
				var total uint64
				for sig := Signal(0); sig < NumSignals; sig++ {
					st := s.Signals[sig]
					total += st.Enqueued
					if st.InFlight != 0 || int64(st.Exported) != got[sig] {
						t.Errorf("%s: stats %+v, collector accepted %d", sig, st, got[sig])
					}
				}
				if total != produced {
					t.Errorf("enqueued %d, produced %d", total, produced)
				}
			})
		}
	})
}

// TestRetryDoesNotHoldWorker checks that a batch waiting for its retry
// does not hold the only worker: the batches queued behind it are sent
// during its backoff, and it is delivered afterwards. (A receiver's
// throttle holds them back: TestThrottlePausesSignal.)
func TestRetryDoesNotHoldWorker(t *testing.T) {
	c := newReceiver(t, ProtocolGRPC, func(cl otlptest.Call) otlptest.Reply {
		if cl.Batch == "traces-w-0" && cl.Attempt == 0 {
			return otlptest.Reply{Code: codes.Unavailable, Message: "restarting"}
		}
		return otlptest.Reply{}
	})
	c.Start()
	defer c.Stop()
	cfg := testConfig(ProtocolGRPC, c.Endpoint())
	cfg.Retry.InitialInterval = 500 * time.Millisecond // a backoff of 250 to 750 ms
	cfg.Concurrency = 1
	cfg.CoalesceBytes = -1 // each batch its own request: batch 0's retry must not hold the others
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var produced [NumSignals]uint64
	produced[Traces] = produce(t, e, Traces, "w", 5, 4)
	flush(t, e)
	wantDelivered(t, e, c, produced)
	first := c.Arrivals("traces-w-0")
	if len(first) != 2 {
		t.Fatalf("batch 0 arrived %d times, want 2", len(first))
	}
	for i := 1; i < 5; i++ {
		a := c.Arrivals(fmt.Sprintf("traces-w-%d", i))
		if len(a) != 1 || !a[0].Before(first[1]) {
			t.Errorf("batch %d arrived at %v, not before batch 0's retry at %v: the retry held the worker", i, a, first[1])
		}
	}
	shutdown(t, e)
}

// TestQueueSpansBound checks that QueueSpans bounds the spans held while
// the collector is unreachable, that metrics are not counted against it,
// and that a batch larger than the bound is taken when no span is held.
func TestQueueSpansBound(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		cfg := testConfig(protocol, "http://"+otlptest.ReserveAddr(t))
		cfg.QueueSpans = 25
		e, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !e.Enqueue(Traces, encodeBatch(t, Traces, "traces-big", 30), 30) {
			t.Error("a batch over QueueSpans was refused with no span held")
		}
		if e.Enqueue(Traces, encodeBatch(t, Traces, "traces-1", 10), 10) {
			t.Error("a batch past QueueSpans was taken")
		}
		if !e.Enqueue(Metrics, encodeBatch(t, Metrics, "metrics-1", 10), 10) {
			t.Error("a metrics batch was counted against QueueSpans")
		}
		st := e.Stats().Signals[Traces]
		if st.DroppedBy[DropQueueFull] != 10 || st.InFlight != 30 {
			t.Errorf("traces %+v, want 10 dropped queue_full and 30 in flight", st)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_ = e.Shutdown(ctx)
		s := e.Stats()
		checkIdentity(t, s)
		if s.Signals[Traces].InFlight != 0 {
			t.Errorf("after shutdown %+v", s.Signals[Traces])
		}
	})
	if _, err := New(Config{QueueSpans: -1}); err == nil || !strings.Contains(err.Error(), "QueueSpans") {
		t.Errorf("QueueSpans -1: %v", err)
	}
}

// TestErrorHandlerPanicRecovered: an ErrorHandler that panics on every
// report (a refusal per batch, two receiver messages: two reports) ends
// neither the process nor the exporter: its panics are counted, every
// item is still counted dropped, and the next batches are exported.
func TestErrorHandlerPanicRecovered(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		var refuse atomic.Bool
		refuse.Store(true)
		c := newReceiver(t, protocol, func(cl otlptest.Call) otlptest.Reply {
			if refuse.Load() {
				return otlptest.Reply{Code: codes.InvalidArgument, Message: "bad " + cl.Batch}
			}
			return otlptest.Reply{}
		})
		c.Start()
		defer c.Stop()
		cfg := oneBatchPerRequest(testConfig(protocol, c.Endpoint()))
		cfg.ErrorHandler = func(err error) { panic(err) }
		e, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		refused := produce(t, e, Traces, "r", 2, 3)
		s := flushChecked(t, e)
		if st := s.Signals[Traces]; st.DroppedBy[DropNonRetryable] != refused || s.HandlerPanics != 2 {
			t.Fatalf("stats %+v, HandlerPanics %d; want %d non_retryable and 2 panics", st, s.HandlerPanics, refused)
		}
		refuse.Store(false)
		exported := produce(t, e, Traces, "ok", 2, 3)
		s = flushChecked(t, e)
		if st := s.Signals[Traces]; st.Exported != exported {
			t.Errorf("after the panics: %+v, want %d exported", st, exported)
		}
		shutdown(t, e)
	})
}
