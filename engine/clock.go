package engine

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// clock is the engine's monotonic clock: nanoseconds since New, read once
// per event after StartRun (node start and end, log entries, first
// frames). On amd64 with an invariant time-stamp counter it reads the
// counter (RDTSC) and scales it by a calibration the pipeline keeps
// against the runtime's monotonic clock; elsewhere, and until the first
// calibration, it is time.Since. The reason is cost: on the AMD EPYC VMs
// this was measured on, time.Since took 25.5 ns of thread CPU time and
// RDTSC 9.5 ns, and a node reads the clock twice (TestCPUTime -cputime).
//
// The calibration is a line through the counter reading and the
// monotonic time of one instant, with a slope (nanoseconds per tick)
// measured over the whole time since New, so its error shrinks as the
// engine runs. It is published as a sequence-locked triple of atomics
// (no allocation, no lock for readers). A new line never starts below the
// old one's reading at that instant, so readings do not go back; when the
// old line ran ahead of the monotonic clock, the new slope is lowered to
// meet it within a second. Should the counter ever disagree with the
// monotonic clock by more than maxClockSkew, go back below its first
// reading or stall, it is no longer used (giveUp).
type clock struct {
	base time.Time
	seq  atomic.Uint64 // odd while the pipeline writes the line
	tick atomic.Uint64 // counter reading at mono
	mono atomic.Int64
	mult atomic.Uint64 // nanoseconds per tick, 32.32 fixed point; 0: not calibrated

	// The pipeline's own.
	off    bool   // no counter, or it disagreed
	tick0  uint64 // the first instant, at New
	mono0  int64
	tickNs uint64 // ticks per second of the last line, for its correction
}

// maxClockSkew is how far the counter's line may be from the monotonic
// clock at a calibration before the counter is given up.
const maxClockSkew = time.Millisecond

// minCalibration is the shortest time over which a slope is measured.
const minCalibration = 10 * time.Millisecond

// init starts the clock at base, before the engine is shared.
func (c *clock) init(base time.Time) {
	c.base, c.off = base, !invariantTSC()
	if !c.off {
		c.tick0, c.mono0, _ = c.pair() // 0 when the pair is off: calibrate takes the first
	}
}

// now returns nanoseconds since base: the counter through the line
// (clockNow), or, until the first calibration and once the counter was
// given up, time.Since (clockSince).
func (c *clock) now() int64 { return clockNow(c) }

// clockSince is the clock without the counter: time.Since(base). On amd64
// clockNow jumps to it when there is no line.
//
//lint:ignore U1000 called from clock_amd64.s
func clockSince(c *clock) int64 { return int64(time.Since(c.base)) }

// maxPairTicks bounds the counter ticks between the two counter readings
// around a monotonic reading for the pair to count (about 20 µs at
// 3 GHz): a goroutine preempted in between reads no pair at all, rather
// than a wrong one.
const maxPairTicks = 1 << 16

// pair reads the counter and the monotonic clock at one instant: the
// closest of three tries, ok when it is close enough.
func (c *clock) pair() (tick uint64, mono int64, ok bool) {
	best := ^uint64(0)
	for range 3 {
		a := tsc()
		m := int64(time.Since(c.base))
		b := tsc()
		if b-a < best {
			best, tick, mono = b-a, a+(b-a)/2, m
		}
	}
	if best > maxPairTicks {
		return 0, 0, false
	}
	return tick, mono, true
}

// calibrate draws a new line. The pipeline calls it when the last line is
// older than half the clock's age, at least minCalibration and at most a
// second (calibrateEvery).
func (c *clock) calibrate() {
	if c.off {
		return
	}
	t, m, ok := c.pair()
	if !ok {
		return
	}
	if c.tick0 == 0 {
		c.tick0, c.mono0 = t, m
		return
	}
	if m-c.mono0 < int64(minCalibration) {
		return
	}
	w := uint64(m - c.mono0)
	if t <= c.tick0 || w>>32 >= t-c.tick0 {
		// The counter went back (a suspend and resume, a move to another
		// host; minCalibration is far beyond two cores' counters'
		// difference), and a line drawn at readings it no longer reaches
		// would read its own time for ever (TestClockCounterBack); or
		// it ticked fewer times than nanoseconds over 2^32, stalled, and
		// the slope's Div64 would panic (TestClockCounterStalled).
		c.giveUp()
		return
	}
	mult, _ := bits.Div64(w>>32, w<<32, t-c.tick0)
	mono := m
	if c.mult.Load() != 0 {
		hi, lo := bits.Mul64(t-c.tick.Load(), c.mult.Load())
		at := c.mono.Load() + int64(hi<<32|lo>>32)
		if skew := at - m; skew > int64(maxClockSkew) || skew < -int64(maxClockSkew) {
			c.giveUp()
			return
		}
		if at > m {
			// Never back: start at the old line and lower the slope so
			// that it meets the monotonic clock within a second.
			mono = at
			if c.tickNs > 0 {
				mult -= min(uint64(at-m)<<32/c.tickNs, mult/2)
			}
		}
	}
	if mult == 0 {
		return
	}
	hi, lo := bits.Mul64(t-c.tick0, uint64(time.Second))
	c.tickNs, _ = bits.Div64(hi, lo, w)
	c.publish(t, mono, mult)
}

// giveUp stops reading the counter: back to time.Since, which readings
// of the last line were at most maxClockSkew ahead of (a line further off
// is given up), or behind (a counter gone back or stalled).
func (c *clock) giveUp() {
	c.off = true
	c.publish(0, 0, 0)
}

func (c *clock) publish(t uint64, mono int64, mult uint64) {
	c.seq.Add(1)
	c.tick.Store(t)
	c.mono.Store(mono)
	c.mult.Store(mult)
	c.seq.Add(1)
}

// calibrateEvery returns how long after the last calibration, at mono,
// the next is due.
func calibrateEvery(mono int64) time.Duration {
	return min(max(time.Duration(mono/2), minCalibration), time.Second)
}
