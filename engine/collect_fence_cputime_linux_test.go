package engine

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowtel/flowtel/internal/hdr"
	"github.com/flowtel/flowtel/internal/testkit"
)

// TestCollectFenceCPUTime prints what the collector's membarriers cost
// the threads that record (each one interrupts every running thread of
// the process):
//
//	go test -run TestCollectFenceCPUTime -v ./engine/ -cputime | grep ^Benchmark
//
// One recorder per P, locked to its thread, records in a loop into a
// resolved request series, and one record in 64 into the next of 200
// request series (200 flows) and 100 node types' durations in turn (so
// that every histogram has records at every collection, and the loop
// stays in cache),
// while the collector either rests (alone) or collects without pause
// (collecting): the engine's collection, as an export takes it, and the
// SlowestFraction quantiles of the 200 flows, as if a second had passed
// since the last. It prints the recorders' thread CPU per record, the
// median of alternated rounds, the membarriers per million records and
// the collector's thread CPU per collection while they record, and the
// membarriers of one collection after a round of records (full). The GenAI families keep no HDR histogram
// (boundedHist): they make no membarrier.
func TestCollectFenceCPUTime(t *testing.T) {
	testkit.NeedCPUTime(t)
	e, err := New(WithMetrics(MetricsConfig{NoExport: true, Limit: 1024}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.Shutdown(context.Background()) }()
	m := e.metrics
	const flows, nodeTypes = 200, 100
	var reqs [flows]RequestSeries
	for i := range reqs {
		reqs[i] = e.RequestSeries("app", "flow-"+strconv.Itoa(i), 0)
	}
	var nodes [nodeTypes]*hdr.Histogram
	for i := range nodes {
		nodes[i] = m.nodes.With(&hdr.LabelValues{"node-" + strconv.Itoa(i)}).dur
	}
	fq := newFlowQuantiles(m)
	now := int64(0)
	collect := func() {
		m.mu.Lock()
		m.col.collect(true, time.Now().UnixNano())
		m.mu.Unlock()
		now += int64(time.Second)
		for i := range flows {
			fq.get("app", "flow-"+strconv.Itoa(i), 0.01, now)
		}
	}
	collect()

	const per = 5_000_000
	recorders := runtime.GOMAXPROCS(0)
	round := func(collecting bool) (perRecord float64, collections, fences uint64, collectNs int64) {
		var stop atomic.Bool
		var cw sync.WaitGroup
		if collecting {
			cw.Go(func() {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				f0, t0 := hdr.Fences(), testkit.ThreadCPU()
				for !stop.Load() {
					collect()
					collections++
				}
				fences, collectNs = hdr.Fences()-f0, testkit.ThreadCPU()-t0
			})
		}
		cpu := make([]int64, recorders)
		var rw sync.WaitGroup
		for r := range recorders {
			rw.Go(func() {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				t0 := testkit.ThreadCPU()
				for k := range per {
					if k%64 != 0 {
						reqs[0].Record(time.Duration(k&1023) * time.Microsecond)
					} else if j := k / 64 % (flows + nodeTypes); j < flows {
						reqs[j].Record(time.Duration(k&1023) * time.Microsecond)
					} else {
						nodes[j-flows].Record(int64(k & 1023))
					}
				}
				cpu[r] = testkit.ThreadCPU() - t0
			})
		}
		rw.Wait()
		stop.Store(true)
		cw.Wait()
		var sum int64
		for _, c := range cpu {
			sum += c
		}
		return float64(sum) / float64(recorders*per), collections, fences, collectNs
	}
	var alone, busy, full, fencesPer, collectPer []float64
	for range 8 {
		a, _, _, _ := round(false)
		// One collection after every histogram was recorded into.
		f0 := hdr.Fences()
		collect()
		full = append(full, float64(hdr.Fences()-f0))
		b, n, f, ns := round(true)
		alone, busy = append(alone, a), append(busy, b)
		fencesPer = append(fencesPer, float64(f)*1e6/float64(recorders*per))
		if n > 0 {
			collectPer = append(collectPer, float64(ns)/float64(n))
		}
	}
	med := func(xs []float64) float64 {
		slices.Sort(xs)
		return xs[len(xs)/2]
	}
	fmt.Printf("BenchmarkCPUTime/CollectFence/alone\t%d\t%.2f ns/record\n", recorders*per, med(alone))
	fmt.Printf("BenchmarkCPUTime/CollectFence/collecting\t%d\t%.2f ns/record\t%.1f membarriers/Mrecord\t%.0f collector-ns/collection\n",
		recorders*per, med(busy), med(fencesPer), med(collectPer))
	fmt.Printf("BenchmarkCPUTime/CollectFence/full\t1\t%.0f membarriers/collection\n", med(full))
}
