package engine

import (
	"strconv"
	"time"

	"github.com/flowtel/flowtel/internal/hdr"
)

// RequestSeries is one resolved series of the request metrics: a
// server_request_total counter for (app_id, func, ret) and the
// server_request_time_microseconds histogram for (app_id, func), with the
// engine's static labels. Resolve it once with Engine.RequestSeries and
// record into it from any goroutine; Record is the cheapest way to record
// a latency the workflow engine measured itself. The zero RequestSeries
// records nothing.
type RequestSeries struct {
	time  *hdr.Histogram
	count hdr.Tally // the counter, tallied in time's shards
}

// Record counts one request that took d. It may be called from any
// number of goroutines and allocates nothing. A negative d is recorded
// as 0 and a d above MetricsConfig.Highest as Highest, both counted as
// clamped.
func (s RequestSeries) Record(d time.Duration) { s.record(int64(d)) }

// record counts one request of d nanoseconds, recorded in microseconds.
func (s RequestSeries) record(d int64) {
	if s.time == nil {
		return
	}
	s.time.RecordCounted(d/int64(time.Microsecond), s.count)
}

// RequestSeries resolves the series of a request of the application
// appID, the function fn (label func: the workflow's flow id, as runs
// use it) and the return code ret (label ret; 0 is success). Past the
// cardinality limit it returns the overflow series. It allocates only
// when it creates a series. The zero Engine returns the zero
// RequestSeries.
func (e *Engine) RequestSeries(appID, fn string, ret int64) RequestSeries {
	if e == nil || e.metrics == nil {
		return RequestSeries{}
	}
	return e.metrics.request(appID, fn, ret)
}

// RecordRequest counts one request of appID, fn and ret that took d: the
// workflow engine's own measurement, for requests it does not trace as
// runs (or with MetricsConfig.SkipRunRequests, for all of them, so that
// none counts twice). It is RequestSeries(appID, fn, ret).Record(d): a
// caller that records many requests of the same series should keep the
// RequestSeries and skip the two lookups.
func (e *Engine) RecordRequest(appID, fn string, ret int64, d time.Duration) {
	if e == nil || e.metrics == nil {
		return // the zero Engine
	}
	e.metrics.request(appID, fn, ret).record(int64(d))
}

// request resolves a RequestSeries. Its LabelValues live on this call's
// stack and are filled from the arguments only, so concurrent callers
// never see each other's labels (the original shared one label map).
func (m *Metrics) request(appID, fn string, ret int64) RequestSeries {
	r, ok := m.rets.get(ret)
	if !ok {
		return m.requestPast(appID, fn, ret)
	}
	lv := hdr.LabelValues{m.label(appID), m.label(fn), r}
	s, _ := m.requestOf(&lv)
	return s
}

// requestPast is request for a code past the ret cache. Its label is
// formatted on this call's stack (a new series copies it) and kept in no
// memo, so a stream of distinct codes allocates nothing per call.
func (m *Metrics) requestPast(appID, fn string, ret int64) RequestSeries {
	var b [20]byte // the longest int64
	lv := hdr.LabelValues{m.label(appID), m.label(fn), string(strconv.AppendInt(b[:0], ret, 10))}
	s, _ := m.requestOf(&lv)
	return s
}

// requestOf resolves the RequestSeries of label values lv (app, flow,
// ret), whose ret it clears for the latency histogram, and reports
// whether either family overflowed. Past the counter's limit the count
// goes to the overflow series of its ret (reqOver).
func (m *Metrics) requestOf(lv *hdr.LabelValues) (RequestSeries, bool) {
	c, over := m.requestCount(lv)
	lv[2] = ""
	h := m.reqTime.With(lv)
	// The histogram tallies the count: one atomic add less per record.
	return RequestSeries{time: h, count: h.Attach(c)}, over || h == m.reqTime.Overflow()
}

// requestCount returns the server_request_total counter of lv (app, flow,
// ret) and whether it overflowed: past the limit, the overflow series of
// its ret (reqOver).
func (m *Metrics) requestCount(lv *hdr.LabelValues) (*hdr.Counter, bool) {
	if c := m.reqCount.With(lv); c != m.reqCount.Overflow() {
		return c, false
	}
	return m.reqOver.With(&hdr.LabelValues{lv[2]}), true
}

// runRequest is request for the pipeline's fold, through its memo
// (seriesMemo): a run of an application and flow seen before costs no
// label check and no lookup.
func (m *Metrics) runRequest(appID, fn string, ret int64) RequestSeries {
	r, ok := m.rets.get(ret)
	if !ok {
		return m.requestPast(appID, fn, ret)
	}
	raw := hdr.LabelValues{appID, fn, r}
	if s, ok := m.memo.requests.find(&raw, 3); ok {
		return s
	}
	var lv hdr.LabelValues
	same := m.labels(&lv, &raw, 3)
	s, over := m.requestOf(&lv)
	if same && !over {
		m.memo.requests.keep(&raw, 3, s)
	}
	return s
}

// RetRefused is the ret label server_request_total counts a request
// with when the engine refused its run at StartRun (Limits.RunsInFlight,
// the memory limit): the server saw and served the request, whose code
// the refused handle's End is not told in a way it can keep.
const RetRefused = "refused"

// refusedRequest counts a request whose run was refused at StartRun, with
// ret RetRefused, in server_request_total alone: it has no duration for
// the latency histogram. Only the refused path calls it; with
// SkipRunRequests the caller counts its requests itself.
func (m *Metrics) refusedRequest(appID, fn string) {
	if m == nil || m.cfg.SkipRunRequests {
		return
	}
	// Cut to Limits.ValueBytes first, as StartRun cuts an accepted run's
	// (Engine.value), so that both count under one app_id and func;
	// uncounted, since the refused run keeps no value.
	limit := m.e.cfg.limits.ValueBytes
	c, _ := m.requestCount(&hdr.LabelValues{m.label(truncate(appID, limit)), m.label(truncate(fn, limit)), RetRefused})
	c.Inc()
}
