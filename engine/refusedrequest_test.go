package engine

import (
	"strings"
	"testing"

	"github.com/flowtel/flowtel/internal/testkit"
)

// TestRefusedRunCountsRequest: a run refused at StartRun past
// Limits.RunsInFlight is a request the server saw and served (its caller
// still ends the refused handle), and server_request_total counts every
// request the server handles, as the original's did. It was counted in
// flowtel_records_dropped_total alone: under overload, the more requests
// the engine refused, the fewer the request metric showed (the
// LowThroughput alert fired as load rose). It now counts with ret
// "refused" (its code is not known when the run is refused); the latency
// histogram has no sample for it (no duration). The refused path stays at
// 0 allocations once its series exists, and the accepted path is not
// touched. Read from the Prometheus exposition.
func TestRefusedRunCountsRequest(t *testing.T) {
	e := newMetricsEngine(t, WithLimits(Limits{RunsInFlight: 1}), WithMetrics(MetricsConfig{ServerName: "svc", PID: "7"}))
	held := e.StartRun(RunInfo{AppID: "app", FlowID: "busy"})
	for range 3 {
		r := e.StartRun(RunInfo{AppID: "app", FlowID: "flow"})
		if r.IsRecording() {
			t.Fatal("a run past RunsInFlight was accepted")
		}
		r.End(0, "")
	}
	testkit.WantAllocs(t, 0, func() { e.StartRun(RunInfo{AppID: "app", FlowID: "flow"}).End(0, "") })
	refused := e.Stats().Drops(DropRunLimit)
	held.End(0, "")
	flush(t, e)
	s := promSamples(t, scrape(t, e))
	const key = `server_request_total{server_name="svc",pid="7",app_id="app",func="flow",ret="refused"}`
	if v := s[key]; v != float64(refused) || refused < 3 {
		t.Errorf("%s = %v, want the %d runs refused", key, v, refused)
	}
	if v := s[`server_request_total{server_name="svc",pid="7",app_id="app",func="busy",ret="0"}`]; v != 1 {
		t.Errorf("the accepted run counted %v times", v)
	}
	if v, ok := s[`server_request_time_microseconds_count{server_name="svc",pid="7",app_id="app",func="flow"}`]; ok {
		t.Errorf("the refused runs have a latency count %v", v)
	}
}

// TestRefusedRunSkipRunRequests: with MetricsConfig.SkipRunRequests the
// caller records its requests itself (RecordRequest), so a refused run
// is not counted, as a finished one is not.
func TestRefusedRunSkipRunRequests(t *testing.T) {
	e := newMetricsEngine(t, WithLimits(Limits{RunsInFlight: 1}), WithMetrics(MetricsConfig{SkipRunRequests: true}))
	held := e.StartRun(RunInfo{AppID: "app", FlowID: "busy"})
	e.StartRun(RunInfo{AppID: "app", FlowID: "flow"}).End(0, "")
	held.End(0, "")
	flush(t, e)
	for k := range promSamples(t, scrape(t, e)) {
		if strings.HasPrefix(k, "server_request_total{") {
			t.Errorf("%s counted with SkipRunRequests", k)
		}
	}
}
