package export

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func lookupOf(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestFromLookupDefaults(t *testing.T) {
	c, err := FromLookup(lookupOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Enabled || c.NoLogs || c.Endpoint != "" || c.Protocol != "" || c.Traces.Timeout != 3*time.Second || c.Metrics.Timeout != 5*time.Second ||
		c.Logs.Timeout != 0 || c.ServiceName != "" {
		t.Errorf("defaults: %+v", c)
	}
	want := TraceBatchConfig{MaxQueueSize: 2048, ScheduleDelay: 3 * time.Second, MaxExportBatchSize: 512, ExportTimeout: 3 * time.Second}
	if c.TraceBatch != want {
		t.Errorf("trace batch %+v, want %+v", c.TraceBatch, want)
	}
	if c.MetricReader != (MetricReaderConfig{ExportInterval: 3 * time.Second, ExportTimeout: 5 * time.Second}) {
		t.Errorf("metric reader %+v", c.MetricReader)
	}
	e, err := New(c)
	if err != nil {
		t.Fatalf("New(FromLookup(empty)): %v", err)
	}
	shutdown(t, e)
}

func TestFromLookup(t *testing.T) {
	env := map[string]string{
		"OTLP_ENABLE":                         "false",
		"OTEL_LOGS_EXPORTER":                  "None",
		"OTEL_EXPORTER_OTLP_ENDPOINT":         "http://collector:4318",
		"OTLP_ENDPOINT":                       "ignored:4317",
		"OTEL_EXPORTER_OTLP_PROTOCOL":         "http/protobuf",
		"OTEL_EXPORTER_OTLP_HEADERS":          "api-key=s%20ecret, x-tenant = a ",
		"OTEL_EXPORTER_OTLP_TIMEOUT":          "2500",
		"OTEL_EXPORTER_OTLP_COMPRESSION":      "GZIP",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT":  "https://traces:443/v1/tr",
		"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "grpc",
		"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "metrics:4317",
		"OTEL_EXPORTER_OTLP_METRICS_INSECURE": "true",
		"OTEL_EXPORTER_OTLP_LOGS_HEADERS":     "only=logs",
		"OTEL_EXPORTER_OTLP_LOGS_TIMEOUT":     "100",
		"OTEL_RESOURCE_ATTRIBUTES":            "service.name=from-attrs,deployment.environment=prod%2Ceu",
		"SERVICE_NAME":                        "legacy",
		"OTLP_TRACE_MAX_QUEUE_SIZE":           "4096",
		"OTLP_TRACE_SCHEDULE_DELAY_MILLIS":    "1000",
		"OTLP_METRIC_EXPORT_INTERVAL_MILLIS":  "1000",
		"OTLP_TRACE_TIMEOUT":                  "9999",
	}
	c, err := FromLookup(lookupOf(env))
	if err != nil {
		t.Fatal(err)
	}
	if c.Enabled || !c.NoLogs || c.Endpoint != "http://collector:4318" || c.Protocol != ProtocolHTTPProtobuf || c.Compression != "gzip" ||
		c.Timeout != 2500*time.Millisecond || c.Headers["api-key"] != "s ecret" || c.Headers["x-tenant"] != "a" {
		t.Errorf("generic: %+v", c)
	}
	if c.Traces.Timeout != 0 {
		t.Errorf("OTLP_TRACE_TIMEOUT must yield to OTEL_EXPORTER_OTLP_TIMEOUT, got %v", c.Traces.Timeout)
	}
	if c.ServiceName != "from-attrs" || len(c.ResourceAttrs) != 2 || c.ResourceAttrs[1] != (KeyValue{"deployment.environment", "prod,eu"}) {
		t.Errorf("resource: %q %+v", c.ServiceName, c.ResourceAttrs)
	}
	if c.TraceBatch.MaxQueueSize != 4096 || c.TraceBatch.ScheduleDelay != time.Second || c.MetricReader.ExportInterval != time.Second {
		t.Errorf("original settings: %+v %+v", c.TraceBatch, c.MetricReader)
	}
	s, err := c.resolve()
	if err != nil {
		t.Fatal(err)
	}
	if tr := s.targets[Traces]; tr.url != "https://traces:443/v1/tr" || tr.tls == nil || !tr.gzip || tr.timeout != 2500*time.Millisecond {
		t.Errorf("traces target: %+v", tr)
	}
	if m := s.targets[Metrics]; m.protocol != ProtocolGRPC || m.grpcTarget != "metrics:4317" || m.tls != nil {
		t.Errorf("metrics target: %+v", m)
	}
	if l := s.targets[Logs]; l.url != "http://collector:4318/v1/logs" || l.headers["only"] != "logs" || l.headers["api-key"] != "" || l.timeout != 100*time.Millisecond {
		t.Errorf("logs target: %+v", l)
	}
}

func TestFromLookupOriginalVariables(t *testing.T) {
	c, err := FromLookup(lookupOf(map[string]string{"OTLP_ENDPOINT": "10.0.0.1:4317", "SERVICE_NAME": "spark", "OTLP_ENABLE": "1"}))
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.resolve()
	if err != nil {
		t.Fatal(err)
	}
	if tr := s.targets[Traces]; tr.grpcTarget != "10.0.0.1:4317" || tr.tls != nil || !c.Enabled || c.ServiceName != "spark" {
		t.Errorf("original variables: %+v %+v", c, tr)
	}
	c, _ = FromLookup(lookupOf(map[string]string{"OTEL_SERVICE_NAME": "a", "OTEL_RESOURCE_ATTRIBUTES": "service.name=b", "SERVICE_NAME": "c"}))
	if c.ServiceName != "a" {
		t.Errorf("OTEL_SERVICE_NAME must win: %q", c.ServiceName)
	}
}

// TestFromLookupErrors: an invalid value is an error naming its variable,
// also for the settings the engine uses, and never echoing a header value.
func TestFromLookupErrors(t *testing.T) {
	for _, c := range [][2]string{
		{"OTLP_ENABLE", "maybe"},
		{"OTEL_LOGS_EXPORTER", "console"},
		{"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"},
		{"OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "thrift"},
		{"OTEL_EXPORTER_OTLP_TIMEOUT", "10s"},
		{"OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "-1"},
		{"OTEL_EXPORTER_OTLP_COMPRESSION", "br"},
		{"OTEL_EXPORTER_OTLP_TRACES_INSECURE", "yes please"},
		{"OTLP_TRACE_MAX_QUEUE_SIZE", "0"},
		{"OTLP_TRACE_MAX_EXPORT_BATCH_SIZE", "many"},
		{"OTLP_METRIC_EXPORT_TIMEOUT_MILLIS", "1e3"},
		{"OTEL_RESOURCE_ATTRIBUTES", "novalue"},
		{"OTEL_EXPORTER_OTLP_HEADERS", "k=%zzsecret-value"},
		{"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "bad key=secret-value"},
		{"OTEL_EXPORTER_OTLP_METRICS_HEADERS", "k=secret-value%0A"},
		{"OTEL_EXPORTER_OTLP_LOGS_HEADERS", "=secret-value"},
		{"OTLP_METRIC_EXPORT_INTERVAL_MILLIS", "99999999999"},
		{"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "lz4"},
		{"OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "x"},
		// Settings the engine uses, in range for their type but not for flowtel.
		{"OTLP_TRACE_SCHEDULE_DELAY_MILLIS", "0"},
		{"OTLP_TRACE_MAX_EXPORT_BATCH_SIZE", "9223372036854775807"},
		{"OTLP_METRIC_EXPORT_INTERVAL_MILLIS", "0"},
		{"OTEL_EXPORTER_OTLP_TIMEOUT", "86400001"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://h:1"},
		{"OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem"},
	} {
		name, val := c[0], c[1]
		_, err := FromLookup(lookupOf(map[string]string{name: val}))
		if !errors.Is(err, ErrInvalidEnv) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: error %v, want one naming the variable", name, val, err)
			continue
		}
		if strings.Contains(err.Error(), "secret-value") {
			t.Errorf("%s: error %q echoes a header value", name, err)
		}
	}
}

// TestFromLookupNeverEchoesHeaders is a property test: whatever a HEADERS
// variable holds, an error never contains its value.
func TestFromLookupNeverEchoesHeaders(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	const alphabet = "ab=,% \n\t%zz0A:;\"é"
	for i := 0; i < 5000; i++ {
		b := make([]byte, 1+rng.IntN(24))
		for j := range b {
			b[j] = alphabet[rng.IntN(len(alphabet))]
		}
		secret := "S3CR3T" + string(b)
		_, err := FromLookup(lookupOf(map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "k=" + secret}))
		if err != nil && strings.Contains(err.Error(), "S3CR3T") {
			t.Fatalf("error %q echoes the header value", err)
		}
	}
}

// TestFromLookupBatchVariables checks that OpenTelemetry's batch span
// processor and metric reader variables set what the original's do, win
// over them, and that the queue size and export timeouts take effect:
// QueueSpans bounds the exporter, the export timeouts bound the request
// timeouts.
func TestFromLookupBatchVariables(t *testing.T) {
	c, err := FromLookup(lookupOf(map[string]string{
		"OTEL_BSP_MAX_QUEUE_SIZE":           "1000",
		"OTLP_TRACE_MAX_QUEUE_SIZE":         "4096",
		"OTEL_BSP_SCHEDULE_DELAY":           "250",
		"OTEL_BSP_MAX_EXPORT_BATCH_SIZE":    "100",
		"OTEL_BSP_EXPORT_TIMEOUT":           "1500",
		"OTEL_METRIC_EXPORT_INTERVAL":       "60000",
		"OTEL_METRIC_EXPORT_TIMEOUT":        "2000",
		"OTLP_METRIC_EXPORT_TIMEOUT_MILLIS": "4000",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := TraceBatchConfig{MaxQueueSize: 1000, ScheduleDelay: 250 * time.Millisecond, MaxExportBatchSize: 100, ExportTimeout: 1500 * time.Millisecond}
	if c.TraceBatch != want || c.QueueSpans != 1000 {
		t.Errorf("trace batch %+v queue spans %d, want %+v and 1000", c.TraceBatch, c.QueueSpans, want)
	}
	if c.MetricReader != (MetricReaderConfig{ExportInterval: time.Minute, ExportTimeout: 2 * time.Second}) {
		t.Errorf("metric reader %+v", c.MetricReader)
	}
	// The export timeouts bound the original's request timeouts (3 s, 5 s).
	if c.Traces.Timeout != 1500*time.Millisecond || c.Metrics.Timeout != 2*time.Second {
		t.Errorf("timeouts traces %v metrics %v, want 1.5s and 2s", c.Traces.Timeout, c.Metrics.Timeout)
	}
	// The original's names alone, and a longer export timeout that leaves
	// the request timeout as it is.
	c, err = FromLookup(lookupOf(map[string]string{
		"OTLP_TRACE_MAX_QUEUE_SIZE":         "300",
		"OTLP_TRACE_EXPORT_TIMEOUT_MILLIS":  "1000",
		"OTLP_METRIC_EXPORT_TIMEOUT_MILLIS": "60000",
		"OTEL_EXPORTER_OTLP_TIMEOUT":        "7000",
		"OTLP_TRACE_MAX_EXPORT_BATCH_SIZE":  "300",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.QueueSpans != 300 || c.Traces.Timeout != time.Second || c.Metrics.Timeout != 7*time.Second {
		t.Errorf("queue spans %d, timeouts traces %v metrics %v", c.QueueSpans, c.Traces.Timeout, c.Metrics.Timeout)
	}
	// A queue size under the default batch cuts the batch.
	c, err = FromLookup(lookupOf(map[string]string{"OTLP_TRACE_MAX_QUEUE_SIZE": "100"}))
	if err != nil || c.TraceBatch.MaxExportBatchSize != 100 || c.QueueSpans != 100 {
		t.Errorf("queue 100: %v %+v", err, c.TraceBatch)
	}
	// Defaults: no export timeout set, the request timeouts are the
	// original's, the queue bound is 2048 spans.
	c, err = FromLookup(lookupOf(nil))
	if err != nil || c.QueueSpans != 2048 || c.Traces.Timeout != 3*time.Second || c.Metrics.Timeout != 5*time.Second {
		t.Errorf("defaults: %v %d %v %v", err, c.QueueSpans, c.Traces.Timeout, c.Metrics.Timeout)
	}
	wantEnvRefused(t, map[string]string{
		"OTEL_BSP_MAX_QUEUE_SIZE=0":                                          "OTEL_BSP_MAX_QUEUE_SIZE",
		"OTEL_BSP_SCHEDULE_DELAY=soon":                                       "OTEL_BSP_SCHEDULE_DELAY",
		"OTEL_BSP_EXPORT_TIMEOUT=-1":                                         "OTEL_BSP_EXPORT_TIMEOUT",
		"OTEL_METRIC_EXPORT_INTERVAL=0":                                      "OTEL_METRIC_EXPORT_INTERVAL",
		"OTEL_METRIC_EXPORT_TIMEOUT=1e3":                                     "OTEL_METRIC_EXPORT_TIMEOUT",
		"OTEL_BSP_MAX_EXPORT_BATCH_SIZE=4096":                                "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
		"OTLP_TRACE_MAX_EXPORT_BATCH_SIZE=600,OTLP_TRACE_MAX_QUEUE_SIZE=500": "OTLP_TRACE_MAX_QUEUE_SIZE",
	})
}

// TestFromLookupLargeFields checks the large field store variables.
func TestFromLookupLargeFields(t *testing.T) {
	c, err := FromLookup(lookupOf(map[string]string{"FLOWTEL_LARGE_FIELDS_URL": "https://u:pw@store.example/bucket?sig=x"}))
	if err != nil || c.LargeFields.URL != "https://u:pw@store.example/bucket?sig=x" {
		t.Errorf("URL: %+v %v", c.LargeFields, err)
	}
	c, err = FromLookup(lookupOf(map[string]string{"FLOWTEL_LARGE_FIELDS_DIR": "/var/lib/flowtel"}))
	if err != nil || c.LargeFields.Dir != "/var/lib/flowtel" {
		t.Errorf("Dir: %+v %v", c.LargeFields, err)
	}
	for _, m := range []map[string]string{
		{"FLOWTEL_LARGE_FIELDS_URL": "ftp://u:pw@store/x"},
		{"FLOWTEL_LARGE_FIELDS_URL": "https://u:pw@store/x", "FLOWTEL_LARGE_FIELDS_DIR": "/tmp/x"},
	} {
		_, err := FromLookup(lookupOf(m))
		if !errors.Is(err, ErrInvalidEnv) || !strings.Contains(err.Error(), "FLOWTEL_LARGE_FIELDS_URL") || strings.Contains(err.Error(), "pw") {
			t.Errorf("%v: %v", m, err)
		}
	}
}

// TestFromLookupPerSignalInsecureFalse: a per-signal INSECURE=false takes
// precedence over OTEL_EXPORTER_OTLP_INSECURE=true (or the plaintext the
// original's OTLP_ENDPOINT implies), as every per-signal variable does:
// that signal's scheme-less endpoint uses TLS. It was sent in plaintext.
func TestFromLookupPerSignalInsecureFalse(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		// want: per signal, the gRPC target or HTTP URL and whether TLS is used.
		want   [NumSignals]string
		secure [NumSignals]bool
	}{
		{"grpc, generic endpoint", map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317", "OTEL_EXPORTER_OTLP_INSECURE": "true",
			"OTEL_EXPORTER_OTLP_TRACES_INSECURE": "false",
		}, [NumSignals]string{"collector:4317", "collector:4317", "collector:4317"}, [NumSignals]bool{true, false, false}},
		{"grpc, per-signal endpoint", map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317", "OTEL_EXPORTER_OTLP_INSECURE": "true",
			"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "metrics:4317", "OTEL_EXPORTER_OTLP_METRICS_INSECURE": "false",
		}, [NumSignals]string{"collector:4317", "metrics:4317", "collector:4317"}, [NumSignals]bool{false, true, false}},
		{"original OTLP_ENDPOINT", map[string]string{
			"OTLP_ENDPOINT": "collector:4317", "OTEL_EXPORTER_OTLP_LOGS_INSECURE": "false",
		}, [NumSignals]string{"collector:4317", "collector:4317", "collector:4317"}, [NumSignals]bool{false, false, true}},
		{"http, generic endpoint", map[string]string{
			"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318/base",
			"OTEL_EXPORTER_OTLP_INSECURE": "true", "OTEL_EXPORTER_OTLP_TRACES_INSECURE": "false",
		}, [NumSignals]string{"https://collector:4318/base/v1/traces", "http://collector:4318/base/v1/metrics", "http://collector:4318/base/v1/logs"}, [NumSignals]bool{true, false, false}},
		{"a scheme still decides", map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317", "OTEL_EXPORTER_OTLP_INSECURE": "true",
			"OTEL_EXPORTER_OTLP_TRACES_INSECURE": "false",
		}, [NumSignals]string{"collector:4317", "collector:4317", "collector:4317"}, [NumSignals]bool{false, false, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := FromLookup(lookupOf(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			s, err := c.resolve()
			if err != nil {
				t.Fatal(err)
			}
			for sig := Signal(0); sig < NumSignals; sig++ {
				tg := s.targets[sig]
				got := tg.grpcTarget
				if tg.protocol == ProtocolHTTPProtobuf {
					got = tg.url
				}
				if got != tc.want[sig] || (tg.tls != nil) != tc.secure[sig] {
					t.Errorf("%s: %q tls=%v, want %q tls=%v", sig, got, tg.tls != nil, tc.want[sig], tc.secure[sig])
				}
			}
		})
	}
}

// TestFromLookupOTelBooleans: OpenTelemetry's boolean variables know only
// "true" and "false", in any case; the specification interprets every
// other value as false, so "1" or "yes" must never turn TLS off. They are
// refused by name (the original's own OTLP_ENABLE keeps its wider set).
// "1" meant plaintext before.
func TestFromLookupOTelBooleans(t *testing.T) {
	for _, name := range []string{"OTEL_EXPORTER_OTLP_INSECURE", "OTEL_EXPORTER_OTLP_TRACES_INSECURE"} {
		for v, want := range map[string]bool{"true": true, "TRUE": true, "False": false, "false": false} {
			c, err := FromLookup(lookupOf(map[string]string{name: v, "OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317"}))
			if err != nil {
				t.Fatalf("%s=%s: %v", name, v, err)
			}
			if got := c.Insecure || c.Traces.Insecure; got != want {
				t.Errorf("%s=%s: insecure %v, want %v", name, v, got, want)
			}
		}
		for _, v := range []string{"1", "yes", "on", "0", "no", "off", "enabled"} {
			_, err := FromLookup(lookupOf(map[string]string{name: v}))
			if !errors.Is(err, ErrInvalidEnv) || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%s: %v, want an error naming it", name, v, err)
			}
		}
	}
	for _, v := range []string{"1", "yes", "on", "0", "no", "off"} {
		if _, err := FromLookup(lookupOf(map[string]string{"OTLP_ENABLE": v})); err != nil {
			t.Errorf("OTLP_ENABLE=%s: %v", v, err)
		}
	}
}

// wantEnvRefused reads each environment (NAME=value pairs joined by
// commas) and wants ErrInvalidEnv naming the variable it maps to.
func wantEnvRefused(t *testing.T, cases map[string]string) {
	t.Helper()
	for env, name := range cases {
		m := map[string]string{}
		for _, kv := range strings.Split(env, ",") {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
		if _, err := FromLookup(lookupOf(m)); !errors.Is(err, ErrInvalidEnv) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v, want one naming %s", env, err, name)
		}
	}
}

// A batch size above the default queue, the queue unset, is refused
// naming the variable the user set and the default it exceeds, not a
// queue variable the user never set.
func TestBatchOverDefaultQueueNamesSetVariable(t *testing.T) {
	for _, name := range []string{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "OTLP_TRACE_MAX_EXPORT_BATCH_SIZE"} {
		_, err := FromLookup(lookupOf(map[string]string{name: "4096"}))
		if !errors.Is(err, ErrInvalidEnv) {
			t.Fatalf("%s=4096 without a queue size: %v, want ErrInvalidEnv", name, err)
		}
		msg := err.Error()
		if !strings.Contains(msg, name) || !strings.Contains(msg, "2048") {
			t.Errorf("%s=4096: %q does not name the variable and the default queue size", name, msg)
		}
		for _, unset := range []string{"OTLP_TRACE_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_QUEUE_SIZE"} {
			if strings.Contains(msg, unset+")") || strings.Contains(msg, "("+unset) {
				t.Errorf("%s=4096: %q names %s as if it were set", name, msg, unset)
			}
		}
	}
	// Both set: the queue's variable is named.
	_, err := FromLookup(lookupOf(map[string]string{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "4096", "OTEL_BSP_MAX_QUEUE_SIZE": "1000"}))
	if err == nil || !strings.Contains(err.Error(), "OTEL_BSP_MAX_QUEUE_SIZE") {
		t.Errorf("batch 4096 over OTEL_BSP_MAX_QUEUE_SIZE=1000: %v", err)
	}
}
