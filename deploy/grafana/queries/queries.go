// Package queries extracts every PromQL expression of flowtel's Grafana
// dashboard (deploy/grafana/flowtel.json) and alert rules
// (deploy/prometheus/alerts.yml), and runs them against a real
// Prometheus. The offline checks live in ../queries_test; the e2e test
// (e2e/prometheus_test.go) runs every expression on both of Prometheus'
// paths: the scrape of promhttp.Handler and the collector's remote write.
package queries

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Metrics are the documented metric families (engine/metrics.go's and
// otlp/metrics.go's Metric* names, and the GenAI ones of
// engine/genai_metrics.go under their Prometheus names) that end in
// _total, _microseconds or _seconds, and gen_ai_client_token_usage: the
// ones MetricName finds in an expression.
var Metrics = []string{
	"server_request_total", "server_request_time_microseconds",
	"flowtel_node_executions_total", "flowtel_node_duration_microseconds",
	"flowtel_records_dropped_total", "flowtel_records_accepted_total",
	"flowtel_records_exported_total", "flowtel_records_sampled_out_total", "flowtel_export_items_total",
	"flowtel_export_latency_microseconds", "flowtel_metric_overflow_total", "flowtel_offload_values_total",
	"gen_ai_client_token_usage", "gen_ai_client_operation_duration_seconds",
	"gen_ai_client_operation_time_to_first_chunk_seconds", "gen_ai_client_operation_time_per_output_chunk_seconds",
	"flowtel_gen_ai_tool_duration_seconds", "flowtel_gen_ai_workflow_duration_seconds", "flowtel_gen_ai_tokens_total",
}

// Query is one expression and where it comes from ("panel X", "alert Y").
type Query struct{ Source, Expr string }

// Dashboard returns the expr of every target of every panel of the
// dashboard in the repository at root, and its schemaVersion.
func Dashboard(root string) ([]Query, int, error) {
	b, err := os.ReadFile(filepath.Join(root, "deploy/grafana/flowtel.json"))
	if err != nil {
		return nil, 0, err
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
		return nil, 0, fmt.Errorf("cannot decode the dashboard: %w", err)
	}
	var qs []Query
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			if tg.Expr != "" {
				qs = append(qs, Query{"panel " + p.Title, tg.Expr})
			}
		}
	}
	return qs, d.SchemaVersion, nil
}

// Alerts returns the expr of every rule of the alert rules in the
// repository at root; alerts.yml writes each as an "expr: |" block.
func Alerts(root string) ([]Query, error) {
	f, err := os.Open(filepath.Join(root, "deploy/prometheus/alerts.yml"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var qs []Query
	var name string
	var cur []string
	in := false
	flush := func() {
		if in && len(cur) > 0 {
			qs = append(qs, Query{"alert " + name, strings.Join(cur, " ")})
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
	return qs, sc.Err()
}

// MetricName matches a metric name in an expression, with its histogram
// suffix.
var MetricName = regexp.MustCompile(`(?:[a-z_]+_(?:total|microseconds|seconds)|gen_ai_client_token_usage)(?:_bucket|_sum|_count)?\b`)

// threshold matches the comparison that ends an alert expression.
var threshold = regexp.MustCompile(`\s*[<>]=?\s*[0-9.e+]+\s*$`)

// selector matches a metric name and its optional label matchers.
var selector = regexp.MustCompile(`\b((?:[a-z_]+_(?:total|microseconds|seconds)|gen_ai_client_token_usage)(?:_bucket|_sum|_count)?)\b(\{[^}]*\})?`)

// Prepare makes expr runnable: Grafana's variables get values
// ($__rate_interval is 1m, $app_id matches everything), an alert's final
// threshold is dropped (the e2e load is not meant to trip alerts, only to
// prove that every series they read exists), and when matcher is not
// empty (e.g. `job="flowtel_scrape"`) it is added to every selector, so
// that a query reads only one of Prometheus' ingestion paths.
func Prepare(expr, matcher string) string {
	r := strings.NewReplacer("$__rate_interval", "1m", `"$app_id"`, `".*"`)
	expr = threshold.ReplaceAllString(r.Replace(expr), "")
	if matcher == "" {
		return expr
	}
	return selector.ReplaceAllStringFunc(expr, func(s string) string {
		m := selector.FindStringSubmatch(s)
		if m[2] == "" {
			return m[1] + "{" + matcher + "}"
		}
		return m[1] + "{" + matcher + "," + m[2][1:]
	})
}

// HasData runs expr as an instant query against the Prometheus at base
// and reports whether it returned at least one series.
func HasData(ctx context.Context, client *http.Client, base, expr string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/query?query="+url.QueryEscape(expr), nil)
	if err != nil {
		return false, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	var out struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return false, fmt.Errorf("cannot decode the answer to %s: %w", expr, err)
	}
	if out.Status != "success" {
		return false, fmt.Errorf("query %s: status %q: %s", expr, out.Status, out.Error)
	}
	return len(out.Data.Result) > 0, nil
}
