package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/testkit"
	"github.com/valyala/bytebufferpool"
)

// panickySink panics in the calls it is told to, with the value it is
// given; other calls go to a MemorySink.
type panickySink struct {
	MemorySink
	mu                       sync.Mutex
	exports                  int
	exportEvery              int // Export panics on every n-th call (1: every call), 0 never
	logs, flushes, shutdowns bool
	value                    any
}

func (s *panickySink) Export(runs []*encode.Run) error {
	s.mu.Lock()
	s.exports++
	n := s.exports
	s.mu.Unlock()
	if s.exportEvery > 0 && n%s.exportEvery == 0 {
		panic(s.value)
	}
	return s.MemorySink.Export(runs)
}

func (s *panickySink) ExportLogs(runs []*encode.Run) error {
	if s.logs {
		panic(s.value)
	}
	return s.MemorySink.ExportLogs(runs)
}

func (s *panickySink) ForceFlush(context.Context) error {
	if s.flushes {
		panic(s.value)
	}
	return nil
}

func (s *panickySink) Shutdown(context.Context) error {
	if s.shutdowns {
		panic(s.value)
	}
	return nil
}

// errorLog collects what the engine tells its error handler.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorLog) handle(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
}

// panics returns the errors that wrap ErrPanic.
func (l *errorLog) panics() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []error
	for _, err := range l.errs {
		if errors.Is(err, ErrPanic) {
			out = append(out, err)
		}
	}
	return out
}

// produceRuns ends n runs of nodes nodes each, of flow flow, one batch a
// run (WithBatch(1+nodes, ...)) and flushes them.
func produceRuns(t *testing.T, e *Engine, n, nodes int, flow string) {
	t.Helper()
	for range n {
		r := e.StartRun(RunInfo{FlowID: flow})
		for range nodes {
			r.StartNode("llm:1", "llm", "LLM").End()
		}
		r.End(0, "")
	}
	flush(t, e)
}

// TestSinkPanicRecovered: a Sink whose Export panics on every other
// batch. The panic ran on the pipeline goroutine and ended the process;
// now each panicking batch is dropped and counted (DropPanic, "panic"
// on flowtel_records_dropped_total, and SinkErrors), the error handler
// gets an error wrapping ErrPanic with the value, its type and the
// panicking frame, and the batches around it are exported: the same sink
// goes on taking batches. Panic values of every kind are recovered: a
// string, an error, an error whose Error panics (fmt recovers it).
func TestSinkPanicRecovered(t *testing.T) {
	for _, v := range []any{"kaboom", errors.New("sink broke"), (*derefPanicErr)(nil), 42} {
		const runs, nodes = 10, 2
		sink := &panickySink{exportEvery: 2, value: v}
		var log errorLog
		e, err := New(WithSink(sink), WithBatch(1+nodes, time.Hour), WithErrorHandler(log.handle))
		if err != nil {
			t.Fatal(err)
		}
		produceRuns(t, e, runs, nodes, "f")
		if err := e.Shutdown(context.Background()); err != nil {
			t.Fatalf("%v: Shutdown: %v", v, err)
		}
		s := e.Stats()
		checkDrained(t, "sink panic", s)
		const spans = runs * (1 + nodes)
		exported := uint64(len(sink.Runs()) * (1 + nodes))
		if s.Drops(DropPanic) != spans/2 || s.Exported != exported || exported != spans/2 || s.SinkErrors != runs/2 {
			t.Errorf("%v: dropped by panic %d, exported %d (sink has %d spans), sink errors %d; want %d, %d, %d",
				v, s.Drops(DropPanic), s.Exported, exported, s.SinkErrors, spans/2, spans/2, runs/2)
		}
		ps := log.panics()
		if len(ps) != runs/2 {
			t.Fatalf("%v: %d panics reported, want %d: %v", v, len(ps), runs/2, log.errs)
		}
		msg := ps[0].Error()
		if !strings.HasPrefix(msg, ErrPanic.Error()+": ") || strings.Count(msg, "engine:") != 1 ||
			!strings.Contains(msg, "Export") || !strings.Contains(msg, "panickySink") || !strings.Contains(msg, "3 spans") {
			t.Errorf("%v: error %.300q does not name the call, the sink and what it dropped once", v, msg)
		}
		if ve, ok := v.(error); ok && ve != error((*derefPanicErr)(nil)) && !errors.Is(ps[0], ve) {
			t.Errorf("%v: the error does not wrap the panic's own error", v)
		}
	}
	if DropPanic.String() != "panic" {
		t.Errorf("DropPanic is %q", DropPanic)
	}
}

// derefPanicErr is an error whose Error dereferences its receiver: a nil
// one panics in Error.
type derefPanicErr struct{ msg string }

