package engine

import (
	"sync/atomic"

	"github.com/flowtel/flowtel/internal/pin"
)

// DropReason says why spans were dropped.
type DropReason uint8

// Drop reasons. Each has its own counter in Stats.
const (
	DropRingFull     DropReason = iota // DropNewest: the shard was full
	DropRingEvicted                    // DropOldest: evicted by a newer run
	DropBlockTimeout                   // Block: no room within the timeout
	DropShutdown                       // the engine was shut down
	DropRunLimit                       // Limits.RunsInFlight reached
	DropNodeLimit                      // Limits.NodesPerRun reached
	DropSink                           // the sink returned an error
	DropMemoryLimit                    // WithMemoryLimit reached
	DropPanic                          // user code panicked: the sink, a TailPolicy.Decide (ErrPanic)
	numDropReasons
)

var dropNames = [numDropReasons]string{"ring_full", "ring_evicted", "block_timeout", "shutdown", "run_limit", "node_limit", "sink_error", "memory_limit", "panic"}

// String returns the reason as used in metric labels, e.g. "ring_full".
func (r DropReason) String() string {
	if r < numDropReasons {
		return dropNames[r]
	}
	return "unknown"
}

// Stats is a snapshot of the engine's accounting, in spans (one per run and
// one per node execution). At any moment
//
//	Accepted == Exported + Dropped + SampledOut + InFlight
//
// and after Shutdown InFlight is zero. SampledOut counts the spans of runs
// that sampling decided not to export (WithSampler, WithTailSampling):
// they are not lost, the metrics hold them, and they are apart from drops. A run is accepted when it starts; its
// nodes are accepted with it when it ends (or when the engine closes it),
// since until then they are the open run's, not yet the pipeline's; nodes
// refused by a limit are accepted and dropped at once. The terms are read
// one after another,
// so a snapshot taken under load may be off by what moved meanwhile;
// InFlight is derived so that the identity holds for the snapshot itself.
type Stats struct {
	Accepted  uint64                 // spans offered: runs at StartRun, their nodes when they end
	Exported  uint64                 // spans the sink took (a SinkReporter: the receiver took)
	Dropped   uint64                 // sum of DroppedBy
	DroppedBy [numDropReasons]uint64 // indexed by DropReason
	InFlight  uint64                 // accepted, not yet exported, dropped or sampled out

	SampledOut     uint64 // spans of runs sampling did not export
	RunsSampledOut uint64 // runs sampling did not export, of which:
	RunsHeadOut    uint64 // sampled out by the head decision (WithSampler)
	RunsCapOut     uint64 // kept by the tail policy but refused by its MaxPerSecond

	RunsTimedOut    uint64 // runs closed by the idle timeout or shutdown, exported as incomplete
	NodesIncomplete uint64 // nodes closed by their run's end, exported as incomplete
	AttrsDropped    uint64 // attributes and next ids past Limits.Attrs, and attributes otelbridge could not keep
	EventsDropped   uint64 // log entries past Limits.Events
	ValuesTruncated uint64 // values cut to Limits.ValueBytes, label values to MetricsConfig.LabelBytes, negative token counts left out of gen_ai.client.token.usage, server.port values not a port (0 to 65535) left out of the GenAI client metrics
	StaleCalls      uint64 // calls on a handle after its End (no-ops)
	SinkErrors      uint64 // failed sink calls
	SumsSaturated   uint64 // token sums held at math.MaxInt64 (or MinInt64) instead of wrapping: a run's Usage, the GenAI token metrics
	// RunLogsDropped counts the run logs of runs sampled out
	// (TailPolicy.RunLogAlways) that were lost, one a run: the sink's
	// ExportLogs failed (SinkErrors counts the call) or Shutdown's deadline
	// passed before their export. Their spans are in SampledOut.
	RunLogsDropped uint64
	// Panics counts the panics of user code the engine recovered on its
	// goroutines (ErrPanic): its Sink's calls (a Tee's primary; the
	// other sinks' are in TeeStats), TailPolicy.Decide, the
	// MetricsExporter's calls and the error handler. What a panic lost
	// is counted apart: spans in DroppedBy[DropPanic], run logs in
	// RunLogsDropped.
	Panics uint64

	HeldBytes   int64 // bytes the engine holds (rings, arena, records, buffers); see WithMemoryLimit
	MemoryLimit int64 // the bound on HeldBytes: WithMemoryLimit less the sink's share
}

