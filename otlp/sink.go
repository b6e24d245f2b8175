package otlp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/valyala/bytebufferpool"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/enginehook"
)

// Sink encodes finished runs as OTLP traces (a root span per run, a
// child span per node) and, unless turned off, OTLP logs (one run trace log
// record per run), and queues them on an exporter. Encoding happens on the
// pipeline's export stage into pooled buffers, a large batch split across
// several encoders at once; sending happens on the exporter's workers.
// What the exporter cannot deliver it counts in its own Stats, by reason.
//
// A Sink is also the engine's engine.MetricsExporter: it queues the
// engine's OTLP metrics on the same exporter and adds the exporter's
// accounting (flowtel_export_*) to every collection.
//
// Make one with NewSink. The zero Sink, and a nil *Sink (which engine.New
// refuses, but whose methods a caller may call), never panic: Export,
// ExportLogs, ForceFlush and Shutdown return an error wrapping
// export.ErrNotStarted (the engine counts the spans it refuses as
// engine.DropSink), the run logs given to ExportLogs and the points of a
// metrics request given to ExportMetrics are dropped and counted
// (AppendMetrics reports them as flowtel_export_items_total with result
// not_started; a nil Sink has nowhere to count them, and puts the request
// back in the pool), and its other methods return zero values.
type Sink struct {
	off  *encode.Offloader // closed by Shutdown
	encs []*encode.Encoder
	exp  *export.Exporter
	logs bool
	xm   exporterMetrics
	// unstarted counts the metrics points a zero Sink dropped,
	// unstartedLogs the run logs its ExportLogs refused.
	unstarted, unstartedLogs atomic.Uint64
	// logsOff counts the run logs a sink with its logs off did not send
	// (RunLogsSampledOut).
	logsOff atomic.Uint64
	// itemBytes is the encoded bytes per span (Traces) and per run log
	// (Logs) of the last request, to size the next request's buffer once
	// instead of growing it by doubling (growslice was 1.3 % of the
	// loadgen's CPU in AppendTraces).
	itemBytes [2]atomic.Int64
	// mu makes Export and ExportLogs one at a time: they share the
	// encoders and out, bufs and items. The engine calls them one at a
	// time; a caller's own goroutines may not.
	mu sync.Mutex
	// out holds what each encoder encoded of the batch Export is
	// queuing; bufs and items gather one signal's requests for the
	// exporter.
	out   [maxSinkEncoders]encodedPart
	bufs  []*bytebufferpool.ByteBuffer
	items []int
}

// Encoding is most of the export stage's work and the pipeline's one
// serial step: a batch of at least minParallelSpans spans is split across
// up to maxSinkEncoders encoders, one per P, whose requests are then
// queued together.
const (
	maxSinkEncoders  = 4
	minParallelSpans = 128
)

// NewSink returns a sink that writes to exp with the identity res.
// With logs false only traces are sent. A resource without a service name
// gets engine.DefaultServiceName, as the engine's does. exp should be made with
// Config.Release set to encode.PutBuffer, as New does, so that the
// sink's buffers are reused. Give the engine the sink with
// engine.WithSink and, for its metrics, engine.WithMetricsExporter.
// A nil exp is an error wrapping export.ErrInvalidConfig (such a sink
// made engine.New panic), and so is a resource that encodes to more than
// half of exp.MaxRequestBytes (every request carries it).
func NewSink(exp *export.Exporter, res encode.Resource, logs bool) (*Sink, error) {
	if exp == nil {
		return nil, fmt.Errorf("%w: otlp: new sink: the exporter is nil", export.ErrInvalidConfig)
	}
	s := &Sink{exp: exp, logs: logs}
	res = withDefaultName(res)
	// Every request carries the resource: one that leaves less than half
	// of a request for spans would pass here and have every batch dropped
	// as too large. The smallest request (one bare run) measures it.
	if n, most := len(encode.NewEncoder(res).AppendTraces(nil, []*encode.Run{{}})), exp.MaxRequestBytes()/2; int64(n) > most {
		return nil, fmt.Errorf("%w: the resource (engine.WithResource and Config.ResourceAttrs) encodes to %d bytes, more than %d, half of what a request may hold: every request carries it",
			export.ErrInvalidConfig, n, most)
	}
	for range min(runtime.GOMAXPROCS(0), maxSinkEncoders) {
		s.encs = append(s.encs, encode.NewEncoder(res))
	}
	return s, nil
}

