package engine

import (
	"sync"
	"testing"
	"time"
)

// TestClockFollowsMonotonic calibrates a clock while it runs and checks
// that every reading lies between two readings of the runtime's
// monotonic clock taken around it (widened by maxClockSkew), and that
// readings on one goroutine never go back, across calibrations and while
// other goroutines read it. No bound on how long anything takes.
func TestClockFollowsMonotonic(t *testing.T) {
	var c clock
	c.init(time.Now())
	if c.off {
		t.Log("no invariant time-stamp counter: the clock is time.Since")
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			last := c.now()
			for {
				select {
				case <-stop:
					return
				default:
				}
				now := c.now()
				if now < last {
					t.Errorf("the clock went back from %d to %d", last, now)
					return
				}
				last = now
			}
		})
	}
	// At least 300 ms of readings, and on until a calibration took: a
	// pair read by a goroutine preempted in between is refused, so on a
	// loaded machine the first line can come later (a liveness guard of
	// a minute, not a timing assertion).
	deadline, guard := time.Now().Add(300*time.Millisecond), time.Now().Add(time.Minute)
	calibrated := 0
	for now := time.Now(); now.Before(deadline) || calibrated == 0 && !c.off && now.Before(guard); now = time.Now() {
		c.calibrate()
		if c.mult.Load() != 0 {
			calibrated++
		}
		for range 100 {
			a := int64(time.Since(c.base))
			x := c.now()
			b := int64(time.Since(c.base))
			if x < a-int64(maxClockSkew) || x > b+int64(maxClockSkew) {
				t.Fatalf("clock read %d between monotonic readings %d and %d", x, a, b)
			}
		}
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if !c.off && calibrated == 0 {
		t.Error("the time-stamp counter was never calibrated")
	}
}

// TestClockGivesUpOnSkew checks that a counter whose line disagrees with
// the monotonic clock is no longer used.
func TestClockGivesUpOnSkew(t *testing.T) {
	var c clock
	c.init(time.Now().Add(-time.Second)) // an engine a second old
	if c.off {
		t.Skip("no invariant time-stamp counter")
	}
	// A pair is refused when the goroutine was preempted while reading it:
	// try until one is read (a loaded machine refuses some).
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
	c.mono.Add(int64(10 * maxClockSkew)) // the line jumps ahead
	for i := 0; !c.off && i < 1000; i++ {
		c.calibrate()
	}
	if !c.off || c.mult.Load() != 0 {
		t.Fatal("a counter 10 ms off the monotonic clock is still used")
	}
	a := int64(time.Since(c.base))
	if x := c.now(); x < a {
		t.Errorf("after giving up, read %d before %d", x, a)
	}
}
