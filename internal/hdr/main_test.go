package hdr

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wantAllocs fails t unless f allocates exactly n times per run. It is
// skipped under the race detector, which allocates on its own.
func wantAllocs(t *testing.T, n float64, f func()) {
	t.Helper()
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	if got := testing.AllocsPerRun(200, f); got != n {
		t.Errorf("allocs per run = %v, want %v", got, n)
	}
}
