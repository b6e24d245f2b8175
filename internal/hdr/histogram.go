package hdr

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/flowtel/flowtel/internal/pin"
)

// Default range and precision: 1 µs .. 1 h in microseconds, 3 significant
// digits.
const (
	DefaultLowest  int64 = 1
	DefaultHighest int64 = 3_600_000_000
	DefaultDigits        = 3
)

// Errors returned by New when its Config is invalid.
var (
	ErrInvalidRange  = errors.New("hdr: invalid range")
	ErrInvalidDigits = errors.New("hdr: invalid significant digits")
)

// Config is the range and precision of a Histogram. The zero Config is the
// default: DefaultLowest, DefaultHighest, DefaultDigits.
type Config struct {
	// Lowest is the lowest discernible value, at least 1.
	Lowest int64
	// Highest is the highest trackable value, at least 2*Lowest. Larger
	// values are clamped to it before they are recorded.
	Highest int64
	// Digits is the number of significant decimal digits, 1 to 5.
	Digits int
}

// withDefaults returns c with its zero fields set to the defaults.
func (c Config) withDefaults() Config {
	if c.Lowest == 0 {
		c.Lowest = DefaultLowest
	}
	if c.Highest == 0 {
		c.Highest = DefaultHighest
	}
	if c.Digits == 0 {
		c.Digits = DefaultDigits
	}
	return c
}

// validate reports a sentinel error for an impossible configuration.
func (c Config) validate() error {
	if c.Lowest < 1 || c.Highest < 2*c.Lowest || c.Highest > math.MaxInt64/2 {
		return fmt.Errorf("cannot build a histogram over [%d, %d]: %w", c.Lowest, c.Highest, ErrInvalidRange)
	}
	if c.Digits < 1 || c.Digits > 5 {
		return fmt.Errorf("cannot build a histogram with %d significant digits: %w", c.Digits, ErrInvalidDigits)
	}
	return nil
}

// stats are the exact count, sum, min and max of recorded (clamped)
// values, kept beside the HDR counts.
type stats struct {
	count   uint64
	sum     int64
	min     int64
	max     int64
	clamped uint64
}

// add folds o into s.
func (s *stats) add(o *stats) {
	if o.count == 0 {
		s.clamped += o.clamped
		return
	}
	if s.count == 0 || o.min < s.min {
		s.min = o.min
	}
	if s.count == 0 || o.max > s.max {
		s.max = o.max
	}
	s.count += o.count
	s.sum += o.sum
	s.clamped += o.clamped
}

// buf is one dense HDR histogram, its counts laid out as hdrhistogram-go
// lays out its own (see geometry), and its exact stats. A buf is written
// by one goroutine at a time (the one pinned to its shard's P).
type buf struct {
	counts []uint64
	stats
	// tally counts the records of each attached Counter (Attach).
	tally [tallies]uint64
}

// tallies is the number of Counters a Histogram can tally: a request
// latency's histogram has one counter per return code, and a few codes
// are common; the others are added to atomically.
const tallies = 8

// record adds v, which the caller has clamped to [0, highest], at the
// index idx of its bucket.
func (b *buf) record(idx int, v int64, clamped bool) {
	b.counts[idx]++
	// Branches, not min and max: once the extremes are seen they are
	// almost never taken, and a record stores nothing for them (where the
	// record ends with an atomic add, each store must drain before it). min
	// starts at MaxInt64 (reset), so there is no first-value test.
	if v < b.min {
		b.min = v
	}
	if v > b.max {
		b.max = v
	}
	b.sum += v
	// No count++: fold sums the counts, and a record has one store less
	// (0.3-0.4 ns when the record ended with an atomic add).
	if clamped {
		b.clamped++
	}
}

// reset empties b for reuse.
func (b *buf) reset(g *geometry) {
	_, used := b.used(g)
	clear(used)
	b.stats = stats{min: math.MaxInt64}
	b.tally = [tallies]uint64{}
}