// withDefaultName gives res the service name engine.New gives the
// engine's resource when it has none: the metrics carry that one, and the
// spans and run logs must name the same.
func withDefaultName(res encode.Resource) encode.Resource {
	if res.ServiceName == "" {
		res.ServiceName = engine.DefaultServiceName
	}
	return res
}

// TakesLogs reports false for a sink NewSink made with its logs off, whose
// ExportLogs sends nothing and reports no error: the engine refuses
// TailPolicy.RunLogAlways with it. A nil or zero Sink takes them, as its
// ExportLogs fails and the engine counts the run logs dropped.
func (s *Sink) TakesLogs() bool { return s == nil || s.exp == nil || s.logs }

// RunLogsSampledOut returns how many run trace logs the sink did not send
// because its logs are off (NewSink's logs false, export.Config.NoLogs),
// one a run: they are not exported by choice, as spans sampled out are,
// not dropped. Its metrics report them as
// flowtel_export_items_total{signal="logs",result="sampled_out"}.
func (s *Sink) RunLogsSampledOut() uint64 {
	if s == nil {
		return 0
	}
	return s.logsOff.Load()
}

// errZeroSink is what the zero Sink returns, errNilSink a nil *Sink.
var (
	errZeroSink = fmt.Errorf("otlp: zero Sink, make it with NewSink: %w", export.ErrNotStarted)
	errNilSink  = fmt.Errorf("otlp: nil Sink, make it with NewSink: %w", export.ErrNotStarted)
)

// unstartedErr returns the error of a nil or zero Sink, nil for a Sink made
// by NewSink.
func (s *Sink) unstartedErr() error {
	switch {
	case s == nil:
		return errNilSink
	case s.exp == nil:
		return errZeroSink
	}
	return nil
}

// SetOffloader makes the run trace logs offload large values through o.
// Shutdown closes o once the exporter is shut down. A nil Sink keeps
// nothing: o is then the caller's to close. Call it before the sink is
// given to engine.New: the encoders read it on the pipeline's goroutines
// without a lock, so a call beside Export is a data race.
func (s *Sink) SetOffloader(o *encode.Offloader) {
	if s == nil {
		return
	}
	s.off = o
	for _, enc := range s.encs {
		enc.SetOffloader(o)
	}
}

// MaxRequestBytes bounds one encoded request: a batch whose encoding is
// larger is split in halves, since receivers refuse gRPC messages over
// 4 MiB by default. A single run larger than this is sent alone.
const MaxRequestBytes = 4<<20 - 64<<10

// Export encodes runs and queues them; a batch holding a nil run or node
// is refused whole, with an error. It may be called from several
// goroutines: the calls (and ExportLogs') take turns. It never blocks
// unless the exporter's policy is Block. It returns once every part is
// encoded and queued, so that runs are not used after it returns.
//
// The parts a batch is encoded in on several cores are queued together
// (export.Exporter.EnqueueParts), so that over both protocols the batch
// leaves as one request when it fits Config.CoalesceBytes: queued one by
// one as each encoder finished, the parts of most batches left as a
// request each when the exporter's workers were idle, and each part was a
// request over OTLP/HTTP (TestSinkBatchOneRequest).
func (s *Sink) Export(runs []*encode.Run) error {
	if err := s.unstartedErr(); err != nil {
		return err
	}
	spans, err := checkRuns(runs)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	parts := max(min(len(s.encs), len(runs), spans/minParallelSpans), 1)
	if parts == 1 {
		s.encodePart(&s.out[0], s.encs[0], runs)
	} else {
		// Cut runs into parts of about the same number of spans.
		var wg sync.WaitGroup
		per, from, acc, part := spans/parts, 0, 0, 0
		for i, r := range runs {
			acc += 1 + len(r.Nodes)
			if acc >= per*(part+1) && part < parts-1 {
				out, enc, chunk := &s.out[part+1], s.encs[part+1], runs[from:i+1]
				wg.Go(func() { s.encodePart(out, enc, chunk) })
				from, part = i+1, part+1
			}
		}
		s.encodePart(&s.out[0], s.encs[0], runs[from:])
		wg.Wait()
	}
	s.enqueue(export.Traces, parts)
	if s.logs {
		s.enqueue(export.Logs, parts)
	} else {
		s.logsOff.Add(uint64(len(runs)))
	}
	return nil
}

