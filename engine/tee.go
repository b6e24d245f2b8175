package engine

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync/atomic"

	"github.com/flowtel/flowtel/encode"
)

// ErrNilSink is returned by Tee given a nil sink, and by New given a nil
// pointer as its Sink or MetricsExporter (WithSink((*MySink)(nil))).
var ErrNilSink = errors.New("engine: nil sink")

// ErrDuplicateSink is returned by Tee given the same sink twice, directly
// or inside a TeeSink among its sinks: that sink would take every batch
// twice, doubling every span it exports.
var ErrDuplicateSink = errors.New("engine: the same sink twice in a Tee")

// Tee returns a sink that hands every batch to primary and then to each
// of others, in order, on the export stage: OTLP and a queue for the run
// trace log, for example. otlp.New makes one when its options already set
// a sink (its own sink is the primary).
//
// # Accounting with several sinks
//
// The engine's Stats are those of the primary: Exported is the spans the
// primary took (when the primary is a SinkReporter, an exporter, the spans
// its receiver took), Dropped what it lost, and
// Accepted == Exported + Dropped + SampledOut + InFlight holds exactly as
// with the primary alone. The other sinks are copies: an error from one of
// them never drops the batch in Stats (the primary has it), it is counted
// in that sink's TeeStats.Refused instead, so nothing is lost silently,
// and its last error is kept. Each sink receives every batch once, even
// after another refused it.
//
// Tee implements LogSink (passing run logs to the sinks that take them)
// and MemoryUser (the sum of what the sinks hold); it implements
// SinkReporter when primary does. ForceFlush and Shutdown reach every
// sink, their errors joined (a panic among them too, as an error wrapping
// ErrPanic). Sinks are called one at a time, as the engine calls one
// sink, so Export must still return promptly.
//
// Tee refuses the same sink twice (ErrDuplicateSink), given directly or
// inside a TeeSink among the others: the same pointer (or map, or
// channel). A sink that is a value (a struct, not a pointer to it) is a
// copy, and two pointers to a type of size zero cannot be told apart
// (Go may give them one address): neither is refused.
func Tee(primary Sink, others ...Sink) (*TeeSink, error) {
	if primary == nil || nilPointer(primary) {
		return nil, fmt.Errorf("%w: Tee's primary", ErrNilSink)
	}
	t := &TeeSink{sinks: append([]Sink{primary}, others...)}
	for i, s := range t.sinks {
		if s == nil || nilPointer(s) {
			return nil, fmt.Errorf("%w: Tee's sink %d", ErrNilSink, i)
		}
	}
	var seen []Sink
	for i, s := range t.sinks {
		var dup Sink
		seen, dup = appendLeaves(seen, s)
		if dup != nil {
			return nil, fmt.Errorf("%w: Tee's sink %d (%T) is, or holds, a sink given before it", ErrDuplicateSink, i, dup)
		}
	}
	t.stats = make([]teeCounts, len(t.sinks))
	t.gate = new(stackGate)
	return t, nil
}

// appendLeaves appends to seen the sinks s hands batches to (s itself,
// or the sinks of a TeeSink, nested ones included), and returns the first
// of them already in seen, if any.
func appendLeaves(seen []Sink, s Sink) ([]Sink, Sink) {
	if t, ok := s.(*TeeSink); ok {
		for _, in := range t.sinks {
			var dup Sink
			if seen, dup = appendLeaves(seen, in); dup != nil {
				return seen, dup
			}
		}
		return seen, nil
	}
	for _, o := range seen {
		if sameSink(o, s) {
			return seen, s
		}
	}
	return append(seen, s), nil
}

// sameSink reports whether a and b are the same sink: the same pointer
// (or map, or channel) of the same type. Values of other kinds are
// copies, each a sink of its own, and so are pointers to a type of size
// zero, which may share an address while being two sinks.
func sameSink(a, b Sink) bool {
	ta := reflect.TypeOf(a)
	if ta != reflect.TypeOf(b) {
		return false
	}
	switch ta.Kind() {
	case reflect.Pointer:
		if ta.Elem().Size() == 0 {
			return false
		}
	case reflect.Map, reflect.Chan, reflect.UnsafePointer:
	default:
		return false
	}
	return reflect.ValueOf(a).Pointer() == reflect.ValueOf(b).Pointer()
}

// errZeroTee is what the zero TeeSink returns for every batch.
var errZeroTee = fmt.Errorf("%w: a zero TeeSink (make it with Tee)", ErrNilSink)

// TeeSink is the sink Tee returns. The zero TeeSink has no sinks: New
// refuses it, and given to an engine some other way it refuses every
// batch with an error wrapping ErrNilSink (so the engine counts the spans
// as DropSink: none is lost silently); its other methods do nothing.
type TeeSink struct {
	sinks []Sink
	stats []teeCounts
	gate  *stackGate // the stacks of the sinks' panics (nil: a zero TeeSink)
}

