package engine

import (
	"testing"
	"time"
)

// TestClockCounterBack checks a time-stamp counter that went back below
// the clock's first reading, as a machine's counter may after a suspend
// and resume or a move to another host: the line, drawn at counter
// readings the counter no longer reaches, reads its own time for every
// reading (the ticks since it are negative, cut to 0), so the clock stood
// still, every node lasting 0, unless the counter is given up. The
// calibration that sees it must go back to the monotonic clock.
func TestClockCounterBack(t *testing.T) {
	var c clock
	c.init(time.Now().Add(-time.Second)) // an engine a second old
	if c.off {
		t.Skip("no invariant time-stamp counter")
	}
	for i := 0; c.tick0 == 0 && i < 1000; i++ {
		c.calibrate()
	}
	c.mono0 -= int64(minCalibration) // calibrate at once
	for i := 0; c.mult.Load() == 0 && i < 1000; i++ {
		c.calibrate()
	}
	if c.mult.Load() == 0 {
		t.Skip("no close pair of readings in 1000 tries")
	}
	// The counter goes back: the first reading and the line lie 2^62
	// ticks ahead of it.
	const back = 1 << 62
	c.tick0 += back
	c.publish(c.tick.Load()+back, c.mono.Load(), c.mult.Load())
	stood := c.now()
	time.Sleep(2 * maxClockSkew) // the monotonic clock moves past the line
	for i := 0; !c.off && i < 1000; i++ {
		c.calibrate()
	}
	a := int64(time.Since(c.base))
	x := c.now()
	if x < a-int64(maxClockSkew) {
		t.Fatalf("after the counter went back the clock reads %d (it stood at %d), the monotonic clock %d", x, stood, a)
	}
}

// TestClockCounterStalled checks a counter that ticked fewer times since
// the clock's first reading than the nanoseconds since it over 2^32 (a
// counter stalled, or gone back to just above that reading): the slope's
// division overflowed and panicked on the pipeline's goroutine, which
// took the process down. The counter must be given up.
func TestClockCounterStalled(t *testing.T) {
	var c clock
	c.init(time.Now().Add(-time.Second))
	if c.off {
		t.Skip("no invariant time-stamp counter")
	}
	for i := 0; !c.off && i < 1000; i++ {
		// The first reading 2^60 ns (36 years) ago, a moment's ticks ago.
		c.tick0, c.mono0 = tsc(), int64(time.Since(c.base))-1<<60
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("calibrate panicked on a stalled counter: %v", p)
				}
			}()
			c.calibrate()
		}()
	}
	if !c.off {
		t.Fatal("a stalled counter is still used")
	}
	a := int64(time.Since(c.base))
	if x := c.now(); x < a {
		t.Errorf("after giving up, read %d before %d", x, a)
	}
}
