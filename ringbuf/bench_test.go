package ringbuf

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type benchRec struct{ n int }

// startConsumer drains s in batches the way the engine's pipeline does, and
// returns a function that closes s and waits for the consumer to finish.
func startConsumer[T any](s *Sharded[T]) (stop func()) {
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]T, 0, 256)
		for s.Wait(time.Millisecond) {
			buf = s.Drain(buf[:0], cap(buf))
		}
	})
	return func() {
		s.Close()
		wg.Wait()
	}
}

func reportDrops[T any](b *testing.B, s *Sharded[T]) {
	st := s.Stats()
	b.ReportMetric(float64(st.Dropped)/float64(b.N), "drops/op")
}

// yieldEvery is how many pushes a benchmark producer makes between two
// runtime.Gosched calls. Real callers block on I/O all the time; a producer
// that never yields keeps its P until preemption (about 10 ms), the consumer
// starves and the benchmark measures drops, not pushes.
const yieldEvery = 256

// BenchmarkPush measures Push with a live consumer ("room"), serially and
// from GOMAXPROCS goroutines, under each policy; and the overflow paths
// alone on full rings with no consumer ("full").
func BenchmarkPush(b *testing.B) {
	v := &benchRec{1}
	for _, p := range []Policy{DropNewest, DropOldest, Block} {
		cfg := Config[*benchRec]{Capacity: 4096, Policy: p, BlockTimeout: 10 * time.Millisecond}
		b.Run("room/serial/"+p.String(), func(b *testing.B) { pushRoom(b, mustNew(b, cfg), v, false) })
		b.Run("room/parallel/"+p.String(), func(b *testing.B) { pushRoom(b, mustNew(b, cfg), v, true) })
	}
	for _, p := range []Policy{DropNewest, DropOldest} {
		cfg := Config[*benchRec]{Capacity: 4096, Policy: p}
		b.Run("full/serial/"+p.String(), func(b *testing.B) {
			s := mustNew(b, cfg)
			fill(s, v)
			b.ReportAllocs()
			for b.Loop() {
				s.Push(v)
			}
		})
		b.Run("full/parallel/"+p.String(), func(b *testing.B) {
			s := mustNew(b, cfg)
			pushParallelFull(b, s, v)
		})
	}
}

// pushRoom measures s.Push(v) with a live consumer, serially or from
// GOMAXPROCS goroutines, each yielding every yieldEvery pushes, and reports
// drops.
func pushRoom(b *testing.B, s *Sharded[*benchRec], v *benchRec, parallel bool) {
	stop := startConsumer(s)
	b.ReportAllocs()
	if parallel {
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				s.Push(v)
				if i++; i%yieldEvery == 0 {
					runtime.Gosched()
				}
			}
		})
	} else {
		i := 0
		for b.Loop() {
			s.Push(v)
			if i++; i%yieldEvery == 0 {
				runtime.Gosched()
			}
		}
	}
	b.StopTimer()
	stop()
	reportDrops(b, s)
}

// pushParallelFull measures s.Push(v) from GOMAXPROCS goroutines on full
// rings with no consumer: the overflow path alone.
func pushParallelFull(b *testing.B, s *Sharded[*benchRec], v *benchRec) {
	fill(s, v)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.Push(v)
		}
	})
}

// fill pushes v until every shard of s is full.
func fill(s *Sharded[*benchRec], v *benchRec) {
	for i := 0; i < s.Shards()*s.Capacity(); i++ {
		s.Push(v)
	}
}

// BenchmarkPick compares ways to choose a shard under parallel pushes with a
// live consumer: the caller's P (what ships), a random shard, and a single
// shared ring; "/full" does the same on full rings under DropOldest, where
// every push also evicts, so shard sharing shows at its worst.
func BenchmarkPick(b *testing.B) {
	v := &benchRec{1}
	for _, bc := range []struct {
		name   string
		shards int
		pick   pick
	}{
		{"procpin", 0, pickProc},
		{"random", 0, pickRandom},
		{"single", 1, pickProc},
	} {
		b.Run(bc.name+"/room", func(b *testing.B) {
			s := mustNew(b, Config[*benchRec]{Shards: bc.shards, Capacity: 4096})
			s.pick = bc.pick
			pushRoom(b, s, v, true)
		})
		b.Run(bc.name+"/full", func(b *testing.B) {
			s := mustNew(b, Config[*benchRec]{Shards: bc.shards, Capacity: 4096, Policy: DropOldest})
			s.pick = bc.pick
			pushParallelFull(b, s, v)
		})
	}
}

// BenchmarkChannel is the rejected alternative: one buffered channel, with a
// non-blocking send ("drop", like DropNewest) or a blocking one ("block",
// like Block), drained by a consumer that receives one value at a time.
func BenchmarkChannel(b *testing.B) {
	v := &benchRec{1}
	for _, block := range []bool{false, true} {
		name := "drop"
		if block {
			name = "block"
		}
		b.Run(name, func(b *testing.B) {
			ch := make(chan *benchRec, 8192)
			done := make(chan struct{})
			go func() {
				for range ch {
				}
				close(done)
			}()
			var drops sync.Mutex
			dropped := 0
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				n, i := 0, 0
				for pb.Next() {
					if block {
						ch <- v
					} else {
						select {
						case ch <- v:
						default:
							n++
						}
					}
					if i++; i%yieldEvery == 0 {
						runtime.Gosched()
					}
				}
				drops.Lock()
				dropped += n
				drops.Unlock()
			})
			b.StopTimer()
			close(ch)
			<-done
			b.ReportMetric(float64(dropped)/float64(b.N), "drops/op")
		})
	}
}

// BenchmarkPushDrain pushes a batch and drains it on one goroutine: the cost
// per value of the ring itself, without scheduling.
func BenchmarkPushDrain(b *testing.B) {
	const batch = 256
	v := &benchRec{1}
	s := mustNew(b, Config[*benchRec]{Shards: 1, Capacity: 4096})
	buf := make([]*benchRec, 0, batch)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		s.Push(v)
		if n++; n == batch {
			buf = s.Drain(buf[:0], batch)
			n = 0
		}
	}
}

// BenchmarkPickCost is the cost of choosing a shard alone.
func BenchmarkPickCost(b *testing.B) {
	for _, bc := range []struct {
		name string
		pick pick
	}{{"procpin", pickProc}, {"random", pickRandom}} {
		b.Run(bc.name, func(b *testing.B) {
			s := mustNew(b, Config[*benchRec]{Capacity: 2})
			s.pick = bc.pick
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var i uint
				for pb.Next() {
					i = s.shard()
				}
				pickSink.Store(i != 0)
			})
		})
	}
}

var pickSink atomic.Bool
