package engine

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/flowtel/flowtel/internal/testkit"
)

// TestMetricsLabelsBounded is the regression test of label values without
// a bound: runs and requests with 256 KiB app_id, flow id and node type
// grew /metrics from 2 KB to 42 MB. Every label value is now cut to
// MetricsConfig.LabelBytes, and counted.
func TestMetricsLabelsBounded(t *testing.T) {
	e, err := New(WithBatch(64, time.Millisecond), WithMetrics(MetricsConfig{LabelBytes: 64}))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	before := len(scrape(t, e))
	for i := range 4 {
		big := strings.Repeat(string(rune('a'+i)), 256<<10)
		r := e.StartRun(RunInfo{AppID: big, FlowID: big})
		r.StartNode("n:1", big, "node").End()
		r.End(0, "")
		e.RecordRequest(big, big, 7, time.Millisecond)
		e.RequestSeries(big+"x", big+"y", 8).Record(time.Millisecond)
	}
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	body := scrape(t, e)
	// 4 app/func pairs (the x and y suffixes are cut off), 4 node types,
	// each value 64 bytes: a few KB more, not megabytes.
	if len(body) > before+64<<10 {
		t.Fatalf("/metrics grew from %d to %d bytes", before, len(body))
	}
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "#") {
			continue
		}
		for _, v := range strings.Split(l, `"`) {
			if len(v) > 64 {
				t.Fatalf("label value of %d bytes in %q", len(v), l[:min(len(l), 100)])
			}
		}
	}
	if got := strings.Count(body, "server_request_total{"); got != 3*4 {
		t.Errorf("%d request series, want 12 (4 pairs by ret 0, 7, 8):\n%s", got, body)
	}
	// Per iteration: app_id and func of the run, of RecordRequest and of
	// RequestSeries, and node_type.
	if s := e.Stats(); s.ValuesTruncated < 4*7 {
		t.Errorf("label cuts not counted: ValuesTruncated = %d", s.ValuesTruncated)
	}
}

// TestMetricsLabelsSanitisedBeforeIdentity is the regression test of
// duplicate series: "app\xff", "app\xfe" and "app\uFFFD" were three series
// internally and one label value once escaped, so a real Prometheus
// stored one of them. They are now one series from the start.
func TestMetricsLabelsSanitisedBeforeIdentity(t *testing.T) {
	e, err := New(WithBatch(64, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	for _, app := range []string{"app\xff", "app\xfe", "app\uFFFD", "app\xff\xfe"} {
		e.RecordRequest(app, "f\xc3", 0, time.Millisecond)
	}
	for _, typ := range []string{"llm\xff", "llm\uFFFD"} {
		r := e.StartRun(RunInfo{AppID: "a", FlowID: "f"})
		r.StartNode("n:1", typ, "n").End()
		r.End(0, "")
	}
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	body := scrape(t, e)
	if !utf8.ValidString(body) {
		t.Fatal("exposition is not valid UTF-8")
	}
	samples := promSamples(t, body)
	want := map[string]float64{
		`server_request_total{server_name="flowtel",app_id="app` + "\uFFFD" + `",func="f` + "\uFFFD" + `",ret="0"}`: 4,
		`flowtel_node_executions_total{node_type="llm` + "\uFFFD" + `",status="ok"}`:                                2,
	}
	for k, v := range want {
		var got float64
		n := 0
		for s, x := range samples {
			if sameSeries(s, k) {
				got += x
				n++
			}
		}
		if n != 1 || got != v {
			t.Errorf("%s: %d series, value %v; want 1 series of %v\n%s", k, n, got, v, body)
		}
	}
}

// sameSeries reports whether sample s is the series want, ignoring the
// static labels other than server_name (host and pid vary).
func sameSeries(s, want string) bool {
	name, labels, _ := strings.Cut(s, "{")
	wname, wlabels, _ := strings.Cut(want, "{")
	if name != wname {
		return false
	}
	keep := func(ls string) string {
		var out []string
		for _, l := range strings.Split(strings.TrimSuffix(ls, "}"), ",") {
			if !strings.HasPrefix(l, "server_host=") && !strings.HasPrefix(l, "pid=") && !strings.HasPrefix(l, "dc=") {
				out = append(out, l)
			}
		}
		return strings.Join(out, ",")
	}
	return keep(labels) == keep(wlabels)
}

// TestMetricsLabel checks the label function itself: valid and short
// values pass untouched, others are repaired as strings.ToValidUTF8 does,
// then cut at a rune boundary.
func TestMetricsLabel(t *testing.T) {
	e, err := New(WithMetrics(MetricsConfig{LabelBytes: 8}))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	m := e.metrics
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"abc", "abc"},
		{"abcdefgh", "abcdefgh"},
		{"abcdefghi", "abcdefgh"},
		{"abcdefg€", "abcdefg"},
		{"a\xff\xfe\xfdb", "a\uFFFDb"},
		{"abcdefg\xff", "abcdefg"},
		{"abcde\xff", "abcde\uFFFD"},
		{strings.Repeat("\xff", 1<<20) + "z", "\uFFFDz"},
		{"€€€x", "€€"},
	} {
		got := m.label(c.in)
		if got != c.want || !utf8.ValidString(got) {
			t.Errorf("label(%q) = %q, want %q", c.in, got, c.want)
		}
		if want := truncate(strings.ToValidUTF8(c.in, "\uFFFD"), 8); got != want {
			t.Errorf("label(%q) = %q, differs from the repair-then-cut rule %q", c.in, got, want)
		}
	}
}

// TestMetricsLabelAllocs: a label value to cut costs nothing, one to
// repair one allocation; lookups of existing series none.
func TestMetricsLabelAllocs(t *testing.T) {
	e, err := New(WithMetrics(MetricsConfig{LabelBytes: 16}))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	long := strings.Repeat("x", 1<<10)
	e.RecordRequest(long, long, 0, time.Millisecond)
	e.RecordRequest("bad\xff", "f", 0, time.Millisecond)
	testkit.WantAllocs(t, 0, func() { e.RecordRequest(long, long, 0, time.Millisecond) })
	testkit.WantAllocs(t, 1, func() { e.RecordRequest("bad\xff", "f", 0, time.Millisecond) })
}

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
