package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/valyala/bytebufferpool"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/hdr"
)

// Metric names, as documented in the README and read by
// deploy/prometheus/alerts.yml and deploy/grafana/flowtel.json.
const (
	MetricRequests          = "server_request_total"
	MetricRequestTime       = "server_request_time_microseconds"
	MetricNodeExecutions    = "flowtel_node_executions_total"
	MetricNodeDuration      = "flowtel_node_duration_microseconds"
	MetricRecordsAccepted   = "flowtel_records_accepted_total"
	MetricRecordsExported   = "flowtel_records_exported_total"
	MetricRecordsDropped    = "flowtel_records_dropped_total"
	MetricRecordsInFlight   = "flowtel_records_in_flight"
	MetricRecordsSampledOut = "flowtel_records_sampled_out_total"
	MetricMemoryHeld        = "flowtel_memory_held_bytes"
	MetricMemoryLimit       = "flowtel_memory_limit_bytes"
	MetricSeriesOverflow    = "flowtel_metric_overflow_total"
	NodeStatusOK            = "ok"
	NodeStatusError         = "error"
	NodeStatusCancelled     = "cancelled"
	defaultMetricsLimit     = 128
	defaultMetricsInterval  = time.Second
	defaultExpMaxBuckets    = 160
	defaultMetricsHighest   = time.Hour
	defaultLabelBytes       = 256
	maxExponentialBuckets   = 1 << 14               // the counts of one point; at scale 20 an hour would need 33 M
	maxBounds               = 1024                  // each histogram point carries a count per bound
	minMetricsInterval      = 10 * time.Millisecond // each push collects and encodes every series
	maxLabelBytes           = 16 << 10
	maxMetricsLimit         = 1 << 16
	maxExponentialScale     = 20
	minExponentialMaxBucket = 2
)

// DefaultLatencyBounds are the default explicit bucket upper bounds of the
// latency histograms, in microseconds: 100 µs to 1 h. 5 s (5e6) is a bound
// because the HighLatency alert compares p95 with it.
var DefaultLatencyBounds = []float64{
	100, 250, 500,
	1e3, 2.5e3, 5e3,
	1e4, 2.5e4, 5e4,
	1e5, 2.5e5, 5e5,
	1e6, 2.5e6, 5e6,
	1e7, 3e7, 6e7, // 10 s, 30 s, 1 min
	3e8, 6e8, 1.8e9, 3.6e9, // 5 min, 10 min, 30 min, 1 h
}

// MinMetricsInterval is the shortest MetricsConfig.Interval New takes:
// each push collects and encodes every series.
const MinMetricsInterval = minMetricsInterval

// ErrInvalidMetrics is wrapped by the error that reports an invalid
// MetricsConfig.
var ErrInvalidMetrics = errors.New("engine: invalid metrics configuration")

