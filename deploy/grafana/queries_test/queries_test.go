// Package queries_test extracts every PromQL expression of the Grafana
// dashboard (deploy/grafana/flowtel.json) and the alert rules
// (deploy/prometheus/alerts.yml). Offline it checks that each one names
// only flowtel's documented metrics. With FLOWTEL_PROM_URL set (the e2e
// step, scripts/e2e-prometheus.sh) it runs each one against that real
// Prometheus and fails unless every expression returns data.
package queries_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// metrics are the documented metric families.
var metrics = []string{
	"server_request_total", "server_request_time_microseconds",
	"flowtel_node_executions_total", "flowtel_node_duration_microseconds",
	"flowtel_records_dropped_total", "flowtel_records_accepted_total",
}

type query struct{ source, expr string }

// dashboardQueries returns the expr of every target of every panel.
func dashboardQueries(t *testing.T) []query {
	b, err := os.ReadFile("../flowtel.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		SchemaVersion int `json:"schemaVersion"`
		Panels        []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	if d.SchemaVersion < 36 {
		t.Errorf("schemaVersion %d", d.SchemaVersion)
	}
	var qs []query
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			if tg.Expr != "" {
				qs = append(qs, query{"panel " + p.Title, tg.Expr})
			}
		}
	}
	return qs
}

// alertQueries returns the expr of every rule; alerts.yml writes each as
// a "expr: |" block.
func alertQueries(t *testing.T) []query {
	f, err := os.Open("../../prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var qs []query
	var name string
	var cur []string
	in := false
	flush := func() {
		if in && len(cur) > 0 {
			qs = append(qs, query{"alert " + name, strings.Join(cur, " ")})
		}
		in, cur = false, nil
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "- alert:"):
			flush()
			name = strings.TrimSpace(strings.TrimPrefix(line, "- alert:"))
		case line == "expr: |":
			in = true
		case in && (strings.HasPrefix(line, "for:") || strings.HasPrefix(line, "labels:")):
			flush()
		case in:
			cur = append(cur, line)
		}
	}
	flush()
	return qs
}

func TestExtract(t *testing.T) {
	qs := append(dashboardQueries(t), alertQueries(t)...)
	if n := len(alertQueries(t)); n != 6 {
		t.Errorf("found %d alert expressions, want 6", n)
	}
	if len(qs) < 20 {
		t.Errorf("found only %d expressions", len(qs))
	}
	name := regexp.MustCompile(`[a-z_]+_(total|microseconds)(_bucket|_sum|_count)?\b`)
	for _, q := range qs {
		for _, m := range name.FindAllString(q.expr, -1) {
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_sum"), "_count")
			known := false
			for _, k := range metrics {
				known = known || base == k
			}
			if !known {
				t.Errorf("%s: unknown metric %q in %s", q.source, m, q.expr)
			}
		}
	}
	if os.Getenv("FLOWTEL_PRINT_QUERIES") != "" {
		for _, q := range qs {
			fmt.Printf("%s\t%s\n", q.source, q.expr)
		}
	}
}

// threshold matches the comparison that ends an alert expression.
var threshold = regexp.MustCompile(`\s*[<>]=?\s*[0-9.e+]+\s*$`)

// TestQueriesReturnData runs against the Prometheus at FLOWTEL_PROM_URL.
// Alert expressions are run without their threshold: the e2e load is not
// meant to trip alerts, only to prove every series they read exists.
func TestQueriesReturnData(t *testing.T) {
	base := os.Getenv("FLOWTEL_PROM_URL")
	if base == "" {
		t.Skip("FLOWTEL_PROM_URL is not set (set by scripts/e2e-prometheus.sh)")
	}
	client := &http.Client{Timeout: 10 * time.Second}
	r := strings.NewReplacer("$__rate_interval", "1m", `"$app_id"`, `".*"`)
	for _, q := range append(dashboardQueries(t), alertQueries(t)...) {
		expr := threshold.ReplaceAllString(r.Replace(q.expr), "")
		resp, err := client.Get(base + "/api/v1/query?query=" + url.QueryEscape(expr))
		if err != nil {
			t.Fatalf("%s: %v", q.source, err)
		}
		var out struct {
			Status string `json:"status"`
			Error  string `json:"error"`
			Data   struct {
				Result []json.RawMessage `json:"result"`
			} `json:"data"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil || out.Status != "success" {
			t.Errorf("%s: %s: status %q %s %v", q.source, expr, out.Status, out.Error, err)
			continue
		}
		if len(out.Data.Result) == 0 {
			t.Errorf("%s: no data for %s", q.source, expr)
		}
	}
}
