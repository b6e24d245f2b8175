package engine

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// containsLine reports whether text has a line starting with prefix and
// ending with suffix.
func containsLine(text, prefix, suffix string) bool {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) && strings.HasSuffix(l, suffix) {
			return true
		}
	}
	return false
}

// scrape takes a collection in the Prometheus text format, as
// promhttp.Handler serves it.
func scrape(t *testing.T, e *Engine) string {
	t.Helper()
	return string(e.AppendPrometheus(nil))
}

// promSamples parses the sample lines of a text exposition into
// series -> value.
func promSamples(t *testing.T, text string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, l := range strings.Split(text, "\n") {
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		out[l[:i]] = v
	}
	return out
}

// loadForProm runs a small mixed load through e.
func loadForProm(e *Engine) {
	for i := range 40 {
		run := e.StartRun(RunInfo{AppID: "app\"quoted", FlowID: "flow-" + strconv.Itoa(i%3)})
		for _, typ := range []string{"start", "llm", "plugin", "end"} {
			n := run.StartNode(typ+":1", typ, typ)
			if typ == "plugin" && i%4 == 0 {
				n.RecordError(errors.New("tool failed"))
			}
			n.End()
		}
		run.End(i%7/6*10001, "")
	}
	e.RecordRequest("app2", "f", 0, 1500*time.Microsecond)
}

// TestMetricsHandler checks the exposition against the runs: counters,
// histogram buckets cumulative up to +Inf == _count, every family typed.
func TestMetricsHandler(t *testing.T) {
	e := newMetricsEngine(t, WithMetrics(MetricsConfig{PID: "7", ServerName: "svc"}))
	loadForProm(e)
	flush(t, e)
	text := scrape(t, e)
	s := promSamples(t, text)
	if v := s[`server_request_total{server_name="svc",pid="7",app_id="app\"quoted",func="flow-0",ret="0"}`]; v != 12 {
		t.Errorf("flow-0 ret 0: %v\n%s", v, text)
	}
	if v := s[`flowtel_node_executions_total{node_type="plugin",status="error"}`]; v != 10 {
		t.Errorf("plugin errors: %v", v)
	}
	for _, fam := range []string{"server_request_total counter", "server_request_time_microseconds histogram",
		"flowtel_node_executions_total counter", "flowtel_node_duration_microseconds histogram",
		"flowtel_records_accepted_total counter", "flowtel_records_dropped_total counter", "flowtel_records_in_flight gauge"} {
		if !strings.Contains(text, "# TYPE "+fam+"\n") {
			t.Errorf("no TYPE %s", fam)
		}
	}
	// Buckets are cumulative and end at +Inf == _count.
	bucket := regexp.MustCompile(`^(flowtel_node_duration_microseconds)_bucket\{node_type="(\w+)",le="([^"]+)"\}$`)
	last := map[string]float64{}
	for _, l := range strings.Split(text, "\n") {
		if l == "" || l[0] == '#' {
			continue
		}
		series := l[:strings.LastIndexByte(l, ' ')]
		m := bucket.FindStringSubmatch(series)
		if m == nil {
			continue
		}
		v := s[series]
		if v < last[m[2]] {
			t.Errorf("%s: %v below the previous bucket", series, v)
		}
		last[m[2]] = v
		if m[3] == "+Inf" {
			if c := s[`flowtel_node_duration_microseconds_count{node_type="`+m[2]+`"}`]; c != v || c != 40 {
				t.Errorf("%s: +Inf %v, _count %v, want 40", m[2], v, c)
			}
		}
	}
	if len(last) != 4 {
		t.Errorf("buckets of %d node types, want 4", len(last))
	}
}
