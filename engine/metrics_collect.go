package engine

import (
	"fmt"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/hdr"
)

// Units of the metrics, in UCUM as OTLP wants them. Annotations in braces
// carry no unit, so Prometheus' OTLP translation adds no suffix to the
// counters; "us" becomes "microseconds", which the names already end
// with. (A gauge with unit "1" would get "_ratio".)
const (
	unitMicros   = "us"
	unitRequests = "{request}"
	unitExecs    = "{execution}"
	unitRecords  = "{record}"
	unitLookups  = "{measurement}"
	unitBytes    = "By"
)

// collector turns the engine's metrics into flat encode.Metric values. It
// belongs to Metrics.mu. Its slices are arenas reused from one collection
// to the next: a Metric's Points, a point's Attrs and counts are windows
// into them, valid until the next collection. When an arena grows, the
// windows handed out before keep the old array, whose contents stay valid.
type collector struct {
	m      *Metrics
	ms     []encode.Metric
	points []encode.MetricPoint
	attrs  []encode.Attr
	counts []uint64
	snap   hdr.Snapshot
	first  int // index in points of the current metric's first point
	// batch drains every Histogram of a collection at its start, with
	// one membarrier per P for all (hdr.Batch): the reads then drain
	// nothing.
	batch hdr.Batch

	// Delta state (OTLP with MetricsConfig.Delta only): the time and the
	// values of the previous delta collection.
	lastNano   int64
	prevCount  map[*hdr.Counter]uint64
	prevNode   map[*nodeSeries]nodeCounts
	prevHealth healthCounts
	prevOver   overflowCounts

	// panicked is the error of the metrics exporter's AppendMetrics that
	// panicked in this collection, for the caller to report once it has
	// released Metrics.mu (takePanic).
	panicked error
}

// exporterMetrics appends the metrics exporter's families, recovering a
// panic of its AppendMetrics (ErrPanic, Stats.Panics): the collection
// goes on without them, and Metrics.mu, held by every collection, is
// released as usual, where the panic left it held for good and every
// later collection waited on it.
func (c *collector) exporterMetrics(x MetricsExporter, w window) (ms []encode.Metric) {
	n := len(c.ms)
	defer func() {
		if v := recover(); v != nil {
			e := c.m.e
			e.stats.panics.Add(1)
			c.panicked = panicError(fmt.Sprintf("the metrics exporter's AppendMetrics (%T), its families left out of a collection", x), v, &e.panicGate)
			ms = c.ms[:n]
		}
	}()
	return x.AppendMetrics(c.ms, MetricsWindow{StartUnixNano: w.start, NowUnixNano: w.now, Delta: w.delta})
}

// takePanic returns and clears the panic of the last collection.
func (c *collector) takePanic() error {
	err := c.panicked
	c.panicked = nil
	return err
}

// nodeCounts are the executions of one node type by status.
type nodeCounts struct{ ok, errs, cancelled uint64 }

// healthCounts are the engine's accounting as the metrics report it.
type healthCounts struct {
	accepted, exported, sampledOut uint64
	dropped                        [numDropReasons]uint64
}

// minus returns h - prev, field by field.
func (h healthCounts) minus(prev healthCounts) healthCounts {
	d := healthCounts{accepted: h.accepted - prev.accepted, exported: h.exported - prev.exported, sampledOut: h.sampledOut - prev.sampledOut}
	for i := range d.dropped {
		d.dropped[i] = h.dropped[i] - prev.dropped[i]
	}
	return d
}

// overflowCounts are the measurements each labelled family sent to its
// overflow series (the two node families share one Vec).
type overflowCounts struct{ requests, requestTime, nodes uint64 }

func (c *collector) init(m *Metrics) {
	c.m = m
	c.lastNano = m.startNano
	c.prevCount = make(map[*hdr.Counter]uint64)
	c.prevNode = make(map[*nodeSeries]nodeCounts)
}

// window is the start time and temporality of one collection.
type window struct {
	start, now  int64
	delta       bool
	exponential bool
}

