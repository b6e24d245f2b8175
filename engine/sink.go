package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowtel/flowtel/encode"
)

// Sink receives finished runs from the pipeline's export stage, one call at a
// time. Export must not keep runs, or anything they point to, after it
// returns: the engine reuses them. An error from Export drops the batch,
// counted under DropSink. Export should not block for long; an exporting
// sink queues and returns. ForceFlush is called on a goroutine of its own
// once every batch before it was exported, so it may run while Export
// exports later batches, and beside another ForceFlush when callers flush
// at once: capture goes on while a sink flushes. Shutdown is called after
// every ForceFlush returned.
type Sink interface {
	Export(runs []*encode.Run) error
	ForceFlush(ctx context.Context) error
	Shutdown(ctx context.Context) error
}

// ErrPanic is wrapped by the error a panic of user code the engine calls
// on its own goroutines becomes: a Sink's Export, ExportLogs, ForceFlush
// or Shutdown, a TailPolicy's Decide, a MetricsExporter's ExportMetrics
// or AppendMetrics. A library must not end the process that links it, so
// the engine recovers such a panic where it calls the code (once a call:
// once a batch for a sink, once a run for Decide, once a collection for
// the metrics exporter), counts it (Stats.Panics) and what the call held
// as dropped (DropPanic, the "panic" reason of
// flowtel_records_dropped_total; a sink's call in Stats.SinkErrors too,
// run logs in Stats.RunLogsDropped), tells the error handler with the
// panic's value and stack, and goes on: the next batch goes to the same
// sink, the next run to the same Decide. The error names the call, the
// panic value and its type, and the stack of the panicking goroutine: the
// first panic's stack, then at most one a second (stackInterval), so that
// code that panics on every call costs a recover and an error a call, not
// a stack walk. A panic of the error handler itself is recovered too and
// counted in Stats.Panics only (the handler cannot be told of it). The
// engine cannot tell what a sink did before it panicked: the whole batch
// is counted under DropPanic, so a sink that had queued part of it (and
// a SinkReporter that then counts it delivered) makes the accounting
// count those spans twice.
var ErrPanic = errors.New("engine: user code panicked")

// stackInterval is the least time between two panics' errors that carry
// their stack (stackGate).
const stackInterval = time.Second

// stackGate lets the error of a recovered panic carry its goroutine's
// stack at most once per stackInterval: debug.Stack walks and formats
// the stack, some microseconds and kilobytes a call, which a Decide
// panicking on every run would pay once a run. Every panic is still
// counted and reported. A nil gate always allows (a zero TeeSink).
type stackGate struct{ next atomic.Int64 }

func (g *stackGate) allow() bool {
	if g == nil {
		return true
	}
	now := time.Now().UnixNano()
	n := g.next.Load()
	return now >= n && g.next.CompareAndSwap(n, now+int64(stackInterval))
}

// panicError is the error of a panic with value v in the user code named
// by where, recovered in a deferred call (the stack is still the
// panicking one), with the stack when g allows it. fmt recovers a panic
// of v's own Error or String.
func panicError(where string, v any, g *stackGate) error {
	stack := "(stack left out: at most one a second is kept)\n"
	if g.allow() {
		stack = string(debug.Stack())
	}
	if err, ok := v.(error); ok {
		return fmt.Errorf("%w: %s: %w (%T)\n%s", ErrPanic, where, err, v, stack)
	}
	return fmt.Errorf("%w: %s: %v (%T)\n%s", ErrPanic, where, v, v, stack)
}

// exportSafely calls s.Export(runs), recovering a panic (ErrPanic).
func exportSafely(s Sink, runs []*encode.Run, spans int, g *stackGate) (panicked bool, err error) {
	defer func() {
		if v := recover(); v != nil {
			panicked, err = true, panicError(fmt.Sprintf("the sink's Export (%T) of %d spans, dropped", s, spans), v, g)
		}
	}()
	return false, s.Export(runs)
}

// exportLogsSafely calls s.ExportLogs(runs), recovering a panic (ErrPanic).
func exportLogsSafely(s LogSink, runs []*encode.Run, g *stackGate) (panicked bool, err error) {
	defer func() {
		if v := recover(); v != nil {
			panicked, err = true, panicError(fmt.Sprintf("the sink's ExportLogs (%T) of the run logs of %d runs sampled out, dropped", s, len(runs)), v, g)
		}
	}()
	return false, s.ExportLogs(runs)
}

// flushSafely calls s.ForceFlush(ctx), recovering a panic (ErrPanic).
func flushSafely(ctx context.Context, s Sink, g *stackGate) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = panicError(fmt.Sprintf("the sink's ForceFlush (%T)", s), v, g)
		}
	}()
	return s.ForceFlush(ctx)
}

// shutdownSafely calls s.Shutdown(ctx), recovering a panic (ErrPanic).
func shutdownSafely(ctx context.Context, s Sink, g *stackGate) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = panicError(fmt.Sprintf("the sink's Shutdown (%T)", s), v, g)
		}
	}()
	return s.Shutdown(ctx)
}

// sinkFlush and sinkShutdown call the sink's ForceFlush and Shutdown,
// counting a panic among them in Stats.Panics.
func (e *Engine) sinkFlush(ctx context.Context) error {
	return e.countPanic(flushSafely(ctx, e.sink, &e.panicGate))
}

func (e *Engine) sinkShutdown(ctx context.Context) error {
	return e.countPanic(shutdownSafely(ctx, e.sink, &e.panicGate))
}

