// Package queries_test checks every PromQL expression of the Grafana
// dashboard (deploy/grafana/flowtel.json) and the alert rules
// (deploy/prometheus/alerts.yml), extracted by deploy/grafana/queries.
// Offline it checks that each one names only flowtel's documented
// metrics. With FLOWTEL_PROM_URL set it runs each one against that real
// Prometheus and fails unless every expression returns data (the e2e test
// e2e/prometheus_test.go does the same on each ingestion path).
package queries_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/flowtel/flowtel/deploy/grafana/queries"
)

const root = "../../.."

func all(t *testing.T) []queries.Query {
	t.Helper()
	qs, schema, err := queries.Dashboard(root)
	if err != nil {
		t.Fatal(err)
	}
	if schema < 36 {
		t.Errorf("schemaVersion %d", schema)
	}
	as, err := queries.Alerts(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 8 {
		t.Errorf("found %d alert expressions, want 8", len(as))
	}
	return append(qs, as...)
}

func TestExtract(t *testing.T) {
	qs := all(t)
	if len(qs) < 20 {
		t.Errorf("found only %d expressions", len(qs))
	}
	for _, q := range qs {
		for _, m := range queries.MetricName.FindAllString(q.Expr, -1) {
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_sum"), "_count")
			known := false
			for _, k := range queries.Metrics {
				known = known || base == k
			}
			if !known {
				t.Errorf("%s: unknown metric %q in %s", q.Source, m, q.Expr)
			}
		}
	}
	if os.Getenv("FLOWTEL_PRINT_QUERIES") != "" {
		for _, q := range qs {
			fmt.Printf("%s\t%s\n", q.Source, q.Expr)
		}
	}
}

// TestPrepare checks that a job matcher reaches every selector, with and
// without label matchers of its own, and that thresholds are dropped.
func TestPrepare(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`sum(rate(server_request_total{app_id=~"$app_id",ret="0"}[$__rate_interval]))`,
			`sum(rate(server_request_total{job="j",app_id=~".*",ret="0"}[1m]))`},
		{`histogram_quantile(0.95, sum by (le) (rate(server_request_time_microseconds_bucket[5m]))) > 5e6`,
			`histogram_quantile(0.95, sum by (le) (rate(server_request_time_microseconds_bucket{job="j"}[5m])))`},
		{`sum(rate(server_request_total[5m])) * 60 < 10`, `sum(rate(server_request_total{job="j"}[5m])) * 60`},
	} {
		if got := queries.Prepare(c.in, `job="j"`); got != c.want {
			t.Errorf("Prepare(%s)\n got %s\nwant %s", c.in, got, c.want)
		}
	}
	for _, q := range all(t) {
		got := queries.Prepare(q.Expr, `job="j"`)
		if n, m := len(queries.MetricName.FindAllString(q.Expr, -1)), strings.Count(got, `job="j"`); n != m {
			t.Errorf("%s: %d selectors, %d matchers in %s", q.Source, n, m, got)
		}
	}
}

// TestPanelUnits checks the unit each dashboard target is shown in: a
// latency (a quantile, or a mean from _sum over _count) in µs or s as its
// family, anything else not in a time unit. "Requests and latency over
// time" drew req/s and p50/p99 µs on one axis in the unit "short".
func TestPanelUnits(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "deploy/grafana/flowtel.json"))
	if err != nil {
		t.Fatal(err)
	}
	type props struct {
		ID    string `json:"id"`
		Value any    `json:"value"`
	}
	var d struct {
		Panels []struct {
			Title       string `json:"title"`
			FieldConfig struct {
				Defaults struct {
					Unit string `json:"unit"`
				} `json:"defaults"`
				Overrides []struct {
					Matcher struct {
						ID      string `json:"id"`
						Options string `json:"options"`
					} `json:"matcher"`
					Properties []props `json:"properties"`
				} `json:"overrides"`
			} `json:"fieldConfig"`
			Targets []struct {
				Expr  string `json:"expr"`
				RefID string `json:"refId"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			if tg.Expr == "" {
				continue
			}
			unit := p.FieldConfig.Defaults.Unit
			for _, o := range p.FieldConfig.Overrides {
				if o.Matcher.ID == "byFrameRefID" && o.Matcher.Options == tg.RefID {
					for _, pr := range o.Properties {
						if pr.ID == "unit" {
							unit, _ = pr.Value.(string)
						}
					}
				}
			}
			want := ""
			switch latency := strings.Contains(tg.Expr, "histogram_quantile") || strings.Contains(tg.Expr, "seconds_sum") && strings.Contains(tg.Expr, "_count"); {
			case latency && strings.Contains(tg.Expr, "_microseconds"):
				want = "µs"
			case latency:
				want = "s"
			}
			if want != "" && unit != want || want == "" && (unit == "µs" || unit == "s") {
				t.Errorf("panel %s, target %s (%s): unit %q", p.Title, tg.RefID, tg.Expr, unit)
			}
		}
	}
}

// TestAlertRules runs the real promtool on the alert rules: `check
// rules`, and `test rules` on their unit tests (alerts_test.yml), which
// nothing ran before.
func TestAlertRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (apt-get install prometheus)")
	}
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = root + "/deploy/prometheus"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}

// TestQueriesReturnData runs against the Prometheus at FLOWTEL_PROM_URL.
func TestQueriesReturnData(t *testing.T) {
	base := os.Getenv("FLOWTEL_PROM_URL")
	if base == "" {
		t.Skip("FLOWTEL_PROM_URL is not set (set by scripts/e2e-prometheus.sh)")
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for _, q := range all(t) {
		expr := queries.Prepare(q.Expr, "")
		ok, err := queries.HasData(context.Background(), client, base, expr)
		if err != nil {
			t.Errorf("%s: %v", q.Source, err)
		} else if !ok {
			t.Errorf("%s: no data for %s", q.Source, expr)
		}
	}
}

// TestRatiosLeaveOutRefused: a ratio of server_request_total by ret (a
// success or error rate) leaves ret="refused", a run flowtel refused to
// trace, out of both sides, as HighErrorRate does: its outcome is unknown.
// The dashboard's success rate panels divided by every request, refused
// ones included, and read an overload of the tracer as failed requests.
func TestRatiosLeaveOutRefused(t *testing.T) {
	sel := regexp.MustCompile(`server_request_total(\{[^}]*\})?`)
	out := regexp.MustCompile(`ret="0"|ret!="refused"|ret!~"[^"]*refused[^"]*"`)
	for _, q := range all(t) {
		if !strings.Contains(q.Expr, "/") || !strings.Contains(q.Expr, "server_request_total{") || !strings.Contains(q.Expr, "ret") {
			continue
		}
		for _, s := range sel.FindAllString(q.Expr, -1) {
			if !out.MatchString(s) {
				t.Errorf("%s: %s counts ret=\"refused\" in a ratio by ret: %s", q.Source, s, q.Expr)
			}
		}
	}
}