// MetricsConfig configures the request, node and engine metrics. Zero
// fields take the defaults given with each field.
type MetricsConfig struct {
	// Interval is the period of the OTLP metrics export (default 1 s, at
	// least 10 ms). The
	// export runs only when the engine has a MetricsExporter (an engine
	// made by otlp.New has one).
	Interval time.Duration
	// Delta exports OTLP sums and histograms with delta temporality; the
	// default is cumulative. /metrics is always cumulative.
	Delta bool
	// Exponential exports the latency histograms over OTLP as exponential
	// histograms (at most ExponentialBuckets buckets, scale at most 20)
	// instead of explicit buckets. /metrics always uses Bounds: the
	// Prometheus text format has no exponential histograms.
	Exponential bool
	// ExponentialBuckets bounds the buckets of an exponential histogram
	// point (default 160, as the OTel SDKs; at most 16384).
	ExponentialBuckets int
	// Bounds are the ascending explicit bucket upper bounds of the latency
	// histograms, in microseconds, at most 1024 (default
	// DefaultLatencyBounds).
	Bounds []float64
	// Digits is the HDR precision in significant decimal digits, 1 to 5
	// (default 3: every value within 1/1024). A histogram series costs
	// about 184 KiB per core that recorded into it at 3 digits and the
	// default range, about 23 KiB at 2.
	Digits int
	// Highest is the longest duration the histograms hold (default 1 h);
	// longer ones are recorded as Highest and counted as clamped.
	Highest time.Duration
	// Limit bounds the series of each labelled family (default 128).
	// Measurements for new label values past it go to one overflow series
	// (attribute otel.metric.overflow=true) and are counted in
	// flowtel_metric_overflow_total{metric}. The overflow of
	// server_request_total is one series per ret (up to Limit codes), so
	// that error ratios stay right; the node executions' keep status.
	Limit int
	// LabelBytes bounds the bytes of a label value: node_type, app_id,
	// func and the static labels (default 256, at most 16 KiB). A value is
	// first made valid UTF-8 (each run of invalid bytes becomes one
	// U+FFFD, as the encoders write it), then cut at a rune boundary and
	// counted in Stats.ValuesTruncated; the result is what identifies the
	// series, so values that print alike are one series.
	LabelBytes int
	// DC, ServerHost, ServerName and PID are the static labels dc,
	// server_host, server_name and pid of the request metrics. Empty labels
	// are left out, except: ServerHost defaults to the resource's HostIP,
	// ServerName to its ServiceName, and PID to this process's id.
	DC, ServerHost, ServerName, PID string
	// SkipRunRequests stops finished runs, and runs refused at StartRun
	// (RetRefused), from counting in the request metrics: set it when the workflow engine records every request itself
	// with RecordRequest or RequestSeries, so that none counts twice. Node
	// metrics still come from the runs. New refuses it with a
	// TailPolicy.SlowestFraction, whose quantiles are the runs'.
	SkipRunRequests bool
	// NoExport turns the periodic OTLP metrics export off; AppendPrometheus
	// and Bottlenecks still work.
	NoExport bool
}

func defaultMetricsConfig() MetricsConfig {
	return MetricsConfig{
		Interval:           defaultMetricsInterval,
		ExponentialBuckets: defaultExpMaxBuckets,
		Bounds:             DefaultLatencyBounds,
		Digits:             hdr.DefaultDigits,
		Highest:            defaultMetricsHighest,
		Limit:              defaultMetricsLimit,
		LabelBytes:         defaultLabelBytes,
	}
}

// WithMetrics configures the metrics. Zero fields keep their defaults;
// the booleans are taken as given.
func WithMetrics(mc MetricsConfig) Option {
	return optionFunc(func(c *config) {
		d := &c.metrics
		if mc.Interval != 0 {
			d.Interval = mc.Interval
		}
		if mc.ExponentialBuckets != 0 {
			d.ExponentialBuckets = mc.ExponentialBuckets
		}
		if mc.Bounds != nil {
			d.Bounds = append([]float64(nil), mc.Bounds...)
		}
		if mc.Digits != 0 {
			d.Digits = mc.Digits
		}
		if mc.Highest != 0 {
			d.Highest = mc.Highest
		}
		if mc.Limit != 0 {
			d.Limit = mc.Limit
		}
		if mc.LabelBytes != 0 {
			d.LabelBytes = mc.LabelBytes
		}
		setStr := func(dst *string, v string) {
			if v != "" {
				*dst = v
			}
		}
		setStr(&d.DC, mc.DC)
		setStr(&d.ServerHost, mc.ServerHost)
		setStr(&d.ServerName, mc.ServerName)
		setStr(&d.PID, mc.PID)
		d.Delta, d.Exponential, d.SkipRunRequests, d.NoExport = mc.Delta, mc.Exponential, mc.SkipRunRequests, mc.NoExport
	})
}

// validate reports the first invalid field of c as an error wrapping
// ErrInvalidMetrics.
func (c *MetricsConfig) validate() error {
	bad := func(field string, v any) error {
		return fmt.Errorf("%w: %s = %v", ErrInvalidMetrics, field, v)
	}
	switch {
	case c.Interval < minMetricsInterval:
		return bad("Interval", c.Interval)
	case c.ExponentialBuckets < minExponentialMaxBucket || c.ExponentialBuckets > maxExponentialBuckets:
		return bad("ExponentialBuckets", c.ExponentialBuckets)
	case c.Digits < 1 || c.Digits > 5:
		return bad("Digits", c.Digits)
	case c.Highest < 2*time.Microsecond:
		return bad("Highest", c.Highest)
	case c.Limit < 1 || c.Limit > maxMetricsLimit:
		return bad("Limit", c.Limit)
	case c.LabelBytes < 1 || c.LabelBytes > maxLabelBytes:
		return bad("LabelBytes", c.LabelBytes)
	}
	if per := histogramBytes(int64(c.Highest/time.Microsecond), c.Digits) * 2 * int64(c.Limit); per > maxHistogramBytes {
		return fmt.Errorf("%w: Digits = %d, Highest = %v and Limit = %d would let the latency histograms take %d bytes per core, above %d",
			ErrInvalidMetrics, c.Digits, c.Highest, c.Limit, per, int64(maxHistogramBytes))
	}
	if len(c.Bounds) > maxBounds {
		return fmt.Errorf("%w: Bounds has %d bounds, at most %d", ErrInvalidMetrics, len(c.Bounds), maxBounds)
	}
	for i, b := range c.Bounds {
		if math.IsNaN(b) || math.IsInf(b, 0) || b <= 0 || (i > 0 && b <= c.Bounds[i-1]) {
			return bad("Bounds", c.Bounds)
		}
	}
	return nil
}

