package hdr

import (
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/flowtel/flowtel/internal/testkit"
)

func mustNew(t testing.TB, cfg Config) *Histogram {
	t.Helper()
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want error
	}{
		{Config{Lowest: -1}, ErrInvalidRange},
		{Config{Lowest: 10, Highest: 15}, ErrInvalidRange},
		{Config{Digits: 6}, ErrInvalidDigits},
		{Config{Digits: -1}, ErrInvalidDigits},
	} {
		if _, err := New(tc.cfg); !errors.Is(err, tc.want) {
			t.Errorf("New(%+v) = %v, want %v", tc.cfg, err, tc.want)
		}
	}
	h := mustNew(t, Config{})
	if got := h.Config(); got != (Config{DefaultLowest, DefaultHighest, DefaultDigits}) {
		t.Errorf("default config = %+v", got)
	}
}

// samplers draw latencies in microseconds from shapes seen in workflow
// engines: uniform, log-normal (LLM calls), and a bimodal mix of fast
// nodes and slow ones.
var samplers = map[string]func(r *rand.Rand) int64{
	"uniform": func(r *rand.Rand) int64 { return 1 + r.Int64N(10_000_000) },
	"lognormal": func(r *rand.Rand) int64 {
		return int64(math.Exp(r.NormFloat64()*1.5 + 11)) // median ~60 ms
	},
	"bimodal": func(r *rand.Rand) int64 {
		if r.IntN(10) == 0 {
			return 2_000_000 + r.Int64N(8_000_000)
		}
		return 50 + r.Int64N(2_000)
	},
	"small": func(r *rand.Rand) int64 { return r.Int64N(3000) },
}

// exactQuantile returns the quantile q of sorted samples by the definition
// HDR's ValueAtPercentile uses: the sample of rank round(q*n), at least 1
// (nearest rank, rounded half up).
func exactQuantile(sorted []int64, q float64) int64 {
	rank := int((q*100/100)*float64(len(sorted)) + 0.5)
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

// TestQuantilesMatchExact is the property of issue 5: p50, p90, p99 and
// p99.9 of samples recorded from several goroutines agree with the exact
// percentiles of the same samples within HDR precision (1/1024 at 3
// digits; the HDR value is never below the exact one).
func TestQuantilesMatchExact(t *testing.T) {
	for name, draw := range samplers {
		for seed := range uint64(8) {
			r := rand.New(rand.NewPCG(seed, 99))
			n := 1 + r.IntN(20_000)
			samples := make([]int64, n)
			for i := range samples {
				samples[i] = draw(r)
			}
			h := mustNew(t, Config{})
			recordConcurrently(h, samples, 4)
			var s Snapshot
			h.Snapshot(&s)
			slices.Sort(samples)
			for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
				exact := exactQuantile(samples, q)
				got := s.ValueAtQuantile(q)
				if got < exact || float64(got-exact) > float64(exact)/1024+1 {
					t.Errorf("%s seed %d n %d: q%v = %d, exact %d", name, seed, n, q, got, exact)
				}
			}
			var sum int64
			for _, v := range samples {
				sum += v
			}
			if s.Count != uint64(n) || s.Sum != sum || s.Min != samples[0] || s.Max != samples[n-1] {
				t.Errorf("%s seed %d: count/sum/min/max = %d/%d/%d/%d, want %d/%d/%d/%d",
					name, seed, s.Count, s.Sum, s.Min, s.Max, n, sum, samples[0], samples[n-1])
			}
			if s.Clamped != 0 {
				t.Errorf("%s: clamped %d in-range values", name, s.Clamped)
			}
		}
	}
}

// recordConcurrently records samples from g goroutines.
func recordConcurrently(h *Histogram, samples []int64, g int) {
	var wg sync.WaitGroup
	for i := range g {
		wg.Go(func() {
			for j := i; j < len(samples); j += g {
				h.Record(samples[j])
			}
		})
	}
	wg.Wait()
}

func TestClamp(t *testing.T) {
	h := mustNew(t, Config{})
	for _, v := range []int64{-5, math.MinInt64, DefaultHighest + 1, math.MaxInt64, 7} {
		h.Record(v)
	}
	var s Snapshot
	h.Snapshot(&s)
	if s.Count != 5 || s.Clamped != 4 || s.Min != 0 || s.Max != DefaultHighest {
		t.Fatalf("snapshot = %+v", s)
	}
	if got := s.ValueAtQuantile(1); got < DefaultHighest || got > DefaultHighest+DefaultHighest/1024 {
		t.Errorf("max quantile = %d", got)
	}
	if s.Sum != 2*DefaultHighest+7 {
		t.Errorf("sum = %d", s.Sum)
	}
}

