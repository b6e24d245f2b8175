package hdr

import (
	"maps"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/flowtel/flowtel/internal/race"
)

// TestRecordReconcilesFenced runs the reconciliation on the path this
// build and kernel select: the asymmetric fence on linux/amd64 without
// -race when the kernel offers private expedited membarriers (probed here
// on its own, so that a refused registration cannot pass silently for
// the fence path), the atomic adds otherwise.
func TestRecordReconcilesFenced(t *testing.T) {
	if want := !race.Enabled && membarrierOffered(); fenced != want {
		t.Fatalf("fenced = %v, want %v (race %v, membarrier offered %v)", fenced, want, race.Enabled, membarrierOffered())
	}
	t.Logf("fenced = %v", fenced)
	reconcileUnderCollection(t)
}

// TestRecordReconcilesAtomic forces the path taken where membarrier is
// refused (old kernels, seccomp, gVisor): writers begin a record with an
// atomic add and collectors make no fence.
func TestRecordReconcilesAtomic(t *testing.T) {
	old := setFenced(false)
	defer setFenced(old)
	if fenced {
		t.Fatal("fenced after setFenced(false)")
	}
	reconcileUnderCollection(t)
}

// reconcileUnderCollection has two writers per P, with GOMAXPROCS twice
// the CPUs so that some writer threads are descheduled mid-record (the
// membarrier's context-switch case), record known multisets through
// Record, RecordCounted (an attached Counter and one counted by atomic
// adds) and RecordAll, clamped values among them, while collectors take
// delta snapshots, cumulative snapshots and Counter values (the writers
// yield every 64 records so that they interleave). Every loop is
// bounded: writers make a fixed number of records and collectors stop
// when they are done. Then the deltas must add up, exactly, to the
// multiset's count, sum, min, max, clamps and buckets (those of the same
// values recorded serially), the cumulative snapshot must equal them, and
// the Counters must hold the number of their records.
func reconcileUnderCollection(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2 * runtime.NumCPU()))
	cfg := Config{Highest: 1 << 20}
	h := mustNew(t, cfg)
	attached, atomicCounted := NewCounter(), NewCounter()
	if h.Attach(attached).slot == 0 {
		t.Fatal("Counter not attached")
	}
	other := mustNew(t, cfg)
	other.Attach(atomicCounted) // tallied in other: h counts it by atomic adds
	tAttached, tAtomic := h.Attach(attached), h.Attach(atomicCounted)

	writers := 2 * runtime.GOMAXPROCS(0)
	per := 20_000
	if race.Enabled {
		per = 2_000
	}
	values := make([][]int64, writers)
	for w := range values {
		r := rand.New(rand.NewPCG(uint64(w), 16))
		values[w] = make([]int64, per)
		for i := range values[w] {
			switch r.IntN(50) {
			case 0:
				values[w][i] = -r.Int64N(100) - 1 // clamped to 0
			case 1:
				values[w][i] = cfg.Highest + r.Int64N(1<<20) + 1 // clamped to Highest
			default:
				values[w][i] = r.Int64N(cfg.Highest + 1)
			}
		}
	}

	var (
		done                     atomic.Bool
		collectors, ws           sync.WaitGroup
		deltas                   []Snapshot
		deltaBuckets             = map[int64]int64{}
		nAttached, nAtomic       atomic.Uint64
		lastCount, lastAttached  uint64
		regressions, overcounted int
	)
	total := uint64(writers * per)
	collectors.Go(func() {
		var s Snapshot
		for !done.Load() {
			h.DeltaSnapshot(&s)
			deltas = append(deltas, Snapshot{Count: s.Count, Sum: s.Sum, Min: s.Min, Max: s.Max, Clamped: s.Clamped})
			s.ForEachBucket(func(v, c int64) bool { deltaBuckets[v] += c; return true })
		}
	})
	collectors.Go(func() {
		var s Snapshot
		for !done.Load() {
			h.Snapshot(&s)
			a := attached.Value()
			// Cumulative figures never go back and never pass the total.
			if s.Count < lastCount || a < lastAttached {
				regressions++
			}
			if s.Count > total {
				overcounted++
			}
			lastCount, lastAttached = s.Count, a
		}
	})
	for w := range writers {
		ws.Go(func() {
			vs := values[w]
			for i := 0; i < len(vs); {
				if i%64 == 0 {
					runtime.Gosched() // let the collectors interleave
				}
				switch k := i % 7; {
				case k < 2:
					h.Record(vs[i])
					i++
				case k < 4:
					h.RecordCounted(vs[i], tAttached)
					nAttached.Add(1)
					i++
				case k < 5:
					h.RecordCounted(vs[i], tAtomic)
					nAtomic.Add(1)
					i++
				default:
					n := min(1+i%5, len(vs)-i)
					h.RecordAll(vs[i : i+n])
					i += n
				}
			}
		})
	}
	ws.Wait()
	done.Store(true)
	collectors.Wait()
	var s Snapshot
	h.DeltaSnapshot(&s)
	deltas = append(deltas, Snapshot{Count: s.Count, Sum: s.Sum, Min: s.Min, Max: s.Max, Clamped: s.Clamped})
	s.ForEachBucket(func(v, c int64) bool { deltaBuckets[v] += c; return true })

	// The oracle: the multiset's figures, and its buckets recorded serially.
	want := stats{min: math.MaxInt64, max: math.MinInt64}
	serial := mustNew(t, cfg)
	for _, vs := range values {
		for _, v := range vs {
			c, clamped := serial.clamp(v)
			want.count++
			want.sum += c
			want.min, want.max = min(want.min, c), max(want.max, c)
			if clamped {
				want.clamped++
			}
			serial.Record(v)
		}
	}
	var ss Snapshot
	serial.Snapshot(&ss)
	wantBuckets := map[int64]int64{}
	ss.ForEachBucket(func(v, c int64) bool { wantBuckets[v] += c; return true })

	var got stats
	got.min = math.MaxInt64
	for _, d := range deltas {
		got.add(&stats{count: d.Count, sum: d.Sum, min: d.Min, max: d.Max, clamped: d.Clamped})
	}
	if got != want {
		t.Errorf("deltas (%d) add up to %+v, want %+v", len(deltas), got, want)
	}
	h.Snapshot(&s)
	if cum := (stats{count: s.Count, sum: s.Sum, min: s.Min, max: s.Max, clamped: s.Clamped}); cum != want {
		t.Errorf("cumulative %+v, want %+v", cum, want)
	}
	if !maps.Equal(deltaBuckets, wantBuckets) {
		t.Errorf("delta buckets differ from the serial recording's (%d against %d buckets)", len(deltaBuckets), len(wantBuckets))
	}
	if a, n := attached.Value(), nAttached.Load(); a != n {
		t.Errorf("attached Counter = %d, want %d", a, n)
	}
	if a, n := atomicCounted.Value(), nAtomic.Load(); a != n {
		t.Errorf("atomically counted Counter = %d, want %d", a, n)
	}
	if regressions != 0 || overcounted != 0 {
		t.Errorf("cumulative snapshots went back %d times, past the total %d times", regressions, overcounted)
	}
	t.Logf("%d writers, %d records, %d deltas", writers, total, len(deltas))
}