// maxHistogramBytes bounds what the two histogram families may take per
// core once every series exists (the defaults: about 46 MiB).
const maxHistogramBytes = 1 << 30

// histogramBytes returns the counts of one HDR histogram over [1, highest]
// at digits significant digits, in bytes, as hdrhistogram sizes them.
func histogramBytes(highest int64, digits int) int64 {
	sub := int64(1) << bits.Len64(uint64(2*math.Pow10(digits))-1) // sub-buckets, a power of two
	buckets := int64(1)
	for v := sub; v <= highest; v <<= 1 {
		buckets++
		if v > math.MaxInt64/2 {
			break
		}
	}
	return (buckets + 1) * (sub / 2) * 8
}

// Metrics holds the request and node metrics of an Engine and exports
// them.
//
// Families: server_request_total{dc,server_host,server_name,app_id,func,
// pid,ret} and server_request_time_microseconds (same labels minus ret)
// per run (app_id is the run's AppID, func its FlowID, ret its Code; an
// incomplete run has ret -1 unless it had a code), or per RecordRequest;
// flowtel_node_executions_total{node_type,status} (status "cancelled"
// for a node ended by Node.Cancel, else "error" when the node's Status is
// error, which includes incomplete nodes, else "ok")
// and flowtel_node_duration_microseconds{node_type}; and, read from Stats
// at each collection, flowtel_records_accepted_total,
// flowtel_records_exported_total, flowtel_records_dropped_total{reason}
// (every reason, zeros included), flowtel_records_in_flight,
// flowtel_memory_held_bytes, flowtel_memory_limit_bytes and
// flowtel_metric_overflow_total{metric}; and the families of the
// MetricsExporter, if any (otlp.Sink adds flowtel_export_*).
// Durations are real microseconds, but those of the GenAI families
// (MetricGenAITokenUsage and the others of genai_metrics.go), which are
// in seconds over the GenAI conventions' explicit bounds.
//
// Concurrency: observeRun runs on the pipeline goroutine; RequestSeries,
// RecordRequest and RequestSeries.Record may be called from any
// goroutine. Collections (the OTLP export goroutine, AppendPrometheus,
// Bottlenecks) are serialised by mu and never block recording: the HDR
// histograms are per-P shards swapped out by the collector
// (internal/hdr). The pipeline folds the node and GenAI families into
// plain memory and adds them to their series at the end of each drain
// and before each batch leaves (flushFold): a collection sees every node
// of the drains that ended before it, and after ForceFlush every node.
//
// Allocation: observeRun, RecordRequest and RequestSeries.Record allocate
// nothing once their series exist (TestMetricsAllocs); a new series
// allocates its histogram shards lazily, about 184 KiB per core that
// records into it at the default range and precision, so
// MetricsConfig.Limit bounds memory. Collections reuse their arenas.
//
// Rejected alternatives:
//   - The OTel SDK's Float64Histogram: 330-380 ns and 1 allocation per
//     Record with a prebuilt attribute set against 21-26 ns and none for
//     RequestSeries.Record (BenchmarkRecordLatency).
//   - One histogram per (app_id, func, ret), with server_request_total
//     derived from its counts: one record instead of two, but every
//     return code would multiply the 184 KiB series, and the families
//     would need merging at each collection.
//   - A shared, mutable label map or LabelValues (the original's bug):
//     each call builds its LabelValues on its own stack, and a new series
//     copies the strings.
//   - Formatting ret with strconv on each run: it allocates for codes
//     above 99; retCache keeps the strings, read with one atomic load.
//   - Separate Vecs for node executions and node durations: two lookups
//     per node on the pipeline goroutine; nodeSeries holds both.
type Metrics struct {
	e   *Engine
	cfg MetricsConfig

	// reqCount is server_request_total by (app_id, func, ret); reqTime is
	// server_request_time_microseconds by (app_id, func).
	reqCount *hdr.Vec[hdr.Counter]
	reqTime  *hdr.Vec[hdr.Histogram]
	// reqOver replaces reqCount's overflow series: past the limit a
	// request still counts under its ret (the error ratio of the alerts
	// stays right), as the node executions' overflow keeps status.
	reqOver *hdr.Vec[hdr.Counter]
	// nodes holds, per node type, both node families: one lookup per node.
	nodes *hdr.Vec[nodeSeries]
	rets  retCache
	// genai holds the GenAI families (genai_metrics.go).
	genai genAIMetrics
	// memo is the pipeline's memory of its last lookups (seriesMemo).
	memo foldMemos
	// fold is the node executions the pipeline has folded and not yet
	// added to their series (nodeFold): plain memory, as memo.
	fold nodeFold

	// static are the configured request labels that are not empty.
	static []encode.Attr
	// startNano is the start time of cumulative points.
	startNano int64

	mu  sync.Mutex // serialises collections; guards col
	col collector

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// nodeSeries is the state of one node type: executions by status and the
// duration histogram. Only the pipeline goroutine records into it, so the
// counters are plain atomics (read by collectors).
type nodeSeries struct {
	ok, errs, cancelled atomic.Uint64
	dur                 *hdr.Histogram
}

// newMetrics builds the metrics of e and, when e exports over OTLP,
// starts the goroutine that exports them every interval. An invalid
// configuration is reported to the error handler and replaced by the
// defaults (New should refuse it: see MetricsConfig.validate).
func newMetrics(e *Engine) *Metrics {
	cfg := e.cfg.metrics
	if cfg.Interval == 0 && cfg.Limit == 0 {
		cfg = defaultMetricsConfig() // a config built without defaultConfig
	}
	if err := cfg.validate(); err != nil {
		e.cfg.errorHandler(fmt.Errorf("%w; using the default metrics configuration", err))
		cfg = defaultMetricsConfig()
	}
	m := &Metrics{e: e, cfg: cfg, startNano: time.Now().UnixNano()}
	hc := hdr.Config{Lowest: 1, Highest: int64(cfg.Highest / time.Microsecond), Digits: cfg.Digits}
	var e1, e2, e3, e5 error
	m.reqCount, e1 = hdr.NewCounterVec([]string{"app_id", "func", "ret"}, cfg.Limit)
	m.reqOver, e5 = hdr.NewCounterVec([]string{"ret"}, cfg.Limit)
	m.reqTime, e2 = hdr.NewHistogramVec(hc, []string{"app_id", "func"}, cfg.Limit)
	m.nodes, e3 = hdr.NewVec([]string{"node_type"}, cfg.Limit, func() *nodeSeries {
		h, _ := hdr.New(hc) // validated by NewHistogramVec above
		return &nodeSeries{dur: h}
	})
	e4 := m.genai.init(cfg.Limit, e.cfg.genAISpanNames)
	if err := errors.Join(e1, e2, e3, e4, e5); err != nil {
		// validate rules out every error of the constructors.
		panic("BUG: engine: metrics configuration passed validation but: " + err.Error())
	}
	m.rets.limit = cfg.Limit
	res := e.cfg.resource
	host, name, pid := cfg.ServerHost, cfg.ServerName, cfg.PID
	if host == "" {
		host = res.HostIP
	}
	if name == "" {
		name = res.ServiceName
	}
	if pid == "" {
		pid = strconv.Itoa(os.Getpid())
	}
	for _, a := range [...]encode.Attr{String("dc", cfg.DC), String("server_host", host), String("server_name", name), String("pid", pid)} {
		if a.Value.Str() != "" {
			a.Value = encode.StringValue(strings.Clone(m.label(a.Value.Str())))
			m.static = append(m.static, a)
		}
	}
	m.col.init(m)
	if e.cfg.metricsOut != nil && !cfg.NoExport {
		m.stop, m.done = make(chan struct{}), make(chan struct{})
		go m.loop()
	}
	return m
}

// observeRun folds a finished run (complete or not) into the request and
// node metrics, as the pipeline does (pipeline.add), and flushes the fold.
// It runs on the pipeline goroutine and allocates nothing once the run's
// series exist. Every label value comes from r itself, in a LabelValues on
// this call's stack: concurrent runs cannot share labels.
func (m *Metrics) observeRun(r *encode.Run) {
	m.observeRequest(r)
	for _, n := range r.Nodes {
		m.foldType(n, false)
		if len(n.Attrs) != 0 {
			m.observeGenAINode(n)
		}
	}
	m.observeGenAIUsage(r)
	m.flushFold()
}

// observeRequest folds run r into the request metrics: the first step of
// observeRun, whose nodes follow in foldType, observeGenAINode and
// endFold.
func (m *Metrics) observeRequest(r *encode.Run) {
	if !m.cfg.SkipRunRequests {
		m.runRequest(r.AppID, r.FlowID, r.Code).record(r.EndUnixNano - r.StartUnixNano)
	}
}

// foldType folds node n into the fold (Metrics.fold) by type; a node
// with span attributes goes to observeGenAINode too, which the pipeline
// calls after boundRun, which may cut them (pipeline.add). plain says
// that n is plain (nodeRecord.plain: not failed nor cancelled, no span
// attributes), so that the lines of n holding its status and lists are
// not read: the pipeline reads only the first line of encode.Node of a
// plain node (pipeline.add).
func (m *Metrics) foldType(n *encode.Node, plain bool) {
	f := &m.fold
	c := f.find(n.NodeType)
	if c == nil {
		c = f.open(m, n.NodeType)
	}
	switch {
	case plain:
		c.ok++
	case n.Cancelled:
		c.cancelled++
	case n.Status == encode.StatusError:
		c.errs++
	default:
		c.ok++
	}
	c.durs[c.nd] = (n.EndUnixNano - n.StartUnixNano) / int64(time.Microsecond)
	if c.nd++; c.nd == len(c.durs) {
		c.recordDurs()
	}
	if c == &f.once {
		c.flush()
	}
}

// flushFold adds what the folds hold to the node series and the GenAI
// series (genAIMetrics.flush). The pipeline calls it once a drain and
// before each export (pipeline.flushFold), not once a run: the fold's
// series stay kept between flushes.
func (m *Metrics) flushFold() {
	f := &m.fold
	for i := range f.n {
		f.kept[i].flush()
	}
	m.genai.flush(&m.e.stats.sumsSaturated)
}

// nodeFold holds the node series of the last node types the pipeline
// folded, and their executions by status and durations not yet added to
// them: nodes cost one compare of their type and a few plain adds, and
// a type one lookup while it stays kept and one flush (its atomic adds and
// one RecordAll) per drain or per len(durs) nodes, where a fold per run
// (on the pipeline's frame, zeroed per run, of 4 series) flushed each type
// of each run and, the loadgen's runs having 9 types, looked most of
// them up again: the loadgen's fold, its flushes and lookups were about
// 17 % of its pipeline stage. Keeping a series needs its lookup to have
// counted nothing: a type whose label was cut (Stats.ValuesTruncated) or
// that went to the overflow series (flowtel_metric_overflow_total) counts
// once per node, so such a node is looked up alone, in once.
type nodeFold struct {
	kept [foldKept]foldSeries
	n    int // kept[:n] are in use
	next int // the one open replaces once all are
	once foldSeries
}

// foldKept is the number of node types the fold keeps: a workflow's types
// are a few to tens (the loadgen's 9).
const foldKept = 16

// foldSeries is a node series and the executions not yet added to it:
// their counts by status, and their durations, recorded together
// (hdr.Histogram.RecordAll: its two atomic adds once for up to 16 nodes,
// where Record did them per node).
type foldSeries struct {
	s                   *nodeSeries
	typ                 string
	ok, errs, cancelled uint64
	nd                  int // durs[:nd] are not recorded yet
	durs                [16]int64
}

// recordDurs records the durations held.
func (c *foldSeries) recordDurs() {
	c.s.dur.RecordAll(c.durs[:c.nd])
	c.nd = 0
}

// find returns the kept series of node type typ, or nil. A type's
// strings mostly share their bytes (a constant of the caller's): the
// pointers compared first spare a call to compare the bytes.
func (f *nodeFold) find(typ string) *foldSeries {
	for i := range f.n {
		if k := f.kept[i].typ; len(k) == len(typ) && (unsafe.StringData(k) == unsafe.StringData(typ) || k == typ) {
			return &f.kept[i]
		}
	}
	return nil
}

// open looks typ's series up and keeps it if it may be, in place of the
// oldest when all are in use.
func (f *nodeFold) open(m *Metrics, typ string) *foldSeries {
	raw := hdr.LabelValues{typ}
	s, kept := memoWith(m, &m.memo.nodes, m.nodes, &raw, 1)
	if !kept { // a label cut or repaired (and counted), or the overflow series
		f.once.start(s, "")
		return &f.once
	}
	var c *foldSeries
	if f.n < len(f.kept) {
		c = &f.kept[f.n]
		f.n++
	} else {
		c = &f.kept[f.next]
		f.next = (f.next + 1) % len(f.kept)
		c.flush()
	}
	c.start(s, typ)
	return c
}

// start readies c for series s of type typ. It writes the counts, not
// durs, which nd bounds.
func (c *foldSeries) start(s *nodeSeries, typ string) {
	c.s, c.typ = s, typ
	c.ok, c.errs, c.cancelled, c.nd = 0, 0, 0, 0
}

// flush adds the executions counted to the series.
func (c *foldSeries) flush() {
	if c.ok != 0 {
		c.s.ok.Add(c.ok)
	}
	if c.errs != 0 {
		c.s.errs.Add(c.errs)
	}
	if c.cancelled != 0 {
		c.s.cancelled.Add(c.cancelled)
	}
	c.ok, c.errs, c.cancelled = 0, 0, 0
	if c.nd != 0 {
		c.recordDurs()
	}
}

// label returns s as a label value: valid UTF-8 of at most
// MetricsConfig.LabelBytes bytes. Series are identified by the result, so
// "app\xff" and "app\uFFFD", which every exposition writes alike, are one
// series. The common value, valid and short, is returned as is after one
// scan; a long one is cut without allocating; only an invalid one is
// copied (one allocation of at most LabelBytes+4 bytes).
func (m *Metrics) label(s string) string {
	if len(s) <= m.cfg.LabelBytes && utf8.ValidString(s) {
		return s
	}
	return m.labelSlow(s)
}

func (m *Metrics) labelSlow(s string) string {
	limit := m.cfg.LabelBytes
	if len(s) > limit {
		// A long value whose kept part is valid, up to and including
		// the rune that is cut, needs no repair.
		p := truncate(s, limit)
		if r, size := utf8.DecodeRuneInString(s[len(p):]); (r != utf8.RuneError || size != 1) && utf8.ValidString(p) {
			m.e.stats.valuesTruncated.Add(1)
			return p
		}
	}
	// Repair with the rule of strings.ToValidUTF8, stopping once the
	// result passes limit: a huge invalid value costs one scan of the
	// part that matters, never a copy of itself.
	buf := make([]byte, 0, limit+utf8.UTFMax)
	inRun := false
	for i := 0; i < len(s) && len(buf) <= limit; {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			if !inRun {
				buf = append(buf, "\uFFFD"...)
			}
			inRun = true
		default:
			buf = append(buf, s[i:i+size]...)
			inRun = false
		}
		i += size
	}
	out := unsafe.String(unsafe.SliceData(buf), len(buf))
	if len(buf) > limit {
		m.e.stats.valuesTruncated.Add(1)
		out = truncate(out, limit)
	}
	return out
}