// TestRecordCounted: the counter counts each record once, the first
// record of a P (which allocates its shard) among them, and values are
// clamped as by Record.
func TestRecordCounted(t *testing.T) {
	h, c := mustNew(t, Config{}), NewCounter()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for _, v := range []int64{-1, 5, DefaultHighest + 1} {
				h.RecordCounted(v, Tally{c: c})
			}
		})
	}
	wg.Wait()
	var s Snapshot
	h.Snapshot(&s)
	if c.Value() != 12 || s.Count != 12 || s.Clamped != 8 || s.Min != 0 || s.Max != DefaultHighest {
		t.Fatalf("counter %d, snapshot %+v", c.Value(), s)
	}
}

// recordWhileCollecting has writers goroutines record the values 1 to
// writers*per, through record (writer w's i-th value is w*per+i+1), while
// a collector takes delta snapshots and calls collect after each, until
// the writers are done. It checks that the deltas, the cumulative count,
// sum, min, max and clamps, and the buckets each hold every value exactly
// once, and returns the cumulative snapshot.
func recordWhileCollecting(t *testing.T, h *Histogram, writers, per int, record func(i int, v int64), collect func(s *Snapshot)) Snapshot {
	t.Helper()
	stop := make(chan struct{})
	var deltaCount, deltaSum uint64
	var wg sync.WaitGroup
	wg.Go(func() {
		var s Snapshot
		for {
			h.DeltaSnapshot(&s)
			deltaCount += s.Count
			deltaSum += uint64(s.Sum)
			collect(&s)
			select {
			case <-stop:
				return
			default:
				runtime.Gosched()
			}
		}
	})
	var ww sync.WaitGroup
	for w := range writers {
		ww.Go(func() {
			for i := range per {
				record(i, int64(w*per+i+1))
			}
		})
	}
	ww.Wait()
	close(stop)
	wg.Wait()
	var s Snapshot
	h.DeltaSnapshot(&s)
	deltaCount += s.Count
	deltaSum += uint64(s.Sum)
	h.Snapshot(&s)
	n := int64(writers * per)
	if deltaCount != uint64(n) || deltaSum != uint64(n*(n+1)/2) {
		t.Errorf("deltas add up to count %d sum %d, want %d %d", deltaCount, deltaSum, n, n*(n+1)/2)
	}
	if s.Count != uint64(n) || s.Sum != n*(n+1)/2 || s.Min != 1 || s.Max != n || s.Clamped != 0 {
		t.Errorf("cumulative = %+v", s)
	}
	var buckets int64
	s.ForEachBucket(func(_, c int64) bool { buckets += c; return true })
	if buckets != n {
		t.Errorf("buckets hold %d values, want %d", buckets, n)
	}
	return s
}

// TestConcurrentRecordAndSnapshot records from several goroutines while
// collectors take cumulative and delta snapshots; no value may be lost or
// counted twice.
func TestConcurrentRecordAndSnapshot(t *testing.T) {
	h := mustNew(t, Config{})
	recordWhileCollecting(t, h, 4, 20_000,
		func(_ int, v int64) { h.Record(v) },
		func(s *Snapshot) { h.Snapshot(s) })
}

// TestRecordAllMatchesRecord: RecordAll leaves a Histogram as Record of
// each value does (clamped values, the first batch of a P that allocates
// its shard, an empty batch), and concurrent batches are snapshotted whole.
func TestRecordAllMatchesRecord(t *testing.T) {
	vs := []int64{-5, 7, 7, 1000, DefaultHighest + 1, 123456789, 0, 3}
	one, all := mustNew(t, Config{}), mustNew(t, Config{})
	for range 3 {
		for _, v := range vs {
			one.Record(v)
		}
		all.RecordAll(vs)
		all.RecordAll(nil)
	}
	var a, b Snapshot
	one.Snapshot(&a)
	all.Snapshot(&b)
	if a.Count != b.Count || a.Sum != b.Sum || a.Min != b.Min || a.Max != b.Max || a.Clamped != b.Clamped {
		t.Fatalf("RecordAll: %+v, Record: %+v", b, a)
	}
	bounds := []float64{1, 10, 1000, 1e6, 1e9}
	if x, y := a.BucketCounts(nil, bounds), b.BucketCounts(nil, bounds); !slices.Equal(x, y) {
		t.Fatalf("buckets: RecordAll %v, Record %v", y, x)
	}
	h := mustNew(t, Config{})
	recordWhileCollecting(t, h, 4, 20_000,
		func(_ int, v int64) { h.RecordAll([]int64{v}) },
		func(s *Snapshot) { h.Snapshot(s) })
}