// TestBatchReconciles: writers on every P record known values into the
// series of a Vec of Histograms while one collector drains the family
// through a Batch and takes delta snapshots of what it drained
// (DeltaSnapshotDrained), another drains through its own Batch and reads
// cumulative ones (SnapshotDrained), and a third snapshots the series one
// by one (whose locks drainAll then skips). The deltas of each series add
// up exactly to its values, as does its cumulative snapshot, and the
// Counter attached to it (ValueDrained) holds its records. On the path
// this build and kernel select, then on the atomic path.
func TestBatchReconciles(t *testing.T) {
	t.Logf("fenced = %v", fenced)
	batchReconciles(t)
}

// TestBatchReconcilesAtomic is TestBatchReconciles on the path taken where
// membarrier is refused.
func TestBatchReconcilesAtomic(t *testing.T) {
	defer setFenced(setFenced(false))
	batchReconciles(t)
}

func batchReconciles(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2 * runtime.NumCPU()))
	const series = 8
	v, err := NewHistogramVec(Config{Highest: 1 << 20}, []string{"k"}, series)
	if err != nil {
		t.Fatal(err)
	}
	hs := make([]*Histogram, series)
	cs := make([]*Counter, series)
	ts := make([]Tally, series)
	index := map[*Histogram]int{}
	for i := range hs {
		hs[i] = v.With(&LabelValues{string(rune('a' + i))})
		index[hs[i]] = i
		cs[i] = NewCounter()
		ts[i] = hs[i].Attach(cs[i])
	}
	writers, per := 2*runtime.GOMAXPROCS(0), 10_000
	if race.Enabled {
		per = 1_000
	}
	var (
		done          atomic.Bool
		collectors    sync.WaitGroup
		ws            sync.WaitGroup
		count, sum    [series]int64
		minV, maxV    [series]int64
		each, singles int
	)
	for i := range minV {
		minV[i] = math.MaxInt64
	}
	addDelta := func(h *Histogram, s *Snapshot) {
		i := index[h]
		count[i] += int64(s.Count)
		sum[i] += s.Sum
		if s.Count != 0 {
			minV[i], maxV[i] = min(minV[i], s.Min), max(maxV[i], s.Max)
		}
	}
	self := func(h *Histogram) *Histogram { return h }
	collectors.Go(func() {
		var (
			s Snapshot
			b Batch
		)
		for !done.Load() {
			AddVec(&b, v, self)
			b.Drain()
			v.Each(func(_ *LabelValues, h *Histogram, _ bool) { h.DeltaSnapshotDrained(&s); addDelta(h, &s) })
			each++
		}
	})
	collectors.Go(func() {
		var (
			s    Snapshot
			b    Batch
			last [series]uint64
		)
		for !done.Load() {
			AddVec(&b, v, self)
			b.Drain()
			for i, h := range hs {
				h.SnapshotDrained(&s)
				if s.Count < last[i] {
					t.Errorf("series %d: cumulative count went back from %d to %d", i, last[i], s.Count)
				}
				last[i] = s.Count
			}
		}
	})
	collectors.Go(func() {
		var s Snapshot
		for !done.Load() {
			for _, h := range hs {
				h.Snapshot(&s)
			}
			singles++
		}
	})
	for w := range writers {
		ws.Go(func() {
			for i := range per {
				if i%64 == 0 {
					runtime.Gosched()
				}
				hs[i%series].RecordCounted(int64(w*per+i+1), ts[i%series])
			}
		})
	}
	ws.Wait()
	done.Store(true)
	collectors.Wait()
	var (
		s Snapshot
		b Batch
	)
	AddVec(&b, v, self)
	b.Drain()
	v.Each(func(_ *LabelValues, h *Histogram, _ bool) { h.DeltaSnapshotDrained(&s); addDelta(h, &s) })
	for k, h := range hs {
		var wc, wsum int64
		wmin, wmax := int64(math.MaxInt64), int64(0)
		for w := range writers {
			for i := k; i < per; i += series {
				x := int64(w*per + i + 1)
				wc, wsum, wmin, wmax = wc+1, wsum+x, min(wmin, x), max(wmax, x)
			}
		}
		if count[k] != wc || sum[k] != wsum || minV[k] != wmin || maxV[k] != wmax {
			t.Errorf("series %d: deltas count %d sum %d min %d max %d, want %d %d %d %d", k, count[k], sum[k], minV[k], maxV[k], wc, wsum, wmin, wmax)
		}
		h.SnapshotDrained(&s)
		if int64(s.Count) != wc || s.Sum != wsum || s.Min != wmin || s.Max != wmax {
			t.Errorf("series %d: cumulative %+v, want count %d sum %d min %d max %d", k, s, wc, wsum, wmin, wmax)
		}
		if n := cs[k].ValueDrained(); n != uint64(wc) {
			t.Errorf("series %d: counter %d, want %d", k, n, wc)
		}
	}
	t.Logf("fenced %v, %d writers, %d batch deltas, %d single passes", fenced, writers, each, singles)
}
