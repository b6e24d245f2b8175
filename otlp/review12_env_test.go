package otlp

import (
	"context"
	"testing"
)

// TestSDKEnumsAnyCase: OpenTelemetry's SDK configuration reads enum
// values case-insensitively; OTEL_TRACES_EXPORTER, OTEL_LOGS_EXPORTER and
// OTEL_SDK_DISABLED were, OTEL_METRICS_EXPORTER and OTEL_PROPAGATORS not
// ("NONE" refused with "want otlp, prometheus or none").
func TestSDKEnumsAnyCase(t *testing.T) {
	for _, env := range []map[string]string{
		{"OTLP_ENABLE": "false", "OTEL_METRICS_EXPORTER": "NONE"},
		{"OTLP_ENABLE": "false", "OTEL_METRICS_EXPORTER": "Prometheus"},
		{"OTLP_ENABLE": "false", "OTEL_METRICS_EXPORTER": "OTLP"},
		{"OTLP_ENABLE": "false", "OTEL_PROPAGATORS": "TraceContext,Baggage"},
		{"OTEL_TRACES_EXPORTER": "None", "OTEL_LOGS_EXPORTER": "NONE", "OTEL_METRICS_EXPORTER": "None"},
	} {
		e, err := newFromLookup(lookupMap(env))
		if err != nil {
			t.Errorf("%v: %v", env, err)
			continue
		}
		if err := e.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	}
}
