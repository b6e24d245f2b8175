package otlp

import (
	"github.com/valyala/bytebufferpool"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
)

// The exporter's families, added by a Sink to every collection of its
// engine's metrics (the OTLP push and engine.Engine.AppendPrometheus).
const (
	MetricExportItems      = "flowtel_export_items_total"
	MetricExportQueueBytes = "flowtel_export_queue_bytes"
	MetricExportLatency    = "flowtel_export_latency_microseconds"
	// MetricOffloadValues is added when the sink has an offloader
	// (Config.LargeFields).
	MetricOffloadValues = "flowtel_offload_values_total"
)

// Units, in UCUM as in package engine: "By" becomes "bytes" and "us"
// "microseconds", which the names already end with.
const (
	unitItems  = "{item}"
	unitBytes  = "By"
	unitMicros = "us"
)

// exportResults are the result label values of flowtel_export_items_total
// besides "exported" and "rejected": the exporter's drop reasons.
var exportResults = func() (r [export.NumDropReasons]string) {
	for i := range r {
		r[i] = export.DropReason(i).String()
	}
	return r
}()

// exporterMetrics builds the exporter's families. Its slices are arenas
// reused from one collection to the next, as the engine's collector does:
// the engine serialises collections, so one is in use at a time.
type exporterMetrics struct {
	points []encode.MetricPoint
	attrs  []encode.Attr
	counts []uint64
	first  int

	// The values at the previous delta collection.
	prevItems   [export.NumSignals]itemCounts
	prevLatency [export.NumSignals]latencySum
	prevOffload [len(offloadResults)]uint64
	// failedError is the highest failed_error of flowtel_offload_values_total
	// read so far (appendOffload).
	failedError uint64
	// prevUnstarted is a zero Sink's dropped points and run logs at the
	// previous delta collection, prevLogsOff its run logs sampled out.
	prevUnstarted, prevUnstartedLogs, prevLogsOff uint64
}

// offloadResults are the result label values of flowtel_offload_values_total.
// A failed store is counted by reason: refused (the store answered, not
// 2xx), timeout, error (transport, I/O). A value not queued is counted
// by reason as truncated (cut with the marker) or as kept (the attributes
// of an INFO span event given as data, left whole on the event).
var offloadResults = [...]string{"offloaded", "failed_refused", "failed_timeout", "failed_error", "lost",
	"truncated_queue_full", "truncated_store_full", "truncated_closed", "kept_queue_full", "kept_store_full", "kept_closed"}

// itemCounts are the items of one signal by result.
type itemCounts struct {
	exported, rejected uint64
	dropped            [export.NumDropReasons]uint64
}

// latencySum is the count and total duration (µs) of export attempts.
type latencySum struct{ count, micros uint64 }

// ExportMetrics queues the engine's OTLP metrics request on the exporter.
func (s *Sink) ExportMetrics(req *bytebufferpool.ByteBuffer, points int) {
	if s == nil {
		// Nowhere to count (engine.New refuses a nil Sink): the request
		// goes back to the pool.
		if req != nil {
			bytebufferpool.Put(req)
		}
		return
	}
	if s.exp == nil {
		// The zero Sink has no exporter: the request is dropped and its
		// points counted, reported by AppendMetrics.
		s.unstarted.Add(uint64(max(points, 0)))
		if req != nil {
			bytebufferpool.Put(req)
		}
		return
	}
	s.exp.Enqueue(export.Metrics, req, points)
}

// AppendMetrics appends the exporter's accounting, read now, and the
// offloader's when the sink has one.
//
// On the zero Sink it appends the points of what it lost:
// flowtel_export_items_total{signal="metrics",result="not_started"}, the
// data points of the requests ExportMetrics dropped for want of an
// exporter, and {signal="logs",result="not_started"}, the run logs
// ExportLogs refused, one per run (the spans Export refuses the engine
// counts, engine.DropSink).
func (s *Sink) AppendMetrics(dst []encode.Metric, w engine.MetricsWindow) []encode.Metric {
	if s == nil {
		return dst
	}
	if s.exp == nil {
		return s.xm.appendUnstarted(dst, s.unstarted.Load(), s.unstartedLogs.Load(), w)
	}
	dst = s.xm.appendMetrics(dst, s.exp.Stats(), !s.logs, s.logsOff.Load(), w)
	if s.off != nil {
		dst = s.xm.appendOffload(dst, s.off.Stats(), w)
	}
	return dst
}

