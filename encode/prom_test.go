package encode_test

import (
	"bytes"
	"math/rand/v2"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/testkit"
)

func TestAppendPrometheusGolden(t *testing.T) {
	ms := []encode.Metric{
		{Name: "server_request", Description: "Requests.\nBy \\ret.", Kind: encode.MetricSum, Monotonic: true,
			Points: []encode.MetricPoint{{Attrs: []encode.Attr{
				{Key: "app_id", Value: encode.StringValue(`a"b\c` + "\n\xff")},
				{Key: "otel.metric.overflow", Value: encode.BoolValue(true)},
				{Key: "pid", Value: encode.Int64Value(42)}}, IsInt: true, Int: 7}}},
		{Name: "queue-depth", Kind: encode.MetricGauge, Points: []encode.MetricPoint{{Double: 1.5}}},
		{Name: "server_request_time_microseconds", Description: "Latency.", Kind: encode.MetricHistogram,
			Points: []encode.MetricPoint{{Attrs: []encode.Attr{{Key: "ret", Value: encode.StringValue("0")}},
				Count: 6, Sum: 123.5, Bounds: []float64{10, 100, 1e6}, BucketCounts: []uint64{1, 2, 0, 3}}}},
		{Name: "skipped", Kind: encode.MetricExponentialHistogram, Points: []encode.MetricPoint{{Count: 1}}},
	}
	want := `# HELP server_request_total Requests.\nBy \\ret.
# TYPE server_request_total counter
server_request_total{app_id="a\"b\\c\n` + "\uFFFD" + `",otel_metric_overflow="true",pid="42"} 7
# HELP queue_depth queue_depth
# TYPE queue_depth gauge
queue_depth 1.5
# HELP server_request_time_microseconds Latency.
# TYPE server_request_time_microseconds histogram
server_request_time_microseconds_bucket{ret="0",le="10"} 1
server_request_time_microseconds_bucket{ret="0",le="100"} 3
server_request_time_microseconds_bucket{ret="0",le="1e+06"} 3
server_request_time_microseconds_bucket{ret="0",le="+Inf"} 6
server_request_time_microseconds_sum{ret="0"} 123.5
server_request_time_microseconds_count{ret="0"} 6
`
	if got := string(encode.AppendPrometheus(nil, ms)); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	buf := encode.AppendPrometheus(nil, ms)
	testkit.WantAllocs(t, 0, func() { buf = encode.AppendPrometheus(buf[:0], ms) })
}

// promLine matches a valid sample line of the 0.0.4 format.
var promLine = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\["\\n])*",?)*\})? (-?[0-9.e+]+|[+-]Inf|NaN)$`)

// promRandMetrics returns uniquely named random metrics with nasty names,
// labels and values.
func promRandMetrics(r *rand.Rand) []encode.Metric {
	ms := metricsRandMetrics(r)
	for i := range ms {
		ms[i].Name = metricsRandStr(r) + "x" + strings.Repeat("y", i) // distinct after sanitising
		for j := range ms[i].Points {
			p := &ms[i].Points[j]
			// Distinct label keys per point, as Prometheus requires.
			for k := range p.Attrs {
				p.Attrs[k].Key = "k" + strings.Repeat("k", k)
			}
			// Histogram buckets consistent with Count.
			p.Count = 0
			for k := range p.BucketCounts {
				p.BucketCounts[k] %= 1000
				p.Count += p.BucketCounts[k]
			}
			if len(p.BucketCounts) == 0 {
				p.Count = 0
			}
			for k := range p.Bounds {
				p.Bounds[k] = float64(k+1) * 10
			}
		}
		// One point per metric keeps label sets distinct.
		if len(ms[i].Points) > 1 {
			ms[i].Points = ms[i].Points[:1]
		}
	}
	return ms
}

func TestAppendPrometheusLinesValid(t *testing.T) {
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 11))
		out := encode.AppendPrometheus(nil, promRandMetrics(r))
		for _, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
			if line == "" || strings.HasPrefix(line, "# HELP ") || strings.HasPrefix(line, "# TYPE ") {
				continue
			}
			if !promLine.MatchString(line) {
				t.Fatalf("seed %d: invalid line %q", seed, line)
			}
		}
	}
}

// TestAppendPrometheusPromtool runs the real `promtool check metrics` on
// the output. The only finding tolerated is promtool's advice to use base
// units on "_microseconds" names, which flowtel keeps for compatibility
// with the original system's dashboards (docs/original.md, Metrics).
func TestAppendPrometheusPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (apt-get install prometheus); skipping the promtool check")
	}
	_, sample := metricsSample()
	sample[0].Description = "Requests served, by return code."
	sample[1].Description = "Request latency in microseconds."
	inputs := [][]encode.Metric{sample}
	for seed := range uint64(20) {
		inputs = append(inputs, promRandMetrics(rand.New(rand.NewPCG(seed, 11))))
	}
	allowed := regexp.MustCompile(`^\S+_microseconds use base unit "seconds" instead of "microseconds"$`)
	for i, ms := range inputs {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(encode.AppendPrometheus(nil, ms))
		out, err := cmd.CombinedOutput()
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if line != "" && !allowed.MatchString(line) {
				t.Errorf("input %d: promtool: %s", i, line)
			}
		}
		if err != nil && strings.TrimSpace(string(out)) == "" {
			t.Errorf("input %d: promtool failed with no output: %v", i, err)
		}
	}
}
