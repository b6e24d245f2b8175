package engine

// SinkStats is what a queuing sink did with the spans Export took from
// the engine.
type SinkStats struct {
	Delivered uint64 // spans the receiver took
	Dropped   uint64 // spans lost after Export returned, Shutdown included
	Shutdown  uint64 // of Dropped, the spans Shutdown left undelivered
}

// SinkReporter is implemented by a Sink that queues what Export takes (an
// exporter), so that the engine's accounting holds across it: with such a
// sink, Stats.Exported counts the spans the receiver took, what the sink
// lost is dropped (DropShutdown for what Shutdown left undelivered,
// DropSink for the rest), and what it still holds is InFlight. SinkStats
// must be safe for concurrent use and its counters never decrease.
type SinkReporter interface {
	SinkStats() SinkStats
}

// sinkStats reads the sink's accounting, if it keeps one. It is read
// before the engine's own counters, so that InFlight is never negative.
func (e *Engine) sinkStats() (SinkStats, bool) {
	if r, ok := e.sink.(SinkReporter); ok {
		return r.SinkStats(), true
	}
	return SinkStats{}, false
}

// foldSink replaces the spans s counted as handed to the sink with what
// the sink did with them.
func (s *Stats) foldSink(ss SinkStats) {
	s.Exported = ss.Delivered
	s.DroppedBy[DropShutdown] += ss.Shutdown
	s.DroppedBy[DropSink] += ss.Dropped - min(ss.Shutdown, ss.Dropped)
	s.Dropped = 0
	for _, d := range s.DroppedBy {
		s.Dropped += d
	}
	if s.Accepted >= s.Exported+s.Dropped+s.SampledOut {
		s.InFlight = s.Accepted - s.Exported - s.Dropped - s.SampledOut
	} else {
		s.Accepted, s.InFlight = s.Exported+s.Dropped+s.SampledOut, 0
	}
}