// collect returns every metric and the number of points. otlp selects
// the configured temporality and histogram kind; /metrics and
// Bottlenecks use cumulative explicit buckets.
func (c *collector) collect(otlp bool, now int64) ([]encode.Metric, int) {
	m := c.m
	w := window{start: m.startNano, now: now}
	if otlp {
		w.delta, w.exponential = m.cfg.Delta, m.cfg.Exponential
		if w.delta {
			w.start = c.lastNano
			c.lastNano = now
		}
	}
	// The request histograms (which tally the request counters) and the
	// node durations, drained together: each membarrier interrupts every
	// running thread of the process, and drained one by one they made one
	// per series and P recorded on.
	hdr.AddVec(&c.batch, m.reqTime, func(h *hdr.Histogram) *hdr.Histogram { return h })
	hdr.AddVec(&c.batch, m.nodes, func(s *nodeSeries) *hdr.Histogram { return s.dur })
	c.batch.Drain()
	clear(c.ms)
	c.ms, c.points, c.attrs, c.counts = c.ms[:0], c.points[:0], c.attrs[:0], c.counts[:0]

	c.begin(MetricRequests, "Workflow requests (runs), by return code ret (0 is success); func is the flow id.", unitRequests, encode.MetricSum, w)
	m.reqCount.Each(func(lv *hdr.LabelValues, s *hdr.Counter, overflow bool) {
		if !overflow { // nothing counts in it: reqOver takes its part
			c.sum(c.requestAttrs(lv, false, true), w, c.counterDelta(s, w.delta))
		}
	})
	m.reqOver.Each(func(lv *hdr.LabelValues, s *hdr.Counter, overflow bool) {
		// The overflow series of one ret; past the limit of codes, one
		// without ret.
		c.sum(c.requestAttrs(&hdr.LabelValues{2: lv[0]}, true, !overflow), w, c.counterDelta(s, w.delta))
	})
	c.end()

	c.begin(MetricRequestTime, "Duration of workflow requests (runs) in microseconds; func is the flow id.", unitMicros, c.histKind(w), w)
	m.reqTime.Each(func(lv *hdr.LabelValues, h *hdr.Histogram, overflow bool) {
		a := c.requestAttrs(lv, overflow, false)
		c.histogram(a, h, w)
	})
	c.end()

	c.begin(MetricNodeExecutions, "Node executions by node type and status (ok; error: failed or never ended; cancelled).", unitExecs, encode.MetricSum, w)
	m.nodes.Each(func(lv *hdr.LabelValues, s *nodeSeries, overflow bool) {
		ok, errs, cancelled := s.ok.Load(), s.errs.Load(), s.cancelled.Load()
		// The cancelled series exists once a node of the type was
		// cancelled: most workflows never cancel, and need no third series.
		hasCancelled := cancelled != 0
		if w.delta {
			prev := c.prevNode[s]
			c.prevNode[s] = nodeCounts{ok, errs, cancelled}
			ok, errs, cancelled = ok-prev.ok, errs-prev.errs, cancelled-prev.cancelled
		}
		c.sum(c.nodeAttrs(lv[0], overflow, NodeStatusOK), w, ok)
		c.sum(c.nodeAttrs(lv[0], overflow, NodeStatusError), w, errs)
		if hasCancelled {
			c.sum(c.nodeAttrs(lv[0], overflow, NodeStatusCancelled), w, cancelled)
		}
	})
	c.end()

	c.begin(MetricNodeDuration, "Duration of node executions in microseconds, by node type.", unitMicros, c.histKind(w), w)
	m.nodes.Each(func(lv *hdr.LabelValues, s *nodeSeries, overflow bool) {
		c.histogram(c.nodeAttrs(lv[0], overflow, ""), s.dur, w)
	})
	c.end()
	c.genAI(w)

	c.health(w)
	if x := m.e.cfg.metricsOut; x != nil {
		c.ms = c.exporterMetrics(x, w)
	}

	c.begin(MetricSeriesOverflow, "Measurements routed to a family's overflow series because its cardinality limit was reached.", unitLookups, encode.MetricSum, w)
	over := overflowCounts{m.reqCount.Overflowed(), m.reqTime.Overflowed(), m.nodes.Overflowed()}
	d := over
	if w.delta {
		prev := c.prevOver
		d = overflowCounts{over.requests - prev.requests, over.requestTime - prev.requestTime, over.nodes - prev.nodes}
		c.prevOver = over
	}
	for _, f := range [...]struct {
		name string
		v    uint64
	}{{MetricRequests, d.requests}, {MetricRequestTime, d.requestTime}, {MetricNodeExecutions, d.nodes}, {MetricNodeDuration, d.nodes}} {
		c.sum(c.attrs1("metric", f.name), w, f.v)
	}
	c.genAIOverflow(w)
	c.end()

	// The points of every metric, the exporter's (AppendMetrics, from its
	// own arena) included: the exporter counts what it sends.
	n := 0
	for i := range c.ms {
		n += len(c.ms[i].Points)
	}
	return c.ms, n
}

