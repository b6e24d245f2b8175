package encode_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/flowtel/flowtel/encode"
)

// TestOffloadAccountingProperty: encoders on several goroutines offer
// large run log values and large INFO event attributes to one Offloader
// over a bounded file store while it is closed at a random moment, with a
// random queue and budget. Every value offered is counted once: queued
// (Enqueued), cut (QueueFull, StoreFull, Closed) or kept whole
// (KeptQueueFull, KeptStoreFull, KeptClosed); once Close returns, every
// queued value is offloaded, failed or lost, none in flight, and the
// store holds one file per value offloaded.
func TestOffloadAccountingProperty(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for seed := range uint64(12) {
		rng := rand.New(rand.NewPCG(seed, 3))
		dir := t.TempDir()
		store, err := encode.NewBoundedFSStore(dir, "", int64(1+rng.IntN(400<<10)), 1+rng.IntN(200))
		if err != nil {
			t.Fatal(err)
		}
		o := encode.NewOffloader(store, encode.OffloadConfig{QueueLen: 1 + rng.IntN(8), QueueBytes: int64(1 + rng.IntN(200<<10)), Workers: 1 + rng.IntN(3)})
		const goroutines, iters = 3, 40
		big := strings.Repeat("v", encode.SpanEventOffloadThreshold)
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				e := encode.NewEncoder(encode.Resource{ServiceName: "svc"})
				e.SetOffloader(o)
				for i := range iters {
					run := &encode.Run{TraceID: encode.TraceID{byte(g), byte(i)}, SpanID: encode.SpanID{1}, SID: "s", Answer: big[:encode.DefaultOffloadThreshold+i]}
					run.Nodes = []*encode.Node{{SpanID: encode.SpanID{2}, NodeID: "n", Events: []encode.Event{{Kind: encode.EventInfo, Attrs: []encode.Attr{{Key: "k", Value: encode.StringValue(big)}}}}}}
					encode.AppendRunLogWith(nil, run, o)    // offers the answer and the event's entry
					e.AppendTraces(nil, []*encode.Run{run}) // offers the event's attributes
				}
			})
		}
		// Stats read while values are queued and stored: a worker may count
		// a value stored before its enqueuer counts it queued, which made
		// InFlight wrap to 2^64-1; Enqueued must never exceed the offers
		// nor go back.
		offers := uint64(goroutines * iters * 3)
		stop := make(chan struct{})
		var pollErr error
		var polled sync.WaitGroup
		polled.Go(func() {
			var last uint64
			for {
				select {
				case <-stop:
					return
				default:
				}
				s := o.Stats()
				if s.InFlight > s.Enqueued || s.Enqueued > offers || s.Enqueued < last ||
					s.Enqueued != s.Offloaded+s.Failed+s.Lost+s.InFlight {
					pollErr = fmt.Errorf("Stats while running: %+v (Enqueued before %d)", s, last)
					return
				}
				last = s.Enqueued
			}
		})
		time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rng.IntN(2000))*time.Microsecond)
		_ = o.Close(ctx) // may run out of time: what it drops is counted Lost
		cancel()
		wg.Wait()
		close(stop)
		polled.Wait()
		if pollErr != nil {
			t.Fatalf("seed %d: %v", seed, pollErr)
		}
		_ = o.Close(context.Background())
		s := o.Stats()
		if got := s.Enqueued + s.QueueFull + s.StoreFull + s.Closed + s.KeptQueueFull + s.KeptStoreFull + s.KeptClosed; got != offers {
			t.Fatalf("seed %d: %d values counted, %d offered: %+v", seed, got, offers, s)
		}
		if s.InFlight != 0 || s.Offloaded+s.Failed+s.Lost != s.Enqueued || s.QueuedBytes != 0 {
			t.Fatalf("seed %d: after Close %+v", seed, s)
		}
		files, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if uint64(len(files)) != s.Offloaded {
			t.Fatalf("seed %d: %d files, %d offloaded: %+v", seed, len(files), s.Offloaded, s)
		}
	}
}