// used returns the counts from the bucket of the least value recorded to
// that of the greatest, and the index of the first: the only ones a
// collector need read or clear (typically half of the 23,552 of the
// default range, or fewer).
func (b *buf) used(g *geometry) (int, []uint64) {
	if b.min > b.max { // nothing recorded: min starts at MaxInt64
		return 0, nil
	}
	lo := g.index(b.min)
	return lo, b.counts[lo : g.index(b.max)+1]
}

// geometry is the layout of an HDR histogram's dense counts, computed as
// hdrhistogram-go computes it (TestGeometryMatchesHdrhistogram), so that
// a value recorded here lands in the bucket it would land in there.
type geometry struct {
	unit uint8 // log2 of Lowest: values below 1<<unit share a bucket
	half uint8 // log2 of half the sub-buckets of a bucket
	// mask is the sub-bucket mask shifted by unit: v|mask has its highest
	// bit at least at the top of bucket 0.
	mask int64
	n    int // the number of counts
}

func newGeometry(cfg Config) geometry {
	unit := int(math.Floor(math.Log2(float64(cfg.Lowest))))
	half := max(int(math.Ceil(math.Log2(2*math.Pow10(cfg.Digits)))), 1) - 1
	subBuckets := int64(2) << half
	buckets := 1
	for untrackable := subBuckets << unit; untrackable <= cfg.Highest; untrackable <<= 1 {
		buckets++
		if untrackable > math.MaxInt64/2 {
			break
		}
	}
	return geometry{unit: uint8(unit), half: uint8(half), mask: (subBuckets - 1) << unit, n: (buckets + 1) << half}
}

// index returns the index in the dense counts of v, in [0, Highest]: the
// bucket is the power of two above v's sub-bucket range, the sub-bucket
// v's top half+1 bits in it. The shifts are masked to 63 (they are
// smaller) so that the compiler emits no test for larger ones.
func (g *geometry) index(v int64) int {
	bucket := 63 - int(g.unit) - int(g.half) - bits.LeadingZeros64(uint64(v|g.mask))
	return bucket<<(g.half&63) + int(v>>((uint(bucket)+uint(g.unit))&63))
}

// value returns the lowest value of the bucket at index i.
func (g *geometry) value(i int) int64 {
	halfCount := 1 << g.half
	bucket, sub := i>>g.half-1, i&(halfCount-1)+halfCount
	if bucket < 0 {
		bucket, sub = 0, sub-halfCount
	}
	return int64(sub) << (uint(bucket) + uint(g.unit))
}

// shard is the per-P state of a Histogram, padded to its own cache lines
// so that two cores never write the same line.
type shard struct {
	// seq is odd while a record is in progress. Only the writer pinned to
	// the shard's P changes it (begin, end).
	seq atomic.Uint64
	// cur is the buffer records go to; nil until the first record on this P.
	cur atomic.Pointer[buf]
	// drained is seq as the last collector read it before it installed
	// cur, written by collectors under the Histogram's mu: while seq
	// equals it, no record in cur can be seen and drain leaves the shard
	// alone.
	drained uint64
	_       [shardBytes - 24]byte
}

// Histogram is a concurrent latency recorder. Create it with New.
type Histogram struct {
	cfg     Config
	highest int64
	geom    geometry
	shards  []shard

	// extra takes records from Ps whose id is beyond len(shards), which
	// happens only if GOMAXPROCS grew after New.
	extra struct {
		mu sync.Mutex
		b  *buf
	}

	// mu serialises collectors. The fields below belong to them.
	mu sync.Mutex
	// attached are the Counters of the tally slots, in slot order.
	attached  []*Counter
	spare     *buf
	tmp       *hdrhistogram.PackedHistogram
	cum       *hdrhistogram.PackedHistogram
	cumStats  stats
	delta     *hdrhistogram.PackedHistogram
	deltaStat stats
	// pass is the last Batch drain (drainAll) that held mu, so that one
	// that finds h twice drains it once.
	pass uint64
}