// shutdown stops the export goroutine and makes a final export of
// everything observed, before the pipeline flushes and shuts the sink (and
// so the exporter) down. It is idempotent.
func (m *Metrics) shutdown(ctx context.Context) error {
	if m.stop == nil {
		return nil
	}
	var err error
	m.stopOnce.Do(func() {
		close(m.stop)
		select {
		case <-m.done:
		case <-ctx.Done():
			err = ctx.Err()
			return
		}
		m.export()
	})
	return err
}

// loop exports the metrics every interval until shutdown.
func (m *Metrics) loop() {
	defer close(m.done)
	t := time.NewTicker(m.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.export()
		}
	}
}

// export collects an OTLP request and queues it on the exporter.
func (m *Metrics) export() {
	buf := encode.GetBuffer()
	m.mu.Lock()
	ms, points := m.col.collect(true, time.Now().UnixNano())
	buf.B = encode.AppendMetrics(buf.B[:0], &m.e.cfg.resource, ms)
	err := m.col.takePanic()
	m.mu.Unlock()
	if err != nil {
		m.e.cfg.errorHandler(err)
	}
	m.exportMetrics(buf, points)
}

// exportMetrics hands a collection to the metrics exporter, recovering a
// panic (ErrPanic, Stats.Panics): the collection is lost (a cumulative
// one is in the next), the engine and its metrics goroutine go on.
func (m *Metrics) exportMetrics(buf *bytebufferpool.ByteBuffer, points int) {
	x := m.e.cfg.metricsOut
	defer func() {
		if v := recover(); v != nil {
			m.e.stats.panics.Add(1)
			m.e.cfg.errorHandler(panicError(fmt.Sprintf("the metrics exporter's ExportMetrics (%T) of %d points, dropped", x, points), v, &m.e.panicGate))
		}
	}()
	x.ExportMetrics(buf, points)
}