// ExportLogs encodes and queues the run trace logs of runs whose spans
// sampling left out (engine.TailPolicy.RunLogAlways). When the sink sends
// no logs it counts them in RunLogsSampledOut.
func (s *Sink) ExportLogs(runs []*encode.Run) error {
	if err := s.unstartedErr(); err != nil {
		if s != nil {
			// One per run log (AppendMetrics reports them): the engine
			// counts a failed call, not what it held.
			s.unstartedLogs.Add(uint64(len(runs)))
		}
		return err
	}
	if _, err := checkRuns(runs); err != nil {
		return err
	}
	if !s.logs {
		s.logsOff.Add(uint64(len(runs)))
		return nil
	}
	if len(runs) > 0 {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.out[0].encode(s, s.encs[0], export.Logs, runs)
		s.enqueue(export.Logs, 1)
	}
	return nil
}

// checkRuns refuses a batch holding a nil run or node (the engine never
// makes one; a caller of Export may), which the encoder would dereference,
// and counts its spans (encode.NumSpans) in the same pass. It reads the
// pointers the encoder reads next.
func checkRuns(runs []*encode.Run) (spans int, err error) {
	for i, r := range runs {
		if r == nil {
			return 0, fmt.Errorf("otlp: export: run %d of %d is nil: the batch is refused", i, len(runs))
		}
		if slices.Contains(r.Nodes, nil) {
			return 0, fmt.Errorf("otlp: export: run %d of %d has a nil node (of %d): the batch is refused", i, len(runs), len(r.Nodes))
		}
		spans += 1 + len(r.Nodes)
	}
	return spans, nil
}

// encodedPart holds the requests one encoder made of its part of a batch,
// per signal (0 traces, 1 logs), until every part is encoded.
type encodedPart struct {
	bufs  [2][]*bytebufferpool.ByteBuffer
	items [2][]int
}

// encodePart encodes one part of a batch with enc into out.
func (s *Sink) encodePart(out *encodedPart, enc *encode.Encoder, runs []*encode.Run) {
	if len(runs) == 0 {
		return
	}
	out.encode(s, enc, export.Traces, runs)
	if s.logs {
		out.encode(s, enc, export.Logs, runs)
	}
}

// signalIndex is sig's index in Sink.itemBytes and encodedPart.
func signalIndex(sig export.Signal) int {
	if sig == export.Traces {
		return 0
	}
	return 1
}

// encode encodes runs as requests of sig with enc, halving them until each
// request is at most MaxRequestBytes, and keeps the requests.
func (p *encodedPart) encode(s *Sink, enc *encode.Encoder, sig export.Signal, runs []*encode.Run) {
	buf := encode.GetBuffer()
	k := signalIndex(sig)
	items := len(runs)
	if sig == export.Traces {
		items = encode.NumSpans(runs)
	}
	// The last request's bytes per item say how large this one will be: a
	// buffer with a twentieth more is used as it is, a smaller one grows
	// to a quarter more, at most a request's bytes. The usual request then
	// neither grows while it is written nor needs a new buffer: growing
	// every buffer short of a fifth more (the old rule) gave 1 %
	// of the loadgen's requests a new 270 KB buffer for want of 0.1 %.
	// GrowBuffer clears no capacity (see encode.GrowBuffer).
	if need := int(s.itemBytes[k].Load()) * items; cap(buf.B) < min(need*21/20, MaxRequestBytes) {
		buf.B = buf.B[:0]
		encode.GrowBuffer(buf, min(need*5/4, MaxRequestBytes))
	}
	if sig == export.Traces {
		buf.B = enc.AppendTraces(buf.B[:0], runs)
	} else {
		buf.B = enc.AppendLogs(buf.B[:0], runs)
	}
	if items > 0 {
		s.itemBytes[k].Store(int64(len(buf.B) / items))
	}
	if len(buf.B) > MaxRequestBytes && len(runs) > 1 {
		encode.PutBuffer(buf)
		half := len(runs) / 2
		p.encode(s, enc, sig, runs[:half])
		p.encode(s, enc, sig, runs[half:])
		return
	}
	p.bufs[k] = append(p.bufs[k], buf)
	p.items[k] = append(p.items[k], items)
}