func (e *derefPanicErr) Error() string { return e.msg }

// TestSinkFlushShutdownPanicRecovered: a sink whose ForceFlush and
// Shutdown panic. ForceFlush ran on a goroutine of its own, Shutdown's
// flush and the sink's Shutdown on the pipeline goroutine: each ended the
// process. They return an error wrapping ErrPanic instead, and every span
// is still accounted for.
func TestSinkFlushShutdownPanicRecovered(t *testing.T) {
	sink := &panickySink{flushes: true, shutdowns: true, value: "flush broke"}
	e, err := New(WithSink(sink), WithBatch(4, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	run := e.StartRun(RunInfo{FlowID: "f"})
	run.End(0, "")
	if err := e.ForceFlush(context.Background()); !errors.Is(err, ErrPanic) || !strings.Contains(err.Error(), "ForceFlush") {
		t.Errorf("ForceFlush = %v, want an error wrapping ErrPanic naming ForceFlush", err)
	}
	err = e.Shutdown(context.Background())
	if !errors.Is(err, ErrPanic) || !strings.Contains(err.Error(), "Shutdown") || !strings.Contains(err.Error(), "ForceFlush") {
		t.Errorf("Shutdown = %v, want errors wrapping ErrPanic naming ForceFlush and Shutdown", err)
	}
	s := e.Stats()
	checkDrained(t, "flush panic", s)
	if s.Exported != 1 || len(sink.Runs()) != 1 {
		t.Errorf("stats %+v, sink has %d runs: want the one run exported", s, len(sink.Runs()))
	}
}

// TestSinkExportLogsPanicRecovered: with RunLogAlways, a sink whose
// ExportLogs panics loses the run logs of the batch (RunLogsDropped,
// SinkErrors), not the process; the spans of the runs sampled out stay
// in SampledOut, and the kept runs are exported.
func TestSinkExportLogsPanicRecovered(t *testing.T) {
	sink := &panickySink{logs: true, value: "logs broke"}
	var log errorLog
	e, err := New(WithSink(sink), WithBatch(64, time.Hour), WithErrorHandler(log.handle),
		WithTailSampling(TailPolicy{KeepErrors: true, RunLogAlways: true}))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		r := e.StartRun(RunInfo{FlowID: "f"})
		r.End(i%2, "") // odd runs failed: kept
	}
	flush(t, e)
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := e.Stats()
	checkDrained(t, "logs panic", s)
	if s.Exported != 5 || s.SampledOut != 5 || s.RunLogsDropped != 5 || s.SinkErrors != 1 || s.Dropped != 0 || len(log.panics()) != 1 {
		t.Errorf("stats %+v, %d panics reported: want 5 exported, 5 sampled out with their 5 run logs dropped by one panic", s, len(log.panics()))
	}
}

// TestTeePanicRecovered: in a Tee, a sink that panics is one sink's
// failure. A second sink's panic is counted in its TeeStats (Refused, Err
// wrapping ErrPanic) while the primary and the engine's accounting are
// untouched; the primary's panic drops the batch under DropPanic, and the
// sink after it still gets every batch.
func TestTeePanicRecovered(t *testing.T) {
	const runs, spans = 6, 6 * 2
	good := &MemorySink{}
	bad := &panickySink{exportEvery: 1, value: "second broke"}
	tee, err := Tee(good, bad)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(WithSink(tee), WithBatch(2, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	produceRuns(t, e, runs, 1, "f")
	_ = e.Shutdown(context.Background())
	s := e.Stats()
	checkDrained(t, "tee second panics", s)
	ts := tee.Stats()
	if s.Exported != spans || s.Dropped != 0 || len(good.Runs()) != runs || ts[1].Refused != spans || !errors.Is(ts[1].Err, ErrPanic) {
		t.Errorf("second sink panics: stats %+v, tee %+v", s, ts)
	}

	bad = &panickySink{exportEvery: 1, value: "primary broke"}
	good = &MemorySink{}
	if tee, err = Tee(bad, good); err != nil {
		t.Fatal(err)
	}
	var log errorLog
	if e, err = New(WithSink(tee), WithBatch(2, time.Hour), WithErrorHandler(log.handle)); err != nil {
		t.Fatal(err)
	}
	produceRuns(t, e, runs, 1, "f")
	_ = e.Shutdown(context.Background())
	s = e.Stats()
	checkDrained(t, "tee primary panics", s)
	if s.Drops(DropPanic) != spans || s.Exported != 0 || len(good.Runs()) != runs || len(log.panics()) != runs {
		t.Errorf("primary panics: stats %+v, second sink has %d runs, %d panics reported", s, len(good.Runs()), len(log.panics()))
	}
}

// TestDecidePanicRecovered: a TailPolicy.Decide that panics on the runs
// of one flow. It runs on the pipeline goroutine, where the panic ended
// the process. Each run it panics on is dropped and counted under
// DropPanic (not as sampled out: sampling did not decide it), the error
// handler is told once a run with the flow named, and Decide goes on
// deciding the other runs.
func TestDecidePanicRecovered(t *testing.T) {
	var log errorLog
	e, sink := newTestEngine(t, WithErrorHandler(log.handle), WithTailSampling(TailPolicy{Decide: func(v RunView) TailDecision {
		switch v.FlowID() {
		case "boom":
			var s []int
			_ = s[len(v.FlowID())] // out of range: a runtime error
		case "drop":
			return TailDrop
		}
		return TailKeep
	}}))
	const nodes = 2
	produceRuns(t, e, 7, nodes, "boom")
	produceRuns(t, e, 5, nodes, "keep")
	produceRuns(t, e, 3, nodes, "drop")
	s := e.Stats()
	checkIdentity(t, s)
	if s.Drops(DropPanic) != 7*(1+nodes) || s.Exported != 5*(1+nodes) || len(sink.Runs()) != 5 ||
		s.SampledOut != 3*(1+nodes) || s.RunsSampledOut != 3 {
		t.Errorf("stats %+v, %d runs exported: want 7 runs dropped by the panic, 5 kept, 3 sampled out", s, len(sink.Runs()))
	}
	ps := log.panics()
	if len(ps) != 7 {
		t.Fatalf("%d panics reported, want 7: %v", len(ps), log.errs)
	}
	if msg := ps[0].Error(); !strings.Contains(msg, "TailPolicy.Decide") || !strings.Contains(msg, `"boom"`) ||
		!strings.Contains(msg, "index out of range") || !strings.Contains(msg, "TestDecidePanicRecovered") {
		t.Errorf("error %.400q does not name Decide, the flow, the panic and its frame", msg)
	}
}

// TestDecideRecoverAllocs: the recover around Decide costs no allocation
// per run.
func TestDecideRecoverAllocs(t *testing.T) {
	ts, err := newTailSampler(&TailPolicy{Decide: func(v RunView) TailDecision {
		if v.Code() != 0 {
			return TailKeep
		}
		return TailDrop
	}})
	if err != nil {
		t.Fatal(err)
	}
	run := &encode.Run{FlowID: "f", Code: 1}
	testkit.WantAllocs(t, 0, func() {
		if !ts.keep(run, 1) {
			t.Fatal("not kept")
		}
	})
}

// panickyMetrics is a MetricsExporter whose ExportMetrics panics on every
// call and whose AppendMetrics panics on the calls until appends is 0,
// counting them.
type panickyMetrics struct {
	mu      sync.Mutex
	exports int
	appends int // AppendMetrics panics while above 0, counting down
}

func (x *panickyMetrics) ExportMetrics(req *bytebufferpool.ByteBuffer, _ int) {
	x.mu.Lock()
	x.exports++
	x.mu.Unlock()
	encode.PutBuffer(req)
	panic("metrics exporter broke")
}

func (x *panickyMetrics) AppendMetrics(dst []encode.Metric, _ MetricsWindow) []encode.Metric {
	x.mu.Lock()
	p := x.appends > 0
	x.appends--
	x.mu.Unlock()
	if p {
		half := append(dst, encode.Metric{Name: "half_built"}) // into the collection's array
		panic(fmt.Errorf("append broke after %d families", len(half)))
	}
	return dst
}

// TestMetricsExporterPanicRecovered: a MetricsExporter whose ExportMetrics
// panics ran unprotected on the metrics goroutine and, at Shutdown, on
// the pipeline goroutine: the panic ended the process. A panic of its
// AppendMetrics, inside a collection, left Metrics.mu held for good
// (every later collection, OTLP or a scrape, waited on it). Each is now
// recovered, counted in Stats.Panics and told to the error handler after
// the lock is released; the collection goes on without the exporter's
// families, and the next ones work.
func TestMetricsExporterPanicRecovered(t *testing.T) {
	x := &panickyMetrics{appends: 2}
	var log errorLog
	e, sink := newTestEngine(t, WithMetricsExporter(x), WithErrorHandler(log.handle),
		WithMetrics(MetricsConfig{Interval: time.Hour}))
	produceRuns(t, e, 3, 1, "f")
	out := string(e.AppendPrometheus(nil)) // AppendMetrics panics: recovered
	if strings.Contains(out, "half_built") || !strings.Contains(out, "flowtel_") {
		t.Errorf("a collection whose exporter panicked: %.300q", out)
	}
	if err := e.Shutdown(context.Background()); err != nil { // final export: both panic
		t.Fatal(err)
	}
	if out := e.AppendPrometheus(nil); len(out) == 0 { // the lock was released
		t.Error("no collection after the panics")
	}
	s := e.Stats()
	checkDrained(t, "metrics exporter panic", s)
	if s.Panics != 3 || s.Exported != 6 || len(sink.Runs()) != 3 || s.Dropped != 0 {
		t.Errorf("stats %+v: want 3 panics (2 AppendMetrics, 1 ExportMetrics), the 6 spans exported", s)
	}
	ps := log.panics()
	if len(ps) != 3 {
		t.Fatalf("%d panics reported, want 3: %v", len(ps), log.errs)
	}
	var names string
	for _, err := range ps {
		names += err.Error()
	}
	if !strings.Contains(names, "AppendMetrics (*engine.panickyMetrics)") || !strings.Contains(names, "ExportMetrics (*engine.panickyMetrics)") ||
		!strings.Contains(names, "append broke") {
		t.Errorf("errors do not name the calls and the panics: %.600q", names)
	}
}

// TestErrorHandlerPanicRecovered: an error handler that panics ran
// unprotected on the pipeline goroutine (a sink's error): the process
// ended. It is recovered and counted in Stats.Panics; every batch is
// still counted (DropSink) and the pipeline goes on.
func TestErrorHandlerPanicRecovered(t *testing.T) {
	calls := 0
	e, err := New(WithSink(&failingSink{}), WithBatch(2, time.Hour), WithErrorHandler(func(error) {
		calls++ // the pipeline goroutine's only
		panic("handler broke")
	}))
	if err != nil {
		t.Fatal(err)
	}
	produceRuns(t, e, 4, 1, "f")
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := e.Stats()
	checkDrained(t, "handler panic", s)
	if s.Panics != 4 || calls != 4 || s.Drops(DropSink) != 8 || s.SinkErrors != 4 {
		t.Errorf("stats %+v, handler called %d times: want 4 panics of 4 calls, 8 spans dropped by the sink", s, calls)
	}
}

// TestDecidePanicStackBounded: a Decide that panics on every run captured
// its goroutine's stack on every run (debug.Stack: microseconds and
// kilobytes a run on the pipeline goroutine). The first panic's error
// carries the stack, then at most one a second (stackInterval); every
// panic is still counted, dropped and reported.
func TestDecidePanicStackBounded(t *testing.T) {
	var log errorLog
	start := time.Now()
	e, _ := newTestEngine(t, WithErrorHandler(log.handle), WithTailSampling(TailPolicy{Decide: func(RunView) TailDecision {
		panic("every run")
	}}))
	const runs = 50
	produceRuns(t, e, runs, 1, "f")
	elapsed := time.Since(start)
	s := e.Stats()
	checkIdentity(t, s)
	if s.Panics != runs || s.Drops(DropPanic) != 2*runs {
		t.Errorf("stats %+v: want %d panics, %d spans dropped", s, runs, 2*runs)
	}
	ps := log.panics()
	if len(ps) != runs {
		t.Fatalf("%d panics reported, want %d", len(ps), runs)
	}
	stacks := 0
	for _, err := range ps {
		if strings.Contains(err.Error(), "runtime/debug.Stack") {
			stacks++
		}
	}
	if !strings.Contains(ps[0].Error(), "runtime/debug.Stack") {
		t.Errorf("the first panic carries no stack: %.300q", ps[0])
	}
	if most := 1 + int(elapsed/stackInterval); stacks > most {
		t.Errorf("%d of %d errors carry a stack over %v; want at most %d", stacks, runs, elapsed, most)
	}
	if !strings.Contains(ps[runs-1].Error(), "stack left out") {
		t.Errorf("an error without its stack does not say so: %.300q", ps[runs-1])
	}
}

// TestDecidePanicRunLogDropped: with RunLogAlways, a run whose Decide
// panicked lost its run log with its spans, and only the spans were
// counted: the run log is counted in RunLogsDropped.
func TestDecidePanicRunLogDropped(t *testing.T) {
	e, sink := newTestEngine(t, WithTailSampling(TailPolicy{RunLogAlways: true, Decide: func(v RunView) TailDecision {
		if v.FlowID() == "boom" {
			panic("boom")
		}
		return TailDrop
	}}), WithErrorHandler(func(error) {}))
	produceRuns(t, e, 3, 1, "boom")
	produceRuns(t, e, 2, 1, "fine")
	s := e.Stats()
	checkIdentity(t, s)
	if s.RunLogsDropped != 3 || s.Drops(DropPanic) != 6 || s.SampledOut != 4 || len(sink.LogRuns()) != 2 {
		t.Errorf("stats %+v, %d run logs exported: want the 3 panicked runs' run logs dropped, 2 exported", s, len(sink.LogRuns()))
	}
}