// MetricsExporter takes the engine's periodic OTLP metrics and adds its own
// families to every collection: otlp.Sink is one, which queues the
// metrics on its exporter and reports the exporter's accounting
// (flowtel_export_*). The engine knows no transport: this is its one seam
// for metrics leaving the process.
type MetricsExporter interface {
	// ExportMetrics takes an OTLP ExportMetricsServiceRequest holding
	// points data points, encoded by encode.AppendMetrics into a buffer
	// from encode.GetBuffer, which it now owns. It is called every
	// MetricsConfig.Interval from the engine's metrics goroutine and once
	// more at Shutdown, before the sink is shut down; it must not block
	// for long. A panic in it, or in AppendMetrics, is recovered
	// (ErrPanic): that collection is lost, or goes without its families.
	ExportMetrics(req *bytebufferpool.ByteBuffer, points int)
	// AppendMetrics appends the exporter's own families to dst, read now,
	// for the collection window w. Calls are serialised with every other
	// collection (OTLP, AppendPrometheus, Bottlenecks). The metrics'
	// points may point into memory the exporter reuses at its next call.
	AppendMetrics(dst []encode.Metric, w MetricsWindow) []encode.Metric
}

// MetricsWindow is the time span and the kind of one collection.
type MetricsWindow struct {
	// StartUnixNano is the start of cumulative points (the engine's
	// start), or of the delta window; NowUnixNano its end.
	StartUnixNano, NowUnixNano int64
	// Delta asks for each sum's increase since the previous delta
	// collection instead of its total. Only OTLP collections with
	// MetricsConfig.Delta are delta ones.
	Delta bool
}