// health appends the engine's accounting (Stats), read now.
func (c *collector) health(w window) {
	st := c.m.e.Stats()
	cur := healthCounts{accepted: st.Accepted, exported: st.Exported, sampledOut: st.SampledOut, dropped: st.DroppedBy}
	vals := cur
	if w.delta {
		vals = cur.minus(c.prevHealth)
		c.prevHealth = cur
	}
	c.oneSum(MetricRecordsAccepted, "Spans (runs and node executions) accepted by the engine.", unitRecords, w, vals.accepted)
	c.oneSum(MetricRecordsExported, "Spans exported: taken by the receiver when the sink reports it (OTLP), else by the sink.", unitRecords, w, vals.exported)
	c.begin(MetricRecordsDropped, "Spans the engine dropped, by reason; accepted == exported + dropped + sampled out + in flight.", unitRecords, encode.MetricSum, w)
	for r := DropReason(0); r < numDropReasons; r++ {
		c.sum(c.attrs1("reason", r.String()), w, vals.dropped[r])
	}
	c.end()
	c.oneSum(MetricRecordsSampledOut, "Spans of runs sampling did not export (WithSampler, WithTailSampling); the metrics hold them.", unitRecords, w, vals.sampledOut)
	c.oneGauge(MetricRecordsInFlight, "Spans accepted and not yet exported, dropped or sampled out.", unitRecords, w, int64(st.InFlight))
	c.oneGauge(MetricMemoryHeld, "Bytes the engine holds: rings, arena, run and node records with their buffers (Stats.HeldBytes).", unitBytes, w, st.HeldBytes)
	c.oneGauge(MetricMemoryLimit, "The bound on flowtel_memory_held_bytes: WithMemoryLimit less the sink's share.", unitBytes, w, st.MemoryLimit)
}

// oneSum appends the sum metric name with one point and no attributes.
func (c *collector) oneSum(name, desc, unit string, w window, v uint64) {
	c.begin(name, desc, unit, encode.MetricSum, w)
	c.sum(nil, w, v)
	c.end()
}

// oneGauge appends the gauge metric name with one point and no attributes.
func (c *collector) oneGauge(name, desc, unit string, w window, v int64) {
	c.begin(name, desc, unit, encode.MetricGauge, w)
	c.gauge(nil, w, v)
	c.end()
}

func (c *collector) histKind(w window) encode.MetricKind {
	if w.exponential {
		return encode.MetricExponentialHistogram
	}
	return encode.MetricHistogram
}

// begin starts a metric; end closes it.
func (c *collector) begin(name, desc, unit string, kind encode.MetricKind, w window) {
	t := encode.TemporalityCumulative
	if w.delta {
		t = encode.TemporalityDelta
	}
	c.ms = append(c.ms, encode.Metric{Name: name, Description: desc, Unit: unit, Kind: kind, Temporality: t, Monotonic: kind == encode.MetricSum})
	c.first = len(c.points)
}

