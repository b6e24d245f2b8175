package encode

import (
	"strings"
	"testing"
)

// TestPrometheusUnitSuffix: a metric's name gets its unit's suffix, as
// OpenTelemetry's Prometheus translation adds it, unless the name ends
// with it already; an annotation adds none; a counter's "_total" comes
// after the unit.
func TestPrometheusUnitSuffix(t *testing.T) {
	for _, c := range []struct {
		name, unit string
		kind       MetricKind
		want       string
	}{
		{"gen_ai.client.operation.duration", "s", MetricHistogram, "gen_ai_client_operation_duration_seconds_count 1\n"},
		{"gen_ai.client.token.usage", "{token}", MetricHistogram, "gen_ai_client_token_usage_count 1\n"},
		{"server_request_time_microseconds", "us", MetricHistogram, "server_request_time_microseconds_count 1\n"},
		{"flowtel_memory_held_bytes", "By", MetricGauge, "flowtel_memory_held_bytes 1\n"},
		{"queue", "By", MetricGauge, "queue_bytes 1\n"},
		{"io.wait", "ms", MetricSum, "io_wait_milliseconds_total 1\n"},
		{"flowtel_gen_ai_tokens_total", "{token}", MetricSum, "flowtel_gen_ai_tokens_total 1\n"},
		{"ratio", "1", MetricGauge, "ratio 1\n"},
	} {
		p := MetricPoint{IsInt: true, Int: 1, Count: 1}
		out := string(AppendPrometheus(nil, []Metric{{Name: c.name, Unit: c.unit, Kind: c.kind, Monotonic: c.kind == MetricSum, Points: []MetricPoint{p}}}))
		if !strings.Contains(out, "\n"+c.want) {
			t.Errorf("%s (%s): want %q in\n%s", c.name, c.unit, c.want, out)
		}
	}
}
