package otlp

import (
	"errors"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/export"
)

// TestNewFromEnvMetricIntervalNamed: a metrics export interval the engine
// refuses (under engine.MinMetricsInterval, 10 ms: a push collects and
// encodes every series) was refused as "engine: invalid metrics
// configuration: Interval = 1ms", naming no variable, where every other
// invalid value names its own. The error names the variable that set it,
// the OpenTelemetry one winning as export.FromEnv reads them.
func TestNewFromEnvMetricIntervalNamed(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"OTEL_METRIC_EXPORT_INTERVAL": "1"}, "OTEL_METRIC_EXPORT_INTERVAL"},
		{map[string]string{"OTLP_METRIC_EXPORT_INTERVAL_MILLIS": "9"}, "OTLP_METRIC_EXPORT_INTERVAL_MILLIS"},
		{map[string]string{"OTEL_METRIC_EXPORT_INTERVAL": "5", "OTLP_METRIC_EXPORT_INTERVAL_MILLIS": "3000"}, "OTEL_METRIC_EXPORT_INTERVAL"},
	} {
		e, err := newFromLookup(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
		if e != nil {
			e.Shutdown(t.Context())
		}
		if !errors.Is(err, export.ErrInvalidEnv) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want export.ErrInvalidEnv naming %s", tc.env, err, tc.want)
		}
	}
	e, err := newFromLookup(func(k string) (string, bool) {
		if k == "OTEL_METRIC_EXPORT_INTERVAL" {
			return "10", true
		}
		return "", false
	})
	if err != nil {
		t.Fatalf("OTEL_METRIC_EXPORT_INTERVAL=10: %v", err)
	}
	e.Shutdown(t.Context())
}