// New returns a Histogram for cfg. It allocates no dense histogram until a
// value is recorded.
func New(cfg Config) (*Histogram, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Histogram{
		cfg:     cfg,
		highest: cfg.Highest,
		geom:    newGeometry(cfg),
		shards:  make([]shard, runtime.GOMAXPROCS(0)),
		tmp:     newPacked(cfg),
		cum:     newPacked(cfg),
		delta:   newPacked(cfg),
	}, nil
}

// Config returns the range and precision of h, defaults filled in.
func (h *Histogram) Config() Config { return h.cfg }

func newPacked(cfg Config) *hdrhistogram.PackedHistogram {
	return hdrhistogram.NewPacked(cfg.Lowest, cfg.Highest, cfg.Digits)
}

func (h *Histogram) newBuf() *buf {
	return &buf{counts: make([]uint64, h.geom.n), stats: stats{min: math.MaxInt64}}
}

// Record records v. A negative v is recorded as 0 and a v above the
// configured highest value as the highest value; both are counted in
// Snapshot.Clamped. Record never blocks on a collector.
func (h *Histogram) Record(v int64) { h.RecordCounted(v, Tally{}) }

// Tally is how RecordCounted counts a Counter: in a slot of the shards of
// the Histogram whose Attach returned it, if the Counter is attached
// there, or by an atomic add. The zero Tally counts nothing.
type Tally struct {
	c *Counter
	// slot is the Counter's tally slot plus 1, or 0 if it is added to.
	slot int
}

// RecordCounted records v as Record does and counts 1 as t says, pinned
// to the current P once for both (a request's latency and its count). t
// must come from h's Attach (or be the zero Tally). It is the whole fast
// path in one frame: the pin, the shard's two sequence marks (plain
// stores with the asymmetric fence, see doc.go), the dense
// bucket's increment and, for a Counter attached to h, a plain increment
// of its tally in the same buffer instead of a third atomic add
// (BenchmarkRecordLatency in engine). The slot is resolved by Attach, not
// here: reading it from the Counter's attachment cost two dependent loads
// and a compare per record (8.56 -> 8.25 ns, p=0.000, n=48, TestCPUTime).
func (h *Histogram) RecordCounted(v int64, t Tally) {
	pid := pin.Pin()
	if pid < len(h.shards) {
		s := &h.shards[pid]
		n := s.begin()
		if b := s.cur.Load(); b != nil {
			v, clamped := h.clamp(v)
			b.record(h.geom.index(v), v, clamped)
			if t.slot != 0 {
				b.tally[(t.slot-1)&(tallies-1)]++
			} else if t.c != nil {
				t.c.add(pid, 1)
			}
			s.end(n)
			pin.Unpin()
			return
		}
		s.end(n)
	}
	if t.c != nil {
		t.c.add(pid, 1)
	}
	pin.Unpin()
	h.recordSlow(pid, v)
}

// RecordAll records every value of vs as Record does, pinned to the
// current P once for all of them, with the shard's two sequence marks
// once for all, where Record makes them per value: the engine's pipeline
// records the durations of a run's nodes of one type so. A collector
// waits for the whole batch: keep it short (the pipeline's are at most 32
// values).
func (h *Histogram) RecordAll(vs []int64) {
	if len(vs) == 0 {
		return
	}
	pid := pin.Pin()
	if pid < len(h.shards) {
		s := &h.shards[pid]
		n := s.begin()
		if b := s.cur.Load(); b != nil {
			for _, v := range vs {
				v, clamped := h.clamp(v)
				b.record(h.geom.index(v), v, clamped)
			}
			s.end(n)
			pin.Unpin()
			return
		}
		s.end(n)
	}
	pin.Unpin()
	for _, v := range vs {
		h.Record(v)
	}
}

// Attach lets RecordCounted count c in h's own shards, which saves an
// atomic add per record, and returns the Tally to pass it: c's slot in h,
// or an atomic add if c is attached to another Histogram or h has tallied
// tallies Counters already. Resolving a request series attaches its
// counter to its histogram. Attach allocates only when it attaches.
func (h *Histogram) Attach(c *Counter) Tally {
	if c.host.Load() == nil {
		h.attach(c)
	}
	if a := c.host.Load(); a.h == h {
		return Tally{c: c, slot: a.slot + 1}
	}
	return Tally{c: c}
}