// TestRecordCountedReconciles: 64 goroutines record into one Histogram
// and two Counters, one attached to it (tallied in its shards) and one
// not, while a collector takes delta snapshots and reads the attached
// Counter, with GOMAXPROCS raised after New so that some Ps have no
// shard (the locked extra buffer, the counters' shared shards). Every
// record is in exactly one delta, and the counters, the cumulative
// count, sum, min, max and buckets reconcile exactly.
func TestRecordCountedReconciles(t *testing.T) {
	h, c0, c1 := mustNew(t, Config{}), NewCounter(), NewCounter()
	t0, t1 := h.Attach(c0), Tally{c: c1}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(len(h.shards) + 2))
	const writers, per = 64, 2_000
	recordWhileCollecting(t, h, writers, per,
		func(i int, v int64) {
			t := t0
			if i&1 == 1 {
				t = t1
			}
			h.RecordCounted(v, t)
		},
		func(*Snapshot) { _ = c0.Value() }) // collects h
	if n := uint64(writers * per); c0.Value() != n/2 || c1.Value() != n/2 {
		t.Errorf("counters %d + %d, want %d each", c0.Value(), c1.Value(), n/2)
	}
}

// TestAttach: a Histogram tallies at most tallies Counters, each in one
// Histogram only; a Counter's Value includes the records tallied in the
// shards without a Snapshot; a Counter tallied elsewhere or not at all
// is added to atomically, and Attach allocates only when it attaches.
func TestAttach(t *testing.T) {
	h, other := mustNew(t, Config{}), mustNew(t, Config{})
	cs := make([]*Counter, tallies+1)
	for i := range cs {
		cs[i] = NewCounter()
		h.Attach(cs[i])
		h.Attach(cs[i]) // again: nothing
	}
	if len(h.attached) != tallies || cs[tallies].host.Load() != noHost {
		t.Fatalf("%d attached, the last counter's host %v", len(h.attached), cs[tallies].host.Load())
	}
	for i, c := range cs {
		if got, want := h.Attach(c), (Tally{c: c, slot: (i + 1) % (tallies + 1)}); got != want {
			t.Errorf("counter %d: Attach returned %+v, want %+v", i, got, want)
		}
	}
	if got := other.Attach(cs[0]); got != (Tally{c: cs[0]}) { // attached to h already
		t.Errorf("Attach to another Histogram returned %+v", got)
	}
	for i, c := range cs {
		for range i + 1 {
			h.RecordCounted(int64(i), h.Attach(c))
		}
		other.RecordCounted(5, other.Attach(c))
	}
	for i, c := range cs {
		if got := c.Value(); got != uint64(i+2) {
			t.Errorf("counter %d: Value %d, want %d", i, got, i+2)
		}
	}
	testkit.WantAllocs(t, 0, func() { h.Attach(cs[1]); h.Attach(cs[tallies]) })
}

func TestDeltaResets(t *testing.T) {
	h := mustNew(t, Config{})
	var s Snapshot
	h.Record(10)
	h.Record(20)
	h.DeltaSnapshot(&s)
	if s.Count != 2 || s.Sum != 30 || s.Min != 10 || s.Max != 20 {
		t.Fatalf("first delta = %+v", s)
	}
	h.DeltaSnapshot(&s)
	if s.Count != 0 || s.Sum != 0 || s.ValueAtQuantile(0.5) != 0 {
		t.Fatalf("empty delta = %+v", s)
	}
	h.Record(5)
	h.DeltaSnapshot(&s)
	if s.Count != 1 || s.Min != 5 || s.Max != 5 {
		t.Fatalf("third delta = %+v", s)
	}
	h.Snapshot(&s)
	if s.Count != 3 || s.Sum != 35 || s.Min != 5 || s.Max != 20 {
		t.Fatalf("cumulative = %+v", s)
	}
}