// appendOffload appends flowtel_offload_values_total{result}: large values
// stored, failed (the store refused, timed out or could not be reached),
// lost (Shutdown ran out of time), and cut (or, an INFO event's
// attributes, kept whole) instead of offloaded because the queue or the
// store's budget was full or the offloader closed. Call it after
// appendMetrics, which resets the arenas.
func (c *exporterMetrics) appendOffload(dst []encode.Metric, st encode.OffloadStats, w engine.MetricsWindow) []encode.Metric {
	dst = c.begin(dst, MetricOffloadValues, "Large values of run trace logs and span events by result: offloaded, failed (refused, timeout, error), lost at shutdown, or truncated (an INFO event's attributes: kept whole) because the queue or the store's budget was full or the offloader closed.", unitItems, encode.MetricSum, w)
	// The failures of no known reason are Failed less Refused and
	// TimedOut. Stats loads Failed first and a failing Put adds to its
	// reason first, so a read may fall short by the Puts failing
	// meanwhile, even below 0: the value never goes below what was read
	// before (a counter that falls reads as a reset).
	failedError := max(st.Failed-min(st.Failed, st.Refused+st.TimedOut), c.failedError)
	c.failedError = failedError
	cur := [len(offloadResults)]uint64{st.Offloaded, st.Refused, st.TimedOut, failedError, st.Lost,
		st.QueueFull, st.StoreFull, st.Closed, st.KeptQueueFull, st.KeptStoreFull, st.KeptClosed}
	for i, v := range cur {
		if w.Delta {
			v, c.prevOffload[i] = v-c.prevOffload[i], v
		}
		c.points = append(c.points, encode.MetricPoint{
			Attrs:         c.attrs1("result", offloadResults[i]),
			StartUnixNano: w.StartUnixNano, TimeUnixNano: w.NowUnixNano, IsInt: true, Int: int64(v),
		})
	}
	c.end(dst)
	return dst
}

// appendMetrics appends the exporter's families; with logsOff (the sink
// sends no run logs) flowtel_export_items_total also holds the run logs
// not sent, logsOut in all, as {signal="logs",result="sampled_out"}.
func (c *exporterMetrics) appendMetrics(dst []encode.Metric, xs export.Stats, logsOff bool, logsOut uint64, w engine.MetricsWindow) []encode.Metric {
	c.points, c.attrs, c.counts = c.points[:0], c.attrs[:0], c.counts[:0]

	dst = c.begin(dst, MetricExportItems, descExportItems, unitItems, encode.MetricSum, w)
	for sig := export.Signal(0); sig < export.NumSignals; sig++ {
		s := &xs.Signals[sig]
		cur := itemCounts{exported: s.Exported, rejected: s.Rejected, dropped: s.DroppedBy}
		v := cur
		if w.Delta {
			prev := c.prevItems[sig]
			v = itemCounts{exported: cur.exported - prev.exported, rejected: cur.rejected - prev.rejected}
			for i := range v.dropped {
				v.dropped[i] = cur.dropped[i] - prev.dropped[i]
			}
			c.prevItems[sig] = cur
		}
		c.item(sig, "exported", v.exported, w)
		c.item(sig, "rejected", v.rejected, w)
		for i, n := range v.dropped {
			c.item(sig, exportResults[i], n, w)
		}
	}
	if logsOff {
		v := logsOut
		if w.Delta {
			v, c.prevLogsOff = logsOut-c.prevLogsOff, logsOut
		}
		c.item(export.Logs, resultSampledOut, v, w)
	}
	c.end(dst)

	dst = c.begin(dst, MetricExportQueueBytes, "Encoded bytes queued or being exported, all signals.", unitBytes, encode.MetricGauge, w)
	c.points = append(c.points, encode.MetricPoint{TimeUnixNano: w.NowUnixNano, IsInt: true, Int: xs.HeldBytes})
	c.end(dst)

	// Export attempts are summed (count and duration), not bucketed: the
	// histogram has no bounds, so only _count, _sum and the +Inf bucket.
	dst = c.begin(dst, MetricExportLatency, "Duration of export attempts in microseconds, by signal.", unitMicros, encode.MetricHistogram, w)
	for sig := export.Signal(0); sig < export.NumSignals; sig++ {
		s := &xs.Signals[sig]
		cur := latencySum{s.LatencyCount, uint64(s.LatencySum.Microseconds())}
		v := cur
		if w.Delta {
			prev := c.prevLatency[sig]
			c.prevLatency[sig] = cur
			v = latencySum{cur.count - prev.count, cur.micros - prev.micros}
		}
		k := len(c.counts)
		c.counts = append(c.counts, v.count)
		c.points = append(c.points, encode.MetricPoint{
			Attrs: c.attrs1("signal", sig.String()), StartUnixNano: w.StartUnixNano, TimeUnixNano: w.NowUnixNano,
			Count: v.count, Sum: float64(v.micros), BucketCounts: c.counts[k : k+1],
		})
	}
	c.end(dst)
	return dst
}