func (h *Histogram) attach(c *Counter) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.attached) == tallies {
		c.host.CompareAndSwap(nil, noHost)
		return
	}
	if c.host.CompareAndSwap(nil, &attachment{h: h, slot: len(h.attached)}) {
		h.attached = append(h.attached, c)
	}
}

// collect moves what the shards recorded into the collector's histograms,
// and the tallies into their Counters.
func (h *Histogram) collect() {
	h.mu.Lock()
	h.drain()
	h.mu.Unlock()
}

// clamp returns v within [0, highest], and whether it was outside.
func (h *Histogram) clamp(v int64) (int64, bool) {
	if uint64(v) > uint64(h.highest) { // a negative v too
		return max(min(v, h.highest), 0), true
	}
	return v, false
}

// recordSlow allocates the shard of a P on its first record, or records
// into the locked extra buffer for a P beyond the shards. c was counted.
func (h *Histogram) recordSlow(pid int, v int64) {
	if pid < len(h.shards) {
		// Allocate unpinned: a 184 KiB allocation may assist the GC.
		h.shards[pid].cur.CompareAndSwap(nil, h.newBuf())
		h.RecordCounted(v, Tally{}) // The goroutine may now run on another P; that P's first record allocates its own.
		return
	}
	v, clamped := h.clamp(v)
	h.extra.mu.Lock()
	if h.extra.b == nil {
		h.extra.b = h.newBuf()
	}
	h.extra.b.record(h.geom.index(v), v, clamped)
	h.extra.mu.Unlock()
}

// drain moves every recorded value into the collector's histograms. It
// must be called with h.mu held.
func (h *Histogram) drain() {
	for i := range h.shards {
		if old := h.swap(i); old != nil {
			fence()
			h.settle(i, old)
		}
	}
	h.drainExtra()
}

// swap installs the spare as shard i's buffer and returns the old one,
// or nil if no record that this collection must see has begun in it since
// it was installed (doc.go): then there is nothing to swap, fence or fold.
// The caller holds h.mu, and fences before it settles the old buffer.
func (h *Histogram) swap(i int) *buf {
	s := &h.shards[i]
	old := s.cur.Load()
	u := s.seq.Load()
	if old == nil || u == s.drained {
		return nil
	}
	if h.spare == nil {
		h.spare = h.newBuf()
	}
	// Only collectors (serialised by h.mu) replace a non-nil buffer;
	// writers only install one where there was none.
	s.cur.Store(h.spare)
	// A record that finds the new buffer began at u or after, so the
	// sequence passes u once it is seen (doc.go).
	s.drained = u
	h.spare = nil
	return old
}

// settle waits for the records in progress on shard i, folds old, the
// buffer swap took from it, and keeps it as the spare.
func (h *Histogram) settle(i int, old *buf) {
	waitQuiescent(&h.shards[i].seq)
	h.fold(old)
	old.reset(&h.geom)
	h.spare = old
}

// drainExtra folds the locked extra buffer. The caller holds h.mu.
func (h *Histogram) drainExtra() {
	h.extra.mu.Lock()
	if b := h.extra.b; b != nil {
		h.fold(b)
		b.reset(&h.geom)
	}
	h.extra.mu.Unlock()
}