func (c *collector) end() {
	c.ms[len(c.ms)-1].Points = c.points[c.first:len(c.points):len(c.points)]
}

// counterDelta returns s's value as the collection's drain left it, or
// its increase since the previous delta collection.
func (c *collector) counterDelta(s *hdr.Counter, delta bool) uint64 {
	v := s.ValueDrained()
	if !delta {
		return v
	}
	prev := c.prevCount[s]
	c.prevCount[s] = v
	return v - prev
}

func (c *collector) sum(attrs []encode.Attr, w window, v uint64) {
	c.points = append(c.points, encode.MetricPoint{Attrs: attrs, StartUnixNano: w.start, TimeUnixNano: w.now, IsInt: true, Int: int64(v)})
}

func (c *collector) gauge(attrs []encode.Attr, w window, v int64) {
	c.points = append(c.points, encode.MetricPoint{Attrs: attrs, TimeUnixNano: w.now, IsInt: true, Int: v})
}

// histogram appends a point of h as the collection's drain left it:
// explicit buckets over the configured bounds, or an exponential
// histogram.
func (c *collector) histogram(attrs []encode.Attr, h *hdr.Histogram, w window) {
	if w.delta {
		h.DeltaSnapshotDrained(&c.snap)
	} else {
		h.SnapshotDrained(&c.snap)
	}
	s := &c.snap
	p := encode.MetricPoint{
		Attrs: attrs, StartUnixNano: w.start, TimeUnixNano: w.now,
		Count: s.Count, Sum: float64(s.Sum), HasMinMax: s.Count > 0, Min: float64(s.Min), Max: float64(s.Max),
	}
	k := len(c.counts)
	if w.exponential {
		scale := s.ExponentialScale(c.m.cfg.ExponentialBuckets, maxExponentialScale)
		off, counts, zero := s.Exponential(scale, c.counts[k:k])
		c.counts = append(c.counts[:k], counts...)
		p.Scale, p.ZeroCount, p.PositiveOffset = scale, zero, off
		p.PositiveCounts = c.counts[k:len(c.counts):len(c.counts)]
	} else {
		counts := s.BucketCounts(c.counts[k:k], c.m.cfg.Bounds)
		c.counts = append(c.counts[:k], counts...)
		p.Bounds = c.m.cfg.Bounds
		p.BucketCounts = c.counts[k:len(c.counts):len(c.counts)]
	}
	c.points = append(c.points, p)
}

var overflowAttr = Bool(hdr.OverflowAttr, true)

// requestAttrs returns the labels of a request series: the static ones,
// app_id and func, or otel.metric.overflow, then, for the counter, ret.
func (c *collector) requestAttrs(lv *hdr.LabelValues, overflow, ret bool) []encode.Attr {
	k := len(c.attrs)
	c.attrs = append(c.attrs, c.m.static...)
	if overflow {
		c.attrs = append(c.attrs, overflowAttr)
	} else {
		c.attrs = append(c.attrs, String("app_id", lv[0]), String("func", lv[1]))
	}
	if ret {
		c.attrs = append(c.attrs, String("ret", lv[2]))
	}
	return c.attrs[k:len(c.attrs):len(c.attrs)]
}

// nodeAttrs returns node_type (or otel.metric.overflow) and, if not
// empty, status.
func (c *collector) nodeAttrs(nodeType string, overflow bool, status string) []encode.Attr {
	k := len(c.attrs)
	if overflow {
		c.attrs = append(c.attrs, overflowAttr)
	} else {
		c.attrs = append(c.attrs, String("node_type", nodeType))
	}
	if status != "" {
		c.attrs = append(c.attrs, String("status", status))
	}
	return c.attrs[k:len(c.attrs):len(c.attrs)]
}

func (c *collector) attrs1(k1, v1 string) []encode.Attr {
	k := len(c.attrs)
	c.attrs = append(c.attrs, String(k1, v1))
	return c.attrs[k:len(c.attrs):len(c.attrs)]
}