// enqueue queues the requests of sig that the first parts encoders made,
// together, and forgets them.
func (s *Sink) enqueue(sig export.Signal, parts int) {
	k := signalIndex(sig)
	for i := range parts {
		p := &s.out[i]
		s.bufs = append(s.bufs, p.bufs[k]...)
		s.items = append(s.items, p.items[k]...)
		clear(p.bufs[k])
		p.bufs[k], p.items[k] = p.bufs[k][:0], p.items[k][:0]
	}
	switch len(s.bufs) {
	case 0:
	case 1:
		s.exp.Enqueue(sig, s.bufs[0], s.items[0])
	default:
		s.exp.EnqueueParts(sig, s.bufs, s.items)
	}
	clear(s.bufs)
	s.bufs, s.items = s.bufs[:0], s.items[:0]
}

// SinkStats returns what became of the spans Export queued: delivered (the
// receiver took them), or dropped by the exporter (rejected by the
// receiver, or dropped for a reason, DropShutdown among them). The engine
// reads it (engine.SinkReporter), so that its Stats hold
// Accepted == Exported + Dropped + InFlight across the exporter.
func (s *Sink) SinkStats() engine.SinkStats {
	if s == nil || s.exp == nil {
		return engine.SinkStats{}
	}
	t := s.exp.Stats().Signals[export.Traces]
	return engine.SinkStats{
		Delivered: t.Exported,
		Dropped:   t.Rejected + t.Dropped,
		Shutdown:  t.DroppedBy[export.DropShutdown],
	}
}

// MemoryBytes is what the exporter's queue may hold: twice its
// QueueBytes, since a buffer's capacity may be up to twice its encoded
// length, and what the offloader's queue may hold (the same rule). The
// engine takes it out of its memory limit (engine.MemoryUser).
func (s *Sink) MemoryBytes() int64 {
	if s == nil || s.exp == nil {
		return 0
	}
	return 2*s.exp.Stats().QueueBytes + s.off.MemoryBytes()
}

// ForceFlush waits until everything queued is sent or counted as dropped.
// It returns an error wrapping export.ErrDropped and the last export error
// if anything it waited for was dropped (see export.Exporter.ForceFlush).
func (s *Sink) ForceFlush(ctx context.Context) error {
	if err := s.unstartedErr(); err != nil {
		return err
	}
	return s.exp.ForceFlush(ctx)
}

// Shutdown flushes and stops the exporter, then waits, within ctx, for
// the offloader (SetOffloader) to store what it holds.
func (s *Sink) Shutdown(ctx context.Context) error {
	if err := s.unstartedErr(); err != nil {
		if s != nil {
			// A zero Sink given an offloader closes it all the same.
			err = errors.Join(err, s.off.Close(ctx))
		}
		return err
	}
	return errors.Join(s.exp.Shutdown(ctx), s.off.Close(ctx))
}

// Offloader returns the offloader of the sink's run trace logs, nil when
// none.
func (s *Sink) Offloader() *encode.Offloader {
	if s == nil {
		return nil
	}
	return s.off
}

// newOffloader returns the offloader cfg.LargeFields chooses, nil when
// Disabled: an export.HTTPStore for a URL, else a bounded file store in
// the directory (export.DefaultLargeFieldDir by default). Failed stores
// are reported to cfg.ErrorHandler, their URL redacted.
func newOffloader(cfg *export.Config) (*encode.Offloader, error) {
	if err := cfg.LargeFields.Validate(); err != nil {
		return nil, err
	}
	lf := cfg.LargeFields.WithDefaults()
	var store encode.LargeFieldStore
	switch {
	case lf.Disabled:
		return nil, nil
	case lf.URL != "":
		h := make(http.Header, len(lf.Headers))
		for k, v := range lf.Headers {
			h.Set(k, v)
		}
		hs, err := export.NewHTTPStore(lf.URL, h, export.NewHTTPStoreClient(lf.Timeout))
		if err != nil {
			return nil, err
		}
		store = hs
	default:
		if err := privateLargeFieldDir(lf.Dir, cfg.LargeFields.Dir == ""); err != nil {
			if errors.Is(err, export.ErrInvalidConfig) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: LargeFields.Dir: %w", export.ErrInvalidConfig, err)
		}
		fs, err := encode.NewBoundedFSStore(lf.Dir, "", lf.MaxBytes, lf.MaxFiles)
		if err != nil {
			return nil, fmt.Errorf("%w: LargeFields.Dir: %w", export.ErrInvalidConfig, err)
		}
		store = fs
	}
	oc := encode.OffloadConfig{QueueBytes: lf.QueueBytes, Workers: lf.Concurrency, PutTimeout: lf.Timeout}
	if h := cfg.ErrorHandler; h != nil {
		oc.ErrorHandler = func(_ string, err error) { h(err) }
	}
	return encode.NewOffloader(store, oc), nil
}

