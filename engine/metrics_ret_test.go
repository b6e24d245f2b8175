package engine

import (
	"strconv"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/testkit"
)

// TestMetricsRetPastCache checks return codes past the ret label cache: a
// stream of distinct codes allocates nothing per call (RecordRequest,
// RequestSeries and the pipeline's runs), keeps its ret while
// server_request_total's overflow has room, and every request is counted
// once within the 2×Limit+1 series.
func TestMetricsRetPastCache(t *testing.T) {
	const limit = 4
	e := newMetricsEngine(t, WithMetrics(MetricsConfig{Limit: limit}))
	var calls int64
	for code := range int64(limit) { // fills the cache and the (app_id, func, ret) series
		e.RecordRequest("app", "f", code, time.Millisecond)
		calls++
	}
	for code := int64(100); code < 100+limit; code++ { // past the cache: the overflow series of their ret
		e.RecordRequest("app", "f", code, time.Millisecond)
		calls++
	}
	code := int64(1_000_000)
	next := func() int64 { code++; calls++; return code }
	t.Run("RecordRequest", func(t *testing.T) {
		testkit.WantAllocs(t, 0, func() { e.RecordRequest("app", "f", next(), time.Millisecond) })
	})
	t.Run("RequestSeries", func(t *testing.T) {
		testkit.WantAllocs(t, 0, func() { e.RequestSeries("app", "f", next()).Record(time.Millisecond) })
	})
	run := &encode.Run{AppID: "app", FlowID: "f", StartUnixNano: 1, EndUnixNano: 5_000_000}
	t.Run("observeRun", func(t *testing.T) {
		testkit.WantAllocs(t, 0, func() { run.Code = next(); e.metrics.observeRun(run) })
	})
	for range 3 { // whether or not the alloc tests ran
		e.RecordRequest("app", "f", next(), time.Millisecond)
	}

	d := collectOTLP(t, e)
	ps := d.points[MetricRequests]
	if len(ps) > 2*limit+1 {
		t.Errorf("%d series of %s, want at most %d", len(ps), MetricRequests, 2*limit+1)
	}
	var sum int64
	byRet := map[string]int64{}
	for _, p := range ps {
		sum += p.value
		byRet[p.attrs["ret"]] += p.value
	}
	if sum != calls {
		t.Errorf("%s sums to %d, want %d requests", MetricRequests, sum, calls)
	}
	for c := range int64(limit) {
		for _, c := range []int64{c, 100 + c} {
			if byRet[strconv.FormatInt(c, 10)] != 1 {
				t.Errorf("ret %d counted %d, want 1 (all: %v)", c, byRet[strconv.FormatInt(c, 10)], byRet)
			}
		}
	}
	over := d.one(t, MetricRequests, map[string]string{"otel.metric.overflow": "true", "ret": ""})
	if want := calls - 2*limit; over.value != want {
		t.Errorf("overflow without ret %d, want %d", over.value, want)
	}
	if p := d.one(t, MetricSeriesOverflow, map[string]string{"metric": MetricRequests}); p.value != calls-limit {
		t.Errorf("%s overflowed %d, want %d", MetricRequests, p.value, calls-limit)
	}
	if p := d.one(t, MetricRequestTime, map[string]string{"app_id": "app", "func": "f"}); int64(p.count) != calls {
		t.Errorf("%s count %d, want %d", MetricRequestTime, p.count, calls)
	}
}
