package otlp

import (
	"testing"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
)

// TestOffloadFailedErrorNeverFalls feeds appendOffload the offloader's
// stats as encode.Offloader.Stats can read them while a Put is refused:
// the refusal counted in Refused before its Failed (the store's worker
// adds them in that order, Stats loads Failed first). failed_error is
// Failed less Refused and TimedOut: it read 1, 0, then -1 (the uint64
// wrapped), a counter going down (Prometheus takes it for a reset, rate
// jumps) or negative, and over OTLP delta a point of -1. It must never go
// down, nor any delta below 0, and the deltas must add up to the
// cumulative value.
func TestOffloadFailedErrorNeverFalls(t *testing.T) {
	reads := []encode.OffloadStats{
		{Failed: 2, Refused: 1},
		{Failed: 2, Refused: 2}, // a refusal under way: Refused counted, Failed not yet
		{Failed: 2, Refused: 3, TimedOut: 0},
		{Failed: 4, Refused: 3},
		{Failed: 4, Refused: 3, TimedOut: 1}, // a timeout under way
		{Failed: 6, Refused: 3, TimedOut: 2},
	}
	failedError := func(ms []encode.Metric) int64 {
		t.Helper()
		for _, p := range ms[0].Points {
			if p.Attrs[0].Value.Str() == "failed_error" {
				return p.Int
			}
		}
		t.Fatal("no failed_error point")
		return 0
	}
	var cum, delta exporterMetrics
	var last, sum int64
	for i, st := range reads {
		c := failedError(cum.appendOffload(nil, st, engine.MetricsWindow{}))
		d := failedError(delta.appendOffload(nil, st, engine.MetricsWindow{Delta: true}))
		if c < last || d < 0 {
			t.Errorf("read %d %+v: failed_error cumulative %d after %d, delta %d", i, st, c, last, d)
		}
		last, sum = c, sum+d
		if sum != c {
			t.Errorf("read %d: the deltas add up to %d, the cumulative value is %d", i, sum, c)
		}
	}
	if last != 1 {
		t.Errorf("failed_error ends at %d, want 1 (6 failed: 3 refused, 2 timed out)", last)
	}
}