// drainAll drains hs as drain drains each, with one fence per shard index
// for all of them where drain makes one per shard: each histogram's spare
// goes into its shard i before the fence, and the old buffers are folded
// after it. A histogram whose mu another collector holds (which may only
// read it, SnapshotDrained) is drained alone once the pass is done, when
// that collector lets it go: waiting for it inside the pass could
// deadlock two passes that hold each other's histograms. Its drain
// fences only if something was recorded since the other's. A histogram
// listed twice is drained once (pass). held and locked are scratch space,
// returned for reuse.
func drainAll(hs, held, locked []*Histogram, olds []*buf) ([]*Histogram, []*Histogram, []*buf) {
	held, locked, olds = held[:0], locked[:0], olds[:0]
	pass := passes.Add(1)
	shards := 0
	for _, h := range hs {
		if !h.mu.TryLock() {
			held = append(held, h)
			continue
		}
		h.pass = pass
		locked = append(locked, h)
		olds = append(olds, nil)
		shards = max(shards, len(h.shards))
	}
	for i := range shards {
		swapped := false
		for k, h := range locked {
			if i < len(h.shards) {
				olds[k] = h.swap(i)
				swapped = swapped || olds[k] != nil
			}
		}
		if !swapped {
			continue
		}
		fence()
		for k, h := range locked {
			if olds[k] != nil {
				h.settle(i, olds[k])
				olds[k] = nil
			}
		}
	}
	for _, h := range locked {
		h.drainExtra()
		h.mu.Unlock()
	}
	for _, h := range held {
		h.mu.Lock()
		if h.pass != pass {
			h.pass = pass
			h.drain()
		}
		h.mu.Unlock()
	}
	clear(held)
	clear(locked)
	return held, locked, olds
}

// passes numbers the drains of Batches (Histogram.pass).
var passes atomic.Uint64

// waitQuiescent returns once no record that began before the call is still
// in progress on the shard whose sequence is seq.
func waitQuiescent(seq *atomic.Uint64) {
	v := seq.Load()
	if v&1 == 0 {
		return
	}
	// A writer is pinned mid-record and cannot be preempted; it finishes
	// in nanoseconds unless the OS deschedules its thread.
	for seq.Load() == v {
		runtime.Gosched()
	}
}

// fold adds the contents of b, which no writer can reach, to the cumulative
// and delta histograms.
func (h *Histogram) fold(b *buf) {
	for i, c := range h.attached {
		if n := b.tally[i]; n != 0 {
			c.shards[0].n.Add(n)
		}
	}
	lo, used := b.used(&h.geom)
	b.count = 0 // records do not count themselves: the count is the sum of the counts
	for _, n := range used {
		b.count += n
	}
	h.cumStats.add(&b.stats)
	h.deltaStat.add(&b.stats)
	if b.count == 0 {
		return
	}
	h.tmp.Reset()
	for i, n := range used {
		if n != 0 {
			// The value is in range and the counts are at most b.count, so
			// RecordValues cannot fail (and never builds its error).
			_ = h.tmp.RecordValues(h.geom.value(lo+i), int64(n))
		}
	}
	h.cum.Merge(h.tmp)
	h.delta.Merge(h.tmp)
}

// Snapshot fills s with everything recorded since New (cumulative).
func (h *Histogram) Snapshot(s *Snapshot) {
	h.mu.Lock()
	h.drain()
	s.fill(h.cfg, h.cum, &h.cumStats)
	h.mu.Unlock()
}

// DeltaSnapshot fills s with everything recorded since the previous
// DeltaSnapshot (or New), and starts a new delta interval. Snapshot and
// DeltaSnapshot may be mixed: each sees every value exactly once.
func (h *Histogram) DeltaSnapshot(s *Snapshot) {
	h.mu.Lock()
	h.drain()
	h.takeDelta(s)
	h.mu.Unlock()
}

// SnapshotDrained is Snapshot without the drain: it fills s with what
// collections have drained from h so far. After a Batch's Drain that
// held h, that is every record that returned before the Drain began,
// with no fence of its own.
func (h *Histogram) SnapshotDrained(s *Snapshot) {
	h.mu.Lock()
	s.fill(h.cfg, h.cum, &h.cumStats)
	h.mu.Unlock()
}

// DeltaSnapshotDrained is DeltaSnapshot without the drain (see
// SnapshotDrained): what collections have drained since the previous
// delta snapshot, and a new delta interval.
func (h *Histogram) DeltaSnapshotDrained(s *Snapshot) {
	h.mu.Lock()
	h.takeDelta(s)
	h.mu.Unlock()
}

// takeDelta fills s with the delta interval and starts a new one. The
// caller holds h.mu.
func (h *Histogram) takeDelta(s *Snapshot) {
	s.fill(h.cfg, h.delta, &h.deltaStat)
	h.delta.Reset()
	h.deltaStat = stats{}
}
