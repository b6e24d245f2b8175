package export

import "time"

// SignalStats are the counters of one signal. Items are spans, data points
// or log records as given to Enqueue. At every Stats call:
//
//	Enqueued == Exported + Rejected + Dropped + InFlight
//
// and after Shutdown returns InFlight is 0.
type SignalStats struct {
	// Enqueued counts items offered to Enqueue, dropped at the door or not.
	Enqueued uint64
	// Exported counts items the receiver accepted.
	Exported uint64
	// Rejected counts items the receiver rejected in a partial success.
	Rejected uint64
	// Dropped counts items dropped, the sum of DroppedBy.
	Dropped uint64
	// DroppedBy counts items dropped, by reason.
	DroppedBy [NumDropReasons]uint64
	// InFlight counts items queued or being exported.
	InFlight uint64

	// QueuedItems, QueuedBytes and QueuedBatches describe the batches
	// waiting in the queue (a subset of InFlight).
	QueuedItems, QueuedBytes, QueuedBatches uint64

	// EnqueuedBatches, ExportedBatches and DroppedBatches count batches;
	// a partially successful batch counts as exported.
	EnqueuedBatches, ExportedBatches, DroppedBatches uint64

	// Requests counts export attempts; Retried counts the attempts after
	// a batch's first.
	Requests, Retried uint64
	// LatencySum and LatencyCount sum the duration of export attempts.
	LatencySum   time.Duration
	LatencyCount uint64
}

// Stats is a consistent snapshot of an Exporter's counters.
type Stats struct {
	// Signals is indexed by Signal.
	Signals [NumSignals]SignalStats
	// HeldBytes is the encoded bytes queued or being exported, all signals;
	// it never exceeds QueueBytes.
	HeldBytes, QueueBytes int64
	// HandlerPanics counts the panics of Config.ErrorHandler, recovered:
	// the report is lost, the exporter goes on.
	HandlerPanics uint64
}

// Stats returns a consistent snapshot of the counters. It does not allocate.
func (e *Exporter) Stats() Stats {
	if e == nil {
		return Stats{}
	}
	e.mu.Lock()
	s := Stats{Signals: e.stats, HeldBytes: e.held, QueueBytes: e.set.queueBytes}
	e.mu.Unlock()
	s.HandlerPanics = e.handlerPanics.Load()
	for i := range s.Signals {
		for _, n := range s.Signals[i].DroppedBy {
			s.Signals[i].Dropped += n
		}
	}
	return s
}
