package export

import (
	"errors"
	"strings"
	"testing"
)

// envNames are the variables FromLookup reads.
var envNames = func() []string {
	var names []string
	for _, p := range []string{"OTEL_EXPORTER_OTLP_", "OTEL_EXPORTER_OTLP_TRACES_", "OTEL_EXPORTER_OTLP_METRICS_", "OTEL_EXPORTER_OTLP_LOGS_"} {
		for _, v := range []string{"ENDPOINT", "HEADERS", "PROTOCOL", "TIMEOUT", "COMPRESSION", "INSECURE"} {
			names = append(names, p+v)
		}
	}
	return append(names, "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTLP_ENABLE", "OTEL_LOGS_EXPORTER", "OTLP_ENDPOINT", "SERVICE_NAME",
		"OTLP_TRACE_TIMEOUT", "OTLP_TRACE_MAX_QUEUE_SIZE", "OTLP_TRACE_SCHEDULE_DELAY_MILLIS", "OTLP_TRACE_MAX_EXPORT_BATCH_SIZE",
		"OTLP_TRACE_EXPORT_TIMEOUT_MILLIS", "OTLP_METRIC_TIMEOUT", "OTLP_METRIC_EXPORT_INTERVAL_MILLIS", "OTLP_METRIC_EXPORT_TIMEOUT_MILLIS",
		"OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "OTEL_BSP_EXPORT_TIMEOUT",
		"OTEL_BLRP_MAX_QUEUE_SIZE", "OTEL_BLRP_SCHEDULE_DELAY", "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "OTEL_BLRP_EXPORT_TIMEOUT",
		"OTEL_METRIC_EXPORT_INTERVAL", "OTEL_METRIC_EXPORT_TIMEOUT", "FLOWTEL_LARGE_FIELDS_URL",
		"FLOWTEL_LARGE_FIELDS_DISABLED", "FLOWTEL_LARGE_FIELDS_HEADERS", "FLOWTEL_LARGE_FIELDS_MAX_BYTES", "FLOWTEL_LARGE_FIELDS_MAX_FILES",
		"FLOWTEL_LARGE_FIELDS_TIMEOUT", "FLOWTEL_LARGE_FIELDS_CONCURRENCY", "FLOWTEL_LARGE_FIELDS_QUEUE_BYTES")
}()

// FuzzEnvAcceptedIsUsable sets two variables to arbitrary values: what
// FromLookup accepts, New's checks (resolve: every signal's endpoint,
// headers, timeout) accept too, so that a bad setting is refused where
// the error can name its variable.
func FuzzEnvAcceptedIsUsable(f *testing.F) {
	f.Add(uint8(0), "https://x:1", uint8(40), "5")
	f.Add(uint8(1), "a=b", uint8(3), "99999999")
	f.Add(uint8(6), "unix:///tmp/s", uint8(11), "true")
	f.Add(uint8(28), "http://h/", uint8(44), "1")
	f.Fuzz(func(t *testing.T, i uint8, a string, j uint8, b string) {
		na, nb := envNames[int(i)%len(envNames)], envNames[int(j)%len(envNames)]
		c, err := FromLookup(func(k string) (string, bool) {
			switch k {
			case na:
				return a, true
			case nb:
				return b, true
			}
			return "", false
		})
		if err != nil {
			if !errors.Is(err, ErrInvalidEnv) {
				t.Fatalf("error %q does not wrap ErrInvalidEnv", err)
			}
			return
		}
		if _, err := c.resolve(); err != nil {
			t.Fatalf("%s=%q %s=%q accepted by FromLookup, refused by New: %v", na, a, nb, b, err)
		}
		if err := c.LargeFields.Validate(); err != nil && !strings.Contains(err.Error(), "Dir") {
			t.Fatalf("%s=%q %s=%q accepted, then refused by Validate: %v", na, a, nb, b, err)
		}
	})
}