// descExportItems describes MetricExportItems.
const descExportItems = "Items (spans, points, log records) the exporter finished, by signal and result: exported, rejected by the receiver, or the drop reason (not_started: dropped by a zero Sink; sampled_out: run logs not sent, the sink's logs being off)."

// resultNotStarted is the result of the items a zero Sink dropped,
// resultSampledOut of the run logs a sink with its logs off did not send.
const (
	resultNotStarted = "not_started"
	resultSampledOut = "sampled_out"
)

// appendUnstarted appends flowtel_export_items_total's points of the
// metrics points and the run logs a zero Sink dropped, n and logs in all.
func (c *exporterMetrics) appendUnstarted(dst []encode.Metric, n, logs uint64, w engine.MetricsWindow) []encode.Metric {
	c.points, c.attrs, c.counts = c.points[:0], c.attrs[:0], c.counts[:0]
	v, vl := n, logs
	if w.Delta {
		v, c.prevUnstarted = n-c.prevUnstarted, n
		vl, c.prevUnstartedLogs = logs-c.prevUnstartedLogs, logs
	}
	dst = c.begin(dst, MetricExportItems, descExportItems, unitItems, encode.MetricSum, w)
	c.item(export.Metrics, resultNotStarted, v, w)
	c.item(export.Logs, resultNotStarted, vl, w)
	c.end(dst)
	return dst
}

// item appends the point of flowtel_export_items_total{signal,result}.
func (c *exporterMetrics) item(sig export.Signal, result string, n uint64, w engine.MetricsWindow) {
	c.points = append(c.points, encode.MetricPoint{
		Attrs:         c.attrs2("signal", sig.String(), "result", result),
		StartUnixNano: w.StartUnixNano, TimeUnixNano: w.NowUnixNano, IsInt: true, Int: int64(n),
	})
}

// begin starts a metric on dst; end closes it.
func (c *exporterMetrics) begin(dst []encode.Metric, name, desc, unit string, kind encode.MetricKind, w engine.MetricsWindow) []encode.Metric {
	t := encode.TemporalityCumulative
	if w.Delta {
		t = encode.TemporalityDelta
	}
	c.first = len(c.points)
	return append(dst, encode.Metric{Name: name, Description: desc, Unit: unit, Kind: kind, Temporality: t, Monotonic: kind == encode.MetricSum})
}

func (c *exporterMetrics) end(dst []encode.Metric) {
	dst[len(dst)-1].Points = c.points[c.first:len(c.points):len(c.points)]
}

func (c *exporterMetrics) attrs1(k1, v1 string) []encode.Attr {
	k := len(c.attrs)
	c.attrs = append(c.attrs, engine.String(k1, v1))
	return c.attrs[k:len(c.attrs):len(c.attrs)]
}

func (c *exporterMetrics) attrs2(k1, v1, k2, v2 string) []encode.Attr {
	k := len(c.attrs)
	c.attrs = append(c.attrs, engine.String(k1, v1), engine.String(k2, v2))
	return c.attrs[k:len(c.attrs):len(c.attrs)]
}