type teeCounts struct {
	taken, refused atomic.Uint64
	logsRefused    atomic.Uint64
	last           atomic.Pointer[error]
}

// TeeStats is what one sink of a Tee did with the spans of the batches it
// was given: Taken when its Export returned nil, Refused when it returned
// an error (Err, the last one); LogsRefused counts the run logs its
// ExportLogs refused, one per run.
type TeeStats struct {
	Taken, Refused uint64
	LogsRefused    uint64
	Err            error
}

// Export hands runs to every sink. It returns the primary's error, which
// the engine counts as a dropped batch; the others' are counted in Stats.
// A sink that panics is recovered as the engine recovers its sink, its
// panic an error wrapping ErrPanic: the sinks after it still get the
// batch, and the engine counts a primary's panic under DropPanic.
func (t *TeeSink) Export(runs []*encode.Run) error {
	if len(t.sinks) == 0 {
		return errZeroTee
	}
	spans := uint64(encode.NumSpans(runs))
	var primaryErr error
	for i, s := range t.sinks {
		_, err := exportSafely(s, runs, int(spans), t.gate) // a panic is one sink's error
		t.count(i, spans, err)
		if i == 0 {
			primaryErr = err
		}
	}
	return primaryErr
}

// ExportLogs hands the runs' trace logs to every sink that is a LogSink.
// Its errors are counted like Export's, in run logs not spans
// (TeeStats.LogsRefused); it returns the primary's.
func (t *TeeSink) ExportLogs(runs []*encode.Run) error {
	if len(t.sinks) == 0 {
		return errZeroTee
	}
	var primaryErr error
	for i, s := range t.sinks {
		if ls, ok := s.(LogSink); ok {
			_, err := exportLogsSafely(ls, runs, t.gate)
			if err != nil {
				t.count(i, 0, err)
				t.stats[i].logsRefused.Add(uint64(len(runs)))
				if i == 0 {
					primaryErr = err
				}
			}
		}
	}
	return primaryErr
}

// takesLogs reports whether s takes run logs apart: a LogSink that does
// not say it takes none, or a TeeSink with one among its sinks.
func takesLogs(s Sink) bool {
	if t, ok := s.(*TeeSink); ok {
		return slices.ContainsFunc(t.sinks, takesLogs)
	}
	if _, ok := s.(LogSink); !ok {
		return false
	}
	// A LogSink made with its logs off (otlp.NewSink(exp, res, false))
	// would take the runs sampled out and send nothing.
	lt, ok := s.(interface{ TakesLogs() bool })
	return !ok || lt.TakesLogs()
}

func (t *TeeSink) count(i int, spans uint64, err error) {
	c := &t.stats[i]
	if err == nil {
		c.taken.Add(spans)
		return
	}
	c.refused.Add(spans)
	c.last.Store(&err)
}

// Stats returns, for each sink in the order Tee was given them (the
// primary first), the spans it took and refused.
func (t *TeeSink) Stats() []TeeStats {
	out := make([]TeeStats, len(t.sinks))
	for i := range t.stats {
		c := &t.stats[i]
		out[i] = TeeStats{Taken: c.taken.Load(), Refused: c.refused.Load(), LogsRefused: c.logsRefused.Load()}
		if p := c.last.Load(); p != nil {
			out[i].Err = *p
		}
	}
	return out
}

// Sinks returns the sinks, the primary first.
func (t *TeeSink) Sinks() []Sink { return append([]Sink(nil), t.sinks...) }

// SinkStats is the primary's, when it is a SinkReporter; otherwise every
// span the primary took counts as delivered and every one it refused as
// dropped by the engine itself, so SinkStats is what the engine would
// have counted without the Tee.
func (t *TeeSink) SinkStats() SinkStats {
	if len(t.sinks) == 0 {
		return SinkStats{}
	}
	if r, ok := t.sinks[0].(SinkReporter); ok {
		return r.SinkStats()
	}
	return SinkStats{Delivered: t.stats[0].taken.Load()}
}

// MemoryBytes is the sum of what the sinks that are MemoryUsers hold.
func (t *TeeSink) MemoryBytes() int64 {
	var n int64
	for _, s := range t.sinks {
		if u, ok := s.(MemoryUser); ok {
			n += max(u.MemoryBytes(), 0)
		}
	}
	return n
}

// ForceFlush flushes every sink.
func (t *TeeSink) ForceFlush(ctx context.Context) error {
	var errs []error
	for _, s := range t.sinks {
		errs = append(errs, flushSafely(ctx, s, t.gate))
	}
	return errors.Join(errs...)
}

// Shutdown shuts every sink down, the primary first.
func (t *TeeSink) Shutdown(ctx context.Context) error {
	var errs []error
	for _, s := range t.sinks {
		errs = append(errs, shutdownSafely(ctx, s, t.gate))
	}
	return errors.Join(errs...)
}
