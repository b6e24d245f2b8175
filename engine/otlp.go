package engine

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/export"
)

// OTLPSink encodes finished runs as OTLP traces (a root span per run, a
// child span per node) and, unless turned off, OTLP logs (one run trace log
// record per run), and queues them on an exporter. Encoding happens on the
// pipeline's export stage into pooled buffers, a large batch split across
// several encoders at once; sending happens on the exporter's workers.
// What the exporter cannot deliver it counts in its own Stats, by reason.
type OTLPSink struct {
	encs []*encode.Encoder
	exp  *export.Exporter
	logs bool
}

// Encoding is most of the export stage's work and the pipeline's one
// serial step: a batch of at least minParallelSpans spans is split across
// up to maxSinkEncoders encoders, one per P, each encoding and queuing its
// own requests.
const (
	maxSinkEncoders  = 4
	minParallelSpans = 128
)

// NewOTLPSink returns a sink that writes to exp with the identity res.
// With logs false only traces are sent. exp should be made with
// Config.Release set to encode.PutBuffer, as NewOTLP does, so that the
// sink's buffers are reused.
func NewOTLPSink(exp *export.Exporter, res encode.Resource, logs bool) *OTLPSink {
	s := &OTLPSink{exp: exp, logs: logs}
	for range min(runtime.GOMAXPROCS(0), maxSinkEncoders) {
		s.encs = append(s.encs, encode.NewEncoder(res))
	}
	return s
}

// SetOffloader makes the run trace logs offload large values through o.
func (s *OTLPSink) SetOffloader(o *encode.Offloader) {
	for _, enc := range s.encs {
		enc.SetOffloader(o)
	}
}

// MaxRequestBytes bounds one encoded request: a batch whose encoding is
// larger is split in halves, since receivers refuse gRPC messages over
// 4 MiB by default. A single run larger than this is sent alone.
const MaxRequestBytes = 4<<20 - 64<<10

// Export encodes runs and queues them. It never blocks unless the
// exporter's policy is Block. It returns once every part is encoded, so
// that runs are not used after it returns.
func (s *OTLPSink) Export(runs []*encode.Run) error {
	spans := encode.NumSpans(runs)
	parts := min(len(s.encs), len(runs), spans/minParallelSpans)
	if parts <= 1 {
		s.exportPart(s.encs[0], runs)
		return nil
	}
	// Cut runs into parts of about the same number of spans.
	var wg sync.WaitGroup
	per, from, acc, part := spans/parts, 0, 0, 0
	for i, r := range runs {
		acc += 1 + len(r.Nodes)
		if acc >= per*(part+1) && part < parts-1 {
			enc, chunk := s.encs[part+1], runs[from:i+1]
			wg.Go(func() { s.exportPart(enc, chunk) })
			from, part = i+1, part+1
		}
	}
	s.exportPart(s.encs[0], runs[from:])
	wg.Wait()
	return nil
}

// exportPart encodes and queues one part of a batch with enc.
func (s *OTLPSink) exportPart(enc *encode.Encoder, runs []*encode.Run) {
	if len(runs) == 0 {
		return
	}
	s.send(enc, export.Traces, runs)
	if s.logs {
		s.send(enc, export.Logs, runs)
	}
}

func (s *OTLPSink) send(enc *encode.Encoder, sig export.Signal, runs []*encode.Run) {
	buf := encode.GetBuffer()
	items := len(runs)
	if sig == export.Traces {
		buf.B = enc.AppendTraces(buf.B[:0], runs)
		items = encode.NumSpans(runs)
	} else {
		buf.B = enc.AppendLogs(buf.B[:0], runs)
	}
	if len(buf.B) > MaxRequestBytes && len(runs) > 1 {
		encode.PutBuffer(buf)
		half := len(runs) / 2
		s.send(enc, sig, runs[:half])
		s.send(enc, sig, runs[half:])
		return
	}
	s.exp.Enqueue(sig, buf, items)
}

// ForceFlush waits until everything queued is sent or counted as dropped.
func (s *OTLPSink) ForceFlush(ctx context.Context) error { return s.exp.ForceFlush(ctx) }

// Shutdown flushes and stops the exporter.
func (s *OTLPSink) Shutdown(ctx context.Context) error { return s.exp.Shutdown(ctx) }

// Exporter returns the exporter the sink writes to.
func (s *OTLPSink) Exporter() *export.Exporter { return s.exp }

// EncoderStats returns the encoders' counters (e.g. strings repaired),
// summed.
func (s *OTLPSink) EncoderStats() encode.EncoderStats {
	var t encode.EncoderStats
	for _, enc := range s.encs {
		st := enc.Stats()
		t.InvalidUTF8 += st.InvalidUTF8
		t.TraceRequests += st.TraceRequests
		t.Spans += st.Spans
		t.LogRequests += st.LogRequests
		t.LogRecords += st.LogRecords
		t.Bytes += st.Bytes
	}
	return t
}

// NewOTLP returns an engine that exports over OTLP with cfg (see
// export.FromEnv), traces and run logs, with the resource taken from cfg
// unless opts set one.
func NewOTLP(cfg export.Config, opts ...Option) (*Engine, error) {
	if cfg.Release == nil {
		cfg.Release = encode.PutBuffer // the sink's buffers go back to the pool they came from
	}
	exp, err := export.New(cfg)
	if err != nil {
		return nil, err
	}
	c := defaultConfig()
	for _, o := range opts {
		o.apply(&c)
	}
	res := c.resource
	res.Attrs = slices.Clip(res.Attrs) // appending must not write into the caller's slice
	if res.ServiceName == "flowtel" && cfg.ServiceName != "" {
		res.ServiceName = cfg.ServiceName
	}
	for _, kv := range cfg.ResourceAttrs {
		res.Attrs = append(res.Attrs, String(kv.Key, kv.Value))
	}
	sink := NewOTLPSink(exp, res, true)
	extra := []Option{WithResource(res), WithSink(sink), WithExporter(exp)}
	if iv := cfg.MetricReader.ExportInterval; iv > 0 && c.metrics.Interval == defaultMetricsConfig().Interval {
		// OTLP_METRIC_EXPORT_INTERVAL_MILLIS, unless an option set one.
		extra = append(extra, optionFunc(func(c *config) { c.metrics.Interval = iv }))
	}
	e, err := New(slices.Concat(opts, extra)...)
	if err != nil {
		return nil, errors.Join(err, exp.Shutdown(context.Background()))
	}
	return e, nil
}

// WithExporter gives an engine built with its own Sink (such as an
// OTLPSink on exp) the exporter for its OTLP metrics and for
// ExporterStats, as NewOTLP does. The engine does not shut exp down: its
// sink does.
func WithExporter(exp *export.Exporter) Option {
	return optionFunc(func(c *config) { c.exporter = exp })
}

// ExporterStats returns the exporter's accounting when the engine was made
// by NewOTLP, and false otherwise.
func (e *Engine) ExporterStats() (export.Stats, bool) {
	if e.cfg.exporter == nil {
		return export.Stats{}, false
	}
	return e.cfg.exporter.Stats(), true
}