// TestBucketCountsProperty: for every bound, the cumulative count HDR
// reports differs from the exact count only by samples within HDR
// precision above the bound.
func TestBucketCountsProperty(t *testing.T) {
	bounds := []float64{0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000,
		50_000, 100_000, 1e6, 5e6, 1e7}
	for name, draw := range samplers {
		r := rand.New(rand.NewPCG(7, 7))
		samples := make([]int64, 5000)
		h := mustNew(t, Config{})
		for i := range samples {
			samples[i] = draw(r)
			h.Record(samples[i])
		}
		var s Snapshot
		h.Snapshot(&s)
		counts := s.BucketCounts(nil, bounds)
		if len(counts) != len(bounds)+1 {
			t.Fatalf("%d counts for %d bounds", len(counts), len(bounds))
		}
		var cum uint64
		for i, b := range bounds {
			cum += counts[i]
			var exact, slack uint64
			for _, v := range samples {
				if float64(v) <= b {
					exact++
				} else if float64(v) <= b+b/1024+1 {
					slack++
				}
			}
			if cum < exact || cum > exact+slack {
				t.Errorf("%s: le=%v cumulative %d, exact %d (+%d within precision)", name, b, cum, exact, slack)
			}
		}
		if cum+counts[len(bounds)] != uint64(len(samples)) {
			t.Errorf("%s: buckets sum to %d", name, cum+counts[len(bounds)])
		}
	}
}

func TestExpIndex(t *testing.T) {
	for scale := int32(-4); scale <= 8; scale++ {
		for e := -20; e <= 40; e++ {
			v := math.Ldexp(1, e)
			var want int32
			if scale >= 0 {
				want = int32(e)<<scale - 1
			} else {
				want = (int32(e) - 1) >> -scale
			}
			if got := ExpIndex(v, scale); got != want {
				t.Errorf("ExpIndex(2^%d, %d) = %d, want %d", e, scale, got, want)
			}
		}
	}
	// Property: base^k < v <= base^(k+1), checked in log space with a
	// margin, and monotonic in v.
	r := rand.New(rand.NewPCG(1, 2))
	for range 20_000 {
		scale := int32(r.IntN(13)) - 4
		v := math.Exp(r.Float64()*40 - 10)
		k := ExpIndex(v, scale)
		lg := math.Log2(v) * math.Ldexp(1, int(scale)) // log_base(v)
		if lg < float64(k)-1e-9 || lg > float64(k+1)+1e-9 {
			t.Fatalf("ExpIndex(%v, %d) = %d, log_base = %v", v, scale, k, lg)
		}
		if k2 := ExpIndex(v*1.0000001, scale); k2 < k {
			t.Fatalf("ExpIndex not monotonic at %v scale %d", v, scale)
		}
	}
}

func TestExponential(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	h := mustNew(t, Config{})
	samples := make([]int64, 10_000)
	for i := range samples {
		samples[i] = samplers["lognormal"](r)
		if i%100 == 0 {
			samples[i] = 0
		}
		h.Record(samples[i])
	}
	var s Snapshot
	h.Snapshot(&s)
	scale := s.ExponentialScale(160, 20)
	off, counts, zero := s.Exponential(scale, nil)
	if len(counts) > 160 {
		t.Fatalf("scale %d gives %d buckets", scale, len(counts))
	}
	if scale < 2 {
		t.Errorf("scale %d too coarse for this data", scale)
	}
	var total uint64 = zero
	for _, c := range counts {
		total += c
	}
	if total != s.Count || zero != 100 {
		t.Errorf("total %d zero %d, want %d 100", total, zero, s.Count)
	}
	// Each sample's own bucket index is within one bucket of where HDR put
	// it (HDR precision is far finer than a bucket at these scales).
	var exact = make(map[int32]uint64)
	for _, v := range samples {
		if v > 0 {
			exact[ExpIndex(float64(v), scale)]++
		}
	}
	var moved uint64
	for j, c := range counts {
		e := exact[off+int32(j)]
		if c > e {
			moved += c - e
		}
	}
	if moved > s.Count/50 {
		t.Errorf("%d of %d values in a different bucket than exact", moved, s.Count)
	}
}