// Drops returns the dropped count for one reason, 0 for a reason this
// version does not have (String says "unknown").
func (s Stats) Drops(r DropReason) uint64 {
	if r >= numDropReasons {
		return 0
	}
	return s.DroppedBy[r]
}

// cacheLine is the size of a CPU cache line on the machines flowtel runs on
// (amd64, arm64). A field written by many cores is padded to a whole line
// (cacheLine less the bytes it holds) so that no other hot field shares it.
const cacheLine = 64

// counterStripes is the number of cache-line padded stripes of a counter.
// Hot counters are striped by P so that cores never share a line.
const counterStripes = 16

type paddedUint64 struct {
	atomic.Uint64
	_ [cacheLine - 8]byte
}

// counter is a striped event counter: Add touches the current P's stripe.
// The line of padding before the stripes keeps the first stripe's word
// off the line of the field before the counter, wherever the counter
// sits: in Engine, stats.accepted's first stripe shared a line with the
// ring, arena, sid and sink pointers the pipeline reads for every run,
// and StartRun and Run.End on P 0 wrote to it.
type counter struct {
	_ [cacheLine]byte
	s [counterStripes]paddedUint64
}

// Add adds n to the current P's stripe and returns that stripe, so that a
// matching decrement can go to the same stripe even if the goroutine moved.
func (c *counter) Add(n uint64) *paddedUint64 {
	p := &c.s[pin.ID()&(counterStripes-1)]
	p.Add(n)
	return p
}

func (c *counter) Load() uint64 {
	var t uint64
	for i := range c.s {
		t += c.s[i].Load()
	}
	return t
}

// stripedGauge is a signed count over a counter's stripes: an increment
// is the uint64 of +1 and a decrement the uint64 of -1, whose wrapping sum
// reads back as the exact int64. Sum is exact whenever no Add runs; while
// Adds run, a +1 whose -1 is pending keeps it non-zero.
type stripedGauge struct{ c counter }

// Add adds n to the current P's stripe and returns it, for the decrement.
func (g *stripedGauge) Add(n int64) *paddedUint64 { return g.c.Add(uint64(n)) }

func (g *stripedGauge) Sum() int64 { return int64(g.c.Load()) }

// stats holds the engine's counters. Rare events use plain atomics.
type stats struct {
	accepted        counter
	exported        atomic.Uint64
	sampledOut      atomic.Uint64
	runsSampledOut  atomic.Uint64
	runsHeadOut     atomic.Uint64
	runsCapOut      atomic.Uint64
	dropped         [numDropReasons]atomic.Uint64
	runsTimedOut    atomic.Uint64
	nodesIncomplete atomic.Uint64
	attrsDropped    atomic.Uint64
	eventsDropped   atomic.Uint64
	valuesTruncated atomic.Uint64
	staleCalls      atomic.Uint64
	sinkErrors      atomic.Uint64
	sumsSaturated   atomic.Uint64
	runLogsDropped  atomic.Uint64
	panics          atomic.Uint64
}

func (s *stats) drop(r DropReason, spans uint64) { s.dropped[r].Add(spans) }

func (s *stats) snapshot() Stats {
	var out Stats
	// Read the outflows before the inflow so that a concurrent export can
	// only make InFlight look larger, never negative.
	out.Exported = s.exported.Load()
	out.SampledOut = s.sampledOut.Load()
	out.RunsSampledOut, out.RunsHeadOut, out.RunsCapOut = s.runsSampledOut.Load(), s.runsHeadOut.Load(), s.runsCapOut.Load()
	for i := range s.dropped {
		out.DroppedBy[i] = s.dropped[i].Load()
		out.Dropped += out.DroppedBy[i]
	}
	out.Accepted = s.accepted.Load()
	if out.Accepted >= out.Exported+out.Dropped+out.SampledOut {
		out.InFlight = out.Accepted - out.Exported - out.Dropped - out.SampledOut
	} else {
		out.Accepted = out.Exported + out.Dropped + out.SampledOut
	}
	out.RunsTimedOut = s.runsTimedOut.Load()
	out.NodesIncomplete = s.nodesIncomplete.Load()
	out.AttrsDropped = s.attrsDropped.Load()
	out.EventsDropped = s.eventsDropped.Load()
	out.ValuesTruncated = s.valuesTruncated.Load()
	out.StaleCalls = s.staleCalls.Load()
	out.SinkErrors = s.sinkErrors.Load()
	out.SumsSaturated = s.sumsSaturated.Load()
	out.RunLogsDropped = s.runLogsDropped.Load()
	out.Panics = s.panics.Load()
	return out
}
