package engine

import "testing"

// TestFoldSink: with a SinkReporter, what the sink still holds is in
// flight, what it lost is dropped, and sampled-out spans stay apart.
func TestFoldSink(t *testing.T) {
	s := Stats{Accepted: 100, Exported: 60, SampledOut: 30, InFlight: 10}
	s.DroppedBy[DropRingFull] = 0
	s.foldSink(SinkStats{Delivered: 40, Dropped: 15, Shutdown: 5})
	if s.Exported != 40 || s.Drops(DropShutdown) != 5 || s.Drops(DropSink) != 10 || s.Dropped != 15 || s.InFlight != 15 {
		t.Errorf("folded %+v", s)
	}
	if s.Accepted != s.Exported+s.Dropped+s.SampledOut+s.InFlight {
		t.Errorf("identity broken: %+v", s)
	}
}
