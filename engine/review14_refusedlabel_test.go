package engine

import (
	"strings"
	"testing"
)

// TestRefusedRunLabelsAsAccepted: a refused run's request counts under
// the app_id and func an accepted run of the same request gets, its
// values cut to Limits.ValueBytes as StartRun cuts a run's: the refused
// count took them whole, so with ValueBytes under LabelBytes a long flow
// id had its ret="0" series under the cut id and its ret="refused" one
// under the whole, and a ratio by func split the flow in two.
func TestRefusedRunLabelsAsAccepted(t *testing.T) {
	e := newMetricsEngine(t, WithLimits(Limits{RunsInFlight: 1, ValueBytes: 8}), WithMetrics(MetricsConfig{ServerName: "svc", PID: "7"}))
	info := RunInfo{AppID: "application", FlowID: "flow-with-a-long-id"}
	held := e.StartRun(info)
	e.StartRun(info).End(0, "") // refused
	held.End(0, "")
	flush(t, e)
	s := promSamples(t, scrape(t, e))
	for _, ret := range []string{"0", "refused"} {
		key := `server_request_total{server_name="svc",pid="7",app_id="applicat",func="flow-wit",ret="` + ret + `"}`
		if v := s[key]; v != 1 {
			t.Errorf("%s = %v, want 1", key, v)
		}
	}
	for k := range s {
		if strings.Contains(k, "flow-with-a-long-id") || strings.Contains(k, `"application"`) {
			t.Errorf("%s: a label not cut to Limits.ValueBytes", k)
		}
	}
}