func TestAllocs(t *testing.T) {
	h := mustNew(t, Config{})
	h.Record(1) // allocate this P's shard
	c, attached := NewCounter(), NewCounter()
	tally := h.Attach(attached)
	hv, err := NewHistogramVec(Config{}, []string{"node_type", "status"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	a := LabelValues{"llm", "ok"}
	b := LabelValues{"code", "ok"}
	over := LabelValues{"plugin", "error"}
	hv.With(&a).Record(1)
	hv.With(&b).Record(1)
	hv.With(&over).Record(1)
	var s Snapshot
	h.Snapshot(&s)
	v := int64(0)
	for _, tc := range []struct {
		name string
		n    float64
		f    func()
	}{
		{"Record", 0, func() { v += 997; h.Record(v % 10_000_000) }},
		{"Record/above", 0, func() { h.Record(math.MaxInt64) }},
		{"Record/negative", 0, func() { h.Record(-1) }},
		{"RecordAll", 0, func() { v += 997; h.RecordAll([]int64{v % 10_000_000, 5, -1}) }},
		{"Counter.Add", 0, func() { c.Add(3) }},
		{"RecordCounted", 0, func() { v += 997; h.RecordCounted(v%10_000_000, Tally{c: c}) }},
		{"RecordCounted/attached", 0, func() { v += 997; h.RecordCounted(v%10_000_000, tally) }},
		{"Counter.Value/attached", 0, func() { h.Record(42); _ = attached.Value() }},
		{"Vec.With/existing", 0, func() { hv.With(&a).Record(5) }},
		{"Vec.With/overflow", 0, func() { hv.With(&over).Record(5) }},
		{"Snapshot/steady", 0, func() { h.Record(42); h.Snapshot(&s) }},
		{"DeltaSnapshot/steady", 0, func() { h.Record(42); h.DeltaSnapshot(&s) }},
		{"BucketCounts", 0, func() { _ = s.BucketCounts(make([]uint64, 0, 16), []float64{1, 10, 100}) }},
		{"ValueAtQuantile", 0, func() { _ = s.ValueAtQuantile(0.99) }},
	} {
		t.Run(tc.name, func(t *testing.T) { testkit.WantAllocs(t, tc.n, tc.f) })
	}
}

// TestGeometryMatchesHdrhistogram: the dense counts a Histogram records
// into are laid out as hdrhistogram-go's, for every precision and several
// ranges: as many counts, and every value, at the edges of buckets and
// drawn at random, in the bucket hdrhistogram-go puts it in.
func TestGeometryMatchesHdrhistogram(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	for _, cfg := range []Config{
		{1, DefaultHighest, 1}, {1, DefaultHighest, 2}, {1, DefaultHighest, 3}, {1, DefaultHighest, 4}, {1, DefaultHighest, 5},
		{1, 2, 3}, {1, 2047, 3}, {1, 2048, 3}, {1000, 60_000_000_000, 3}, {3, 1 << 40, 2}, {1, math.MaxInt64 / 2, 3},
	} {
		ref := hdrhistogram.New(cfg.Lowest, cfg.Highest, cfg.Digits)
		g := newGeometry(cfg)
		if got, want := g.n*8, ref.ByteSize()-(6*8+5*4); got != want {
			t.Errorf("%+v: %d bytes of counts, hdrhistogram-go %d", cfg, got, want)
		}
		h := mustNew(t, cfg)
		record := func(v int64) {
			h.Record(v)
			if err := ref.RecordValue(v); err != nil {
				t.Fatalf("%+v: %v", cfg, err)
			}
		}
		for shift := range 63 {
			for _, v := range []int64{1<<shift - 1, 1 << shift, 1<<shift + 1} {
				if v <= cfg.Highest {
					record(v)
				}
			}
		}
		for range 2000 {
			record(r.Int64N(cfg.Highest + 1))
		}
		want := hdrhistogram.NewPacked(cfg.Lowest, cfg.Highest, cfg.Digits)
		want.MergeFrom(ref)
		var got, wantBuckets [][2]int64
		want.ForEachBucket(func(v, c int64) bool { wantBuckets = append(wantBuckets, [2]int64{v, c}); return true })
		var s Snapshot
		h.Snapshot(&s)
		s.ForEachBucket(func(v, c int64) bool { got = append(got, [2]int64{v, c}); return true })
		if !slices.Equal(got, wantBuckets) {
			t.Errorf("%+v: buckets differ from hdrhistogram-go's:\n got %v\nwant %v", cfg, got, wantBuckets)
		}
	}
}
