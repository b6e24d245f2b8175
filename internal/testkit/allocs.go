package testkit

import (
	"testing"

	"github.com/flowtel/flowtel/internal/race"
)

// AllocRuns is how many times WantAllocs calls f after one warm-up call.
// testing.AllocsPerRun divides the mallocs by the runs in integers, so a
// budget of n means n allocations every call in the steady state, with
// fewer than AllocRuns one-off allocations (a buffer growing to its size)
// tolerated over the whole measure.
const AllocRuns = 1000

// WantAllocs fails t unless f allocates exactly n times per call, measured
// by testing.AllocsPerRun over AllocRuns calls. It skips t under the race
// detector, which allocates on its own, so that a budget means the same
// in every test that asserts one.
func WantAllocs(t testing.TB, n float64, f func()) {
	t.Helper()
	if race.Enabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	if got := testing.AllocsPerRun(AllocRuns, f); got != n {
		t.Errorf("%v allocs per call, want %v", got, n)
	}
}
