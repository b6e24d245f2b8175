package encode

import (
	"strings"
	"testing"

	"github.com/flowtel/flowtel/internal/testkit"
)

// TestAppendPrometheusHostileNames gives AppendPrometheus metric names and
// attribute keys a caller chooses that are valid alone but break the
// exposition once sanitised: attribute keys that become one label name,
// "__name__" and "__x" (reserved), "le" on a histogram, and metric names
// that become one family. The text must pass promtool (a scraper refuses
// the whole exposition otherwise) and keep every value: colliding
// attributes are one label, values joined by ';' in key order; a metric
// whose family is taken is left out with a comment. Before, promtool
// failed each: "duplicate label names", "label name \"__name__\" is
// reserved", "expected float as value for 'le' label", "second HELP line
// for metric name".
func TestAppendPrometheusHostileNames(t *testing.T) {
	s := func(k, v string) Attr { return Attr{Key: k, Value: StringValue(v)} }
	hist := func(attrs ...Attr) MetricPoint {
		return MetricPoint{Attrs: attrs, Count: 1, Sum: 0.5, Bounds: []float64{1}, BucketCounts: []uint64{1, 0}}
	}
	ms := []Metric{
		{Name: "jobs_done", Kind: MetricGauge, Points: []MetricPoint{{Attrs: []Attr{s("a_b", "2"), s("x", "x"), s("a.b", "1"), s("a-b", "3")}, Double: 1}}},
		{Name: "jobs.done", Kind: MetricGauge, Points: []MetricPoint{{Double: 2}}},
		{Name: "tasks_total", Kind: MetricSum, Monotonic: true, Points: []MetricPoint{{Attrs: []Attr{s("__name__", "n"), s("__x", "y")}, Double: 3}}},
		{Name: "tasks", Kind: MetricSum, Monotonic: true, Points: []MetricPoint{{Double: 4}}},
		{Name: "wait", Unit: "s", Kind: MetricHistogram, Points: []MetricPoint{hist(s("le", "x"), s("key_le", "y"))}},
		{Name: "dup", Kind: MetricGauge, Points: []MetricPoint{{Attrs: []Attr{s("k", "1"), s("k", "2")}, Double: 5}}},
	}
	out := string(AppendPrometheus(nil, ms))
	testkit.Promtool(t, []byte(out))
	for _, want := range []string{
		`jobs_done{a_b="3;1;2",x="x"} 1` + "\n",
		"# flowtel: metric jobs_done left out: an earlier metric has its name\n",
		`tasks_total{key__name__="n",key__x="y"} 3` + "\n",
		"# flowtel: metric tasks_total left out: an earlier metric has its name\n",
		`wait_seconds_bucket{key_le="y;x",le="1"} 1` + "\n",
		`wait_seconds_count{key_le="y;x"} 1` + "\n",
		`dup{k="1;2"} 5` + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the exposition lacks %q:\n%s", want, out)
		}
	}
	buf := AppendPrometheus(nil, ms)
	testkit.WantAllocs(t, 0, func() { buf = AppendPrometheus(buf[:0], ms) })
}
