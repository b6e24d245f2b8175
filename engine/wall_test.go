package engine

import (
	"testing"
	"time"
)

// TestRunWallTime checks that a run's wall time, which StartRun takes from
// the engine's clock and the wall anchor instead of time.Now, lies between
// time.Now readings taken around StartRun (widened by twice maxClockSkew,
// the most the clock strays from the monotonic one, at the anchor and at
// the run), that a fresh anchor is what runs follow, and that one older
// than wallResync is read again: a wall clock stepped by an hour is
// followed by the next run. No bound on how long anything takes.
func TestRunWallTime(t *testing.T) {
	e, sink := newTestEngine(t)
	start := func() int64 {
		t.Helper()
		run := e.StartRun(RunInfo{FlowID: "wall"})
		run.End(0, "")
		flush(t, e)
		runs := sink.Runs()
		return runs[len(runs)-1].StartUnixNano
	}
	around := func(what string) {
		t.Helper()
		before := time.Now().UnixNano()
		got := start()
		after := time.Now().UnixNano()
		if skew := 2 * int64(maxClockSkew); got < before-skew || got > after+skew {
			t.Errorf("%s: run started at %d, time.Now read %d and %d around it", what, got, before, after)
		}
	}
	around("new engine")

	// An anchor an hour off, as if the wall clock had been stepped since
	// it was read: while it is fresh (here read "in an hour", so that no
	// pause of the test ages it), runs follow it.
	e.wall.off.Add(int64(time.Hour))
	e.wall.at.Store(e.mono() + int64(time.Hour))
	if got, now := start(), time.Now().UnixNano(); got < now+int64(time.Hour-time.Minute) {
		t.Errorf("a fresh anchor was not used: run started at %d, time.Now %d", got, now)
	}
	// Once it is wallResync old, the next run reads time.Now again.
	e.wall.at.Store(e.mono() - int64(wallResync) - 1)
	around("after the anchor aged")
}

// TestRunWallTimeStalledResync: a resync whose goroutine is descheduled
// between its reading of time.Now and of the engine's clock (a loaded
// host) does not anchor the runs of the next second early by the stall.
func TestRunWallTimeStalledResync(t *testing.T) {
	stalled := false
	wallNow = func() time.Time {
		now := time.Now()
		if !stalled {
			stalled = true
			time.Sleep(20 * time.Millisecond) // descheduled after reading the wall clock
		}
		return now
	}
	t.Cleanup(func() { wallNow = time.Now })
	e, sink := newTestEngine(t)
	e.wall.at.Store(e.mono() - int64(wallResync) - 1) // the next run resyncs
	for _, what := range []string{"the resync's run", "the next run"} {
		before := time.Now().UnixNano()
		run := e.StartRun(RunInfo{FlowID: "wall"})
		after := time.Now().UnixNano()
		run.End(0, "")
		flush(t, e)
		runs := sink.Runs()
		if got, skew := runs[len(runs)-1].StartUnixNano, 2*int64(maxClockSkew); got < before-skew || got > after+skew {
			t.Errorf("%s started at %d, time.Now read %d and %d around StartRun", what, got, before, after)
		}
	}
	if !stalled {
		t.Fatal("StartRun did not read the wall clock again")
	}
}