// countPanic counts err in Stats.Panics when it is, or holds, a recovered
// panic, and returns it.
func (e *Engine) countPanic(err error) error {
	if err != nil && errors.Is(err, ErrPanic) {
		e.stats.panics.Add(1)
	}
	return err
}

// handleError is the error handler New installs: the user's (h, nil for
// none) called with a panic of its own recovered, counted in
// Stats.Panics. It runs on the engine's goroutines, where the panic
// ended the process; only errors reach it, never the hot path.
func (e *Engine) handleError(h func(error)) func(error) {
	if h == nil {
		return func(error) {}
	}
	return func(err error) {
		defer func() {
			if recover() != nil {
				e.stats.panics.Add(1)
			}
		}()
		h(err)
	}
}

// exportRuns hands a batch's runs, of spans spans, to the sink and counts
// them: exported, or dropped (DropSink for an error, DropPanic for a
// panic, which the engine survives).
func (e *Engine) exportRuns(runs []*encode.Run, spans int) {
	panicked, err := exportSafely(e.sink, runs, spans, &e.panicGate)
	switch {
	case err == nil:
		e.stats.exported.Add(uint64(spans))
		return
	case panicked || errors.Is(err, ErrPanic): // a TeeSink's primary panicked
		e.stats.panics.Add(1)
		e.stats.drop(DropPanic, uint64(spans))
		e.cfg.errorHandler(err)
	default:
		e.stats.drop(DropSink, uint64(spans))
		e.cfg.errorHandler(fmt.Errorf("engine: sink dropped %d spans: %w", spans, err))
	}
	e.stats.sinkErrors.Add(1)
}

// exportLogs hands the run logs of runs sampled out to the log sink; what
// it refuses, or loses to a panic, is counted in Stats.RunLogsDropped.
func (e *Engine) exportLogs(runs []*encode.Run) {
	panicked, err := exportLogsSafely(e.logSink, runs, &e.panicGate)
	if err == nil {
		return
	}
	e.stats.sinkErrors.Add(1)
	e.stats.runLogsDropped.Add(uint64(len(runs)))
	if panicked || errors.Is(err, ErrPanic) {
		e.stats.panics.Add(1)
	} else {
		err = fmt.Errorf("engine: sink dropped the run logs of %d runs sampled out: %w", len(runs), err)
	}
	e.cfg.errorHandler(err)
}

// LogSink is implemented by a Sink that can export the run trace logs of
// runs without their spans. With TailPolicy.RunLogAlways the export stage
// hands it the runs sampling left out, as the original system logged
// every run; their spans are counted in Stats.SampledOut either way. The
// same rules as Export apply: one call at a time, runs not kept after it
// returns.
type LogSink interface {
	ExportLogs(runs []*encode.Run) error
}

// discardSink takes everything and keeps nothing.
type discardSink struct{}

func (discardSink) Export([]*encode.Run) error       { return nil }
func (discardSink) ForceFlush(context.Context) error { return nil }
func (discardSink) Shutdown(context.Context) error   { return nil }

// MemorySink keeps deep copies of every run it is given, for tests. It
// allocates.
type MemorySink struct {
	mu      sync.Mutex
	runs    []encode.Run
	logRuns []encode.Run
	// Err, when set, is returned by Export and nothing is kept.
	Err error
}

// Export copies runs.
func (s *MemorySink) Export(runs []*encode.Run) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return s.Err
	}
	for _, r := range runs {
		s.runs = append(s.runs, CloneRun(r))
	}
	return nil
}

// ExportLogs copies runs whose spans were sampled out, for their logs.
func (s *MemorySink) ExportLogs(runs []*encode.Run) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return s.Err
	}
	for _, r := range runs {
		s.logRuns = append(s.logRuns, CloneRun(r))
	}
	return nil
}

// LogRuns returns the runs given to ExportLogs so far.
func (s *MemorySink) LogRuns() []encode.Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.logRuns)
}

// ForceFlush does nothing.
func (s *MemorySink) ForceFlush(context.Context) error { return nil }

// Shutdown does nothing.
func (s *MemorySink) Shutdown(context.Context) error { return nil }

// Runs returns the runs exported so far.
func (s *MemorySink) Runs() []encode.Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.runs)
}

// CloneRun returns a deep copy of r that shares nothing with the engine.
func CloneRun(r *encode.Run) encode.Run {
	c := *r
	c.Srv, c.SrvTag, c.Attrs, c.Events = cloneAttrs(r.Srv), cloneAttrs(r.SrvTag), cloneAttrs(r.Attrs), slices.Clone(r.Events)
	c.Nodes = make([]*encode.Node, len(r.Nodes))
	for i, n := range r.Nodes {
		cn := *n
		cn.Input, cn.Output, cn.Config = cloneAttrs(n.Input), cloneAttrs(n.Output), cloneAttrs(n.Config)
		cn.Events, cn.Next, cn.Attrs = slices.Clone(n.Events), slices.Clone(n.Next), cloneAttrs(n.Attrs)
		for j := range cn.Events {
			cn.Events[j].Attrs = cloneAttrs(cn.Events[j].Attrs)
		}
		c.Nodes[i] = &cn
	}
	return c
}

func cloneAttrs(as []encode.Attr) []encode.Attr {
	out := slices.Clone(as)
	for i, a := range out {
		if a.Value.Kind() == encode.KindBytes {
			out[i].Value = encode.BytesValue(slices.Clone(a.Value.Bytes()))
		}
	}
	return out
}
