package hdr

import (
	"errors"
	"fmt"
	"math"
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

// buf is one dense HDR histogram and its exact stats. A buf is written by
// one goroutine at a time (the one pinned to its shard's P).
type buf struct {
	h *hdrhistogram.Histogram
	stats
}

// record adds v, which the caller has clamped to [0, highest].
func (b *buf) record(v int64, clamped bool) {
	// v is within range, so RecordValue cannot fail and never reaches its
	// allocating error path.
	_ = b.h.RecordValue(v)
	if b.count == 0 || v < b.min {
		b.min = v
	}
	if v > b.max {
		b.max = v
	}
	b.count++
	b.sum += v
	if clamped {
		b.clamped++
	}
}

// reset empties b for reuse.
func (b *buf) reset() {
	if b.count != 0 {
		b.h.Reset()
	}
	b.stats = stats{}
}

// shard is the per-P state of a Histogram, padded to its own cache lines
// so that two cores never write the same line.
type shard struct {
	// seq is odd while a record is in progress.
	seq atomic.Uint64
	// cur is the buffer records go to; nil until the first record on this P.
	cur atomic.Pointer[buf]
	_   [shardBytes - 16]byte
}

// Histogram is a concurrent latency recorder. Create it with New.
type Histogram struct {
	cfg     Config
	highest int64
	shards  []shard

	// extra takes records from Ps whose id is beyond len(shards), which
	// happens only if GOMAXPROCS grew after New.
	extra struct {
		mu sync.Mutex
		b  *buf
	}

	// mu serialises collectors. The fields below belong to them.
	mu        sync.Mutex
	spare     *buf
	tmp       *hdrhistogram.PackedHistogram
	cum       *hdrhistogram.PackedHistogram
	cumStats  stats
	delta     *hdrhistogram.PackedHistogram
	deltaStat stats
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

func newBuf(cfg Config) *buf {
	return &buf{h: hdrhistogram.New(cfg.Lowest, cfg.Highest, cfg.Digits)}
}

// Record records v. A negative v is recorded as 0 and a v above the
// configured highest value as the highest value; both are counted in
// Snapshot.Clamped. Record never blocks on a collector.
func (h *Histogram) Record(v int64) { h.RecordCounted(v, nil) }

// RecordCounted records v as Record does and, when c is not nil, adds 1
// to c, pinned to the current P once for both (a request's latency and
// its count): one pin and three atomic adds instead of two pins.
func (h *Histogram) RecordCounted(v int64, c *Counter) {
	clamped := false
	if v > h.highest {
		v, clamped = h.highest, true
	} else if v < 0 {
		v, clamped = 0, true
	}
	h.record(v, clamped, c)
}

// record records v, already clamped, into the current P's shard, and
// adds 1 to c unless it is nil.
func (h *Histogram) record(v int64, clamped bool, c *Counter) {
	pid := pin.Pin()
	if c != nil {
		c.shards[uint(pid)%uint(len(c.shards))].n.Add(1)
	}
	if pid < len(h.shards) {
		s := &h.shards[pid]
		s.seq.Add(1)
		if b := s.cur.Load(); b != nil {
			b.record(v, clamped)
			s.seq.Add(1)
			pin.Unpin()
			return
		}
		s.seq.Add(1)
	}
	pin.Unpin()
	h.recordSlow(pid, v, clamped)
}

// recordSlow allocates the shard of a P on its first record, or records
// into the locked extra buffer for a P beyond the shards.
func (h *Histogram) recordSlow(pid int, v int64, clamped bool) {
	if pid < len(h.shards) {
		// Allocate unpinned: a 184 KiB allocation may assist the GC.
		h.shards[pid].cur.CompareAndSwap(nil, newBuf(h.cfg))
		h.record(v, clamped, nil) // The goroutine may now run on another P; record copes. c was counted.
		return
	}
	h.extra.mu.Lock()
	if h.extra.b == nil {
		h.extra.b = newBuf(h.cfg)
	}
	h.extra.b.record(v, clamped)
	h.extra.mu.Unlock()
}

// drain moves every recorded value into the collector's histograms. It
// must be called with h.mu held.
func (h *Histogram) drain() {
	for i := range h.shards {
		s := &h.shards[i]
		old := s.cur.Load()
		if old == nil {
			continue
		}
		if h.spare == nil {
			h.spare = newBuf(h.cfg)
		}
		// Only collectors (serialised by h.mu) replace a non-nil buffer;
		// writers only install one where there was none.
		s.cur.Store(h.spare)
		waitQuiescent(&s.seq)
		h.fold(old)
		old.reset()
		h.spare = old
	}
	h.extra.mu.Lock()
	if b := h.extra.b; b != nil {
		h.fold(b)
		b.reset()
	}
	h.extra.mu.Unlock()
}

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
	if b.count == 0 {
		h.cumStats.add(&b.stats)
		h.deltaStat.add(&b.stats)
		return
	}
	h.tmp.Reset()
	h.tmp.MergeFrom(b.h)
	h.cum.Merge(h.tmp)
	h.delta.Merge(h.tmp)
	h.cumStats.add(&b.stats)
	h.deltaStat.add(&b.stats)
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
	s.fill(h.cfg, h.delta, &h.deltaStat)
	h.delta.Reset()
	h.deltaStat = stats{}
	h.mu.Unlock()
}
