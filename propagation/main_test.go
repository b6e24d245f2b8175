package propagation

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/flowtel/flowtel/internal/race"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wantAllocs asserts that f allocates exactly n times per run on average.
func wantAllocs(t *testing.T, n float64, f func()) {
	t.Helper()
	if race.Enabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	if got := testing.AllocsPerRun(1000, f); got != n {
		t.Errorf("got %v allocs, want %v", got, n)
	}
}