// WithMetricsExporter makes the engine push its metrics to x every
// MetricsConfig.Interval (unless MetricsConfig.NoExport) and add x's
// families to every collection, as otlp.New does with its sink. The engine
// does not shut x down: an exporter that is also the engine's Sink is shut
// down as the Sink.
func WithMetricsExporter(x MetricsExporter) Option {
	return optionFunc(func(c *config) { c.metricsOut = x })
}

// retCache maps return codes to their label strings without allocating:
// a copy-on-write map read with one atomic load. It holds at most limit
// codes; get reports a code past that as not cached, and the caller
// formats it on its own stack (requestPast), which does not allocate.
type retCache struct {
	m     atomic.Pointer[map[int64]string]
	mu    sync.Mutex
	limit int
}

func (c *retCache) get(code int64) (string, bool) {
	if p := c.m.Load(); p != nil {
		if s, ok := (*p)[code]; ok {
			return s, true
		}
		if len(*p) >= c.limit {
			return "", false // full for good: a stream of new codes takes no lock
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil {
		if s, ok := (*old)[code]; ok {
			return s, true
		}
		if len(*old) >= c.limit {
			return "", false
		}
	}
	next := make(map[int64]string, 1+lenMap(old))
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	s := strconv.FormatInt(code, 10)
	next[code] = s
	c.m.Store(&next)
	return s, true
}

func lenMap(p *map[int64]string) int {
	if p == nil {
		return 0
	}
	return len(*p)
}