// Exporter returns the exporter the sink writes to.
func (s *Sink) Exporter() *export.Exporter {
	if s == nil {
		return nil
	}
	return s.exp
}

// EncoderStats returns the encoders' counters (e.g. strings repaired),
// summed.
func (s *Sink) EncoderStats() encode.EncoderStats {
	var t encode.EncoderStats
	if s == nil {
		return t
	}
	for _, enc := range s.encs {
		st := enc.Stats()
		t.InvalidUTF8 += st.InvalidUTF8
		t.TraceRequests += st.TraceRequests
		t.Spans += st.Spans
		t.LogRequests += st.LogRequests
		t.LogRecords += st.LogRecords
		t.Bytes += st.Bytes
		t.AttrsReplaced += st.AttrsReplaced
	}
	return t
}

// New returns an engine that exports over OTLP with cfg (see
// export.FromEnv), traces, metrics and run logs. With cfg.NoLogs
// (OTEL_LOGS_EXPORTER=none) it sends no run logs, for a receiver without
// an OTLP logs service such as Jaeger, whose refusals would otherwise be
// counted dropped and make ForceFlush and Shutdown return
// export.ErrDropped; the logs not sent are counted sampled out
// (Sink.RunLogsSampledOut), and a TailPolicy.RunLogAlways is refused
// unless a sink opts set takes run logs. (Jaeger takes no OTLP metrics
// either: engine.WithMetrics(engine.MetricsConfig{NoExport: true}), or
// OTEL_METRICS_EXPORTER=none or prometheus.) The exporter's queue counts in
// the engine's memory limit (engine.WithMemoryLimit); when opts set one
// and cfg.QueueBytes is 0, the queue gets an eighth of it (at most
// export.DefaultQueueBytes) in encoded bytes, a quarter in memory, and
// when cfg.LargeFields.QueueBytes is 0 the offloader's queue a sixteenth
// (at most export.DefaultLargeFieldQueueBytes), an eighth in memory. The
// resource is the one opts set,
// whose unset (empty) service name is cfg.ServiceName, with
// cfg.ResourceAttrs added; the OTLP metrics interval is
// cfg.MetricReader.ExportInterval unless opts set one.
//
// The exporter's queue waits for room (cfg.Block is set; cfg.BlockTimeout,
// default 1 s, bounds each wait, after which the batch is dropped and
// counted as exporter.block_timeout) instead of dropping
// a batch as exporter.queue_full: its one caller is the engine's export
// stage, never an application goroutine, and behind it the rings hold every
// run in flight, so a burst of run ends larger than the queue waits in
// records the engine holds anyway. For a queue that drops, make the
// exporter with export.New and give the engine NewSink.
//
// A sink opts set (engine.WithSink: a queue for the run trace log, say)
// receives every batch too: New gives the engine engine.Tee(its OTLP sink,
// that sink), so the engine's Stats count what the OTLP receiver took and
// the other sink's refusals are counted in the Tee's Stats (see
// engine.Tee). Shutdown shuts both down.
//
// Large values are offloaded by default (cfg.LargeFields,
// FLOWTEL_LARGE_FIELDS_* in export.FromEnv): run trace log strings of 5088
// bytes or more and INFO and ERROR span events of 10 KiB or more are
// replaced by a link and stored in the background, in a bounded file
// store in export.DefaultLargeFieldDir() unless cfg.LargeFields chooses
// another directory, an export.HTTPStore (object storage behind a URL,
// one HTTP PUT a value) or Disabled. What could not be stored is cut or
// counted (flowtel_offload_values_total{result}). The engine's Shutdown
// waits, within its context, for the values queued, then closes the
// store; the values it had no time for are counted as lost and said in
// its error.
//
// The exporter's and the store's failures go to cfg.ErrorHandler, or,
// when it is nil (as from export.FromEnv and NewFromEnv), to the
// engine.WithErrorHandler opts set.
func New(cfg export.Config, opts ...engine.Option) (*engine.Engine, error) {
	if cfg.Release == nil {
		cfg.Release = encode.PutBuffer // the sink's buffers go back to the pool they came from
	}
	cfg.Block = true // only the export stage enqueues: it waits, see above
	if cfg.ErrorHandler == nil {
		// The exporter's and the offloader's failures go to the engine's
		// handler: NewFromEnv's Config has none, and they were reported
		// nowhere (a collector refusing every request).
		cfg.ErrorHandler = hooks().ErrorHandler(opts)
	}
	if limit := hooks().MemoryLimit(opts); limit > 0 && cfg.QueueBytes == 0 {
		// One budget: the queue takes at most a quarter of the engine's
		// memory limit (MemoryBytes is twice QueueBytes).
		cfg.QueueBytes = max(min(export.DefaultQueueBytes, limit/8), 1)
	}
	if limit := hooks().MemoryLimit(opts); limit > 0 && cfg.LargeFields.QueueBytes == 0 && !cfg.LargeFields.Disabled {
		// The offloader's queue takes at most an eighth of it.
		cfg.LargeFields.QueueBytes = max(min(export.DefaultLargeFieldQueueBytes, limit/16), export.MinLargeFieldQueueBytes)
	}
	off, err := newOffloader(&cfg)
	if err != nil {
		return nil, err
	}
	exp, err := export.New(cfg)
	if err != nil {
		return nil, errors.Join(err, off.Close(context.Background()))
	}
	res := hooks().Resource(opts)
	res.Attrs = slices.Clip(res.Attrs) // appending must not write into the caller's slice
	if res.ServiceName == "" {
		res.ServiceName = cfg.ServiceName
	}
	res = withDefaultName(res)
	for _, kv := range cfg.ResourceAttrs {
		res.Attrs = append(res.Attrs, engine.String(kv.Key, kv.Value))
	}
	sink, err := NewSink(exp, res, !cfg.NoLogs)
	if err != nil {
		return nil, errors.Join(err, exp.Shutdown(context.Background()), off.Close(context.Background()))
	}
	if off != nil {
		sink.SetOffloader(off)
	}
	var engineSink engine.Sink = sink
	if user, ok := hooks().Sink(opts).(engine.Sink); ok {
		// OTLP and the caller's sink: the OTLP sink is the primary, whose
		// delivery the engine's Stats count (engine.Tee).
		tee, err := engine.Tee(sink, user)
		if err != nil {
			return nil, errors.Join(err, sink.Shutdown(context.Background()))
		}
		engineSink = tee
	}
	var first []engine.Option
	if iv := cfg.MetricReader.ExportInterval; iv > 0 {
		// OTLP_METRIC_EXPORT_INTERVAL_MILLIS, unless an option sets one:
		// a zero Interval in a later WithMetrics keeps it.
		first = append(first, engine.WithMetrics(engine.MetricsConfig{Interval: iv}))
	}
	e, err := engine.New(slices.Concat(first, opts, []engine.Option{
		engine.WithResource(res), engine.WithSink(engineSink), engine.WithMetricsExporter(sink),
	})...)
	if err != nil {
		// NoLogs is named only when it is the reason: the policy alone is
		// valid and the run logs go to this sink, not to one of opts.
		if p, _ := hooks().TailPolicy(opts).(engine.TailPolicy); cfg.NoLogs && p.RunLogAlways && errors.Is(err, engine.ErrInvalidSampler) &&
			p.Validate() == nil && hooks().Sink(opts) == nil {
			err = fmt.Errorf("otlp: Config.NoLogs (OTEL_LOGS_EXPORTER=none) turns the run trace logs off, and TailPolicy.RunLogAlways exports the log of every run: %w", err)
		}
		return nil, errors.Join(err, sink.Shutdown(context.Background()))
	}
	return e, nil
}

func hooks() enginehook.Hooks[engine.Engine, engine.Option, engine.Run, engine.Node] {
	return enginehook.Get[engine.Engine, engine.Option, engine.Run, engine.Node]()
}

// ExporterStats returns the exporter's accounting when e's sink is a Sink
// (an engine made by New), and false otherwise.
func ExporterStats(e *engine.Engine) (export.Stats, bool) {
	s, ok := OTLPSink(e)
	if !ok {
		return export.Stats{}, false
	}
	return s.exp.Stats(), true
}

// OTLPSink returns e's Sink: its sink, or the primary of its engine.Tee
// (an engine made by New), and false when it has none (a nil e too).
func OTLPSink(e *engine.Engine) (*Sink, bool) {
	if e == nil {
		return nil, false
	}
	switch s := e.Sink().(type) {
	case *Sink:
		return s, true
	case *engine.TeeSink:
		p, ok := s.Sinks()[0].(*Sink)
		return p, ok
	}
	return nil, false
}
