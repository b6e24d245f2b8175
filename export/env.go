package export

import (
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// The original system's defaults for its own variables (SPEC.md).
const (
	defaultTraceTimeout       = 3000 * time.Millisecond
	defaultTraceMaxQueue      = 2048
	defaultTraceScheduleDelay = 3000 * time.Millisecond
	defaultTraceMaxBatch      = 512
	defaultTraceExportTimeout = 3000 * time.Millisecond
	defaultMetricTimeout      = 5000 * time.Millisecond
	defaultMetricInterval     = 3000 * time.Millisecond
	defaultMetricExportTO     = 5000 * time.Millisecond
)

// FromEnv returns the Config described by the process environment. See the
// package documentation for the variables and their precedence.
func FromEnv() (Config, error) { return FromLookup(os.LookupEnv) }

// FromLookup is FromEnv reading variables through lookup (os.LookupEnv in
// FromEnv), so tests need not touch the process environment. An invalid
// value is an error that wraps ErrInvalidEnv and names the variable; it
// never contains the value of a HEADERS variable.
func FromLookup(lookup func(string) (string, bool)) (Config, error) {
	r := envReader{lookup: lookup}
	var c Config

	c.Enabled = r.boolean("OTLP_ENABLE", true)
	c.Protocol = r.protocol("OTEL_EXPORTER_OTLP_PROTOCOL")
	c.Endpoint = r.str("OTEL_EXPORTER_OTLP_ENDPOINT")
	if c.Endpoint == "" {
		// The original always exported without TLS: a scheme-less
		// OTLP_ENDPOINT keeps meaning plaintext.
		if ep := r.str("OTLP_ENDPOINT"); ep != "" {
			c.Endpoint = ep
			c.Insecure = true
		}
	}
	if _, ok := lookup("OTEL_EXPORTER_OTLP_INSECURE"); ok {
		c.Insecure = r.boolean("OTEL_EXPORTER_OTLP_INSECURE", false)
	}
	c.Headers = r.headers("OTEL_EXPORTER_OTLP_HEADERS")
	c.Compression = r.compression("OTEL_EXPORTER_OTLP_COMPRESSION")
	c.Timeout = r.millis("OTEL_EXPORTER_OTLP_TIMEOUT", 0)
	c.CAFile = r.str("OTEL_EXPORTER_OTLP_CERTIFICATE")
	c.CertFile = r.str("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE")
	c.KeyFile = r.str("OTEL_EXPORTER_OTLP_CLIENT_KEY")

	for sig := Signal(0); sig < NumSignals; sig++ {
		p := "OTEL_EXPORTER_OTLP_" + strings.ToUpper(sig.String()) + "_"
		sc := c.Signal(sig)
		sc.Protocol = r.protocol(p + "PROTOCOL")
		sc.Endpoint = r.str(p + "ENDPOINT")
		sc.Insecure = r.boolean(p+"INSECURE", false)
		sc.Headers = r.headers(p + "HEADERS")
		sc.Compression = r.compression(p + "COMPRESSION")
		sc.Timeout = r.millis(p+"TIMEOUT", 0)
		sc.CAFile = r.str(p + "CERTIFICATE")
		sc.CertFile = r.str(p + "CLIENT_CERTIFICATE")
		sc.KeyFile = r.str(p + "CLIENT_KEY")
	}
	// The original's per-signal timeouts apply when no OTel timeout is set.
	if c.Timeout == 0 {
		if c.Traces.Timeout == 0 {
			c.Traces.Timeout = r.millis("OTLP_TRACE_TIMEOUT", defaultTraceTimeout)
		}
		if c.Metrics.Timeout == 0 {
			c.Metrics.Timeout = r.millis("OTLP_METRIC_TIMEOUT", defaultMetricTimeout)
		}
	}

	c.TraceBatch = TraceBatchConfig{
		MaxQueueSize:       r.positive("OTLP_TRACE_MAX_QUEUE_SIZE", defaultTraceMaxQueue),
		ScheduleDelay:      r.millis("OTLP_TRACE_SCHEDULE_DELAY_MILLIS", defaultTraceScheduleDelay),
		MaxExportBatchSize: r.positive("OTLP_TRACE_MAX_EXPORT_BATCH_SIZE", defaultTraceMaxBatch),
		ExportTimeout:      r.millis("OTLP_TRACE_EXPORT_TIMEOUT_MILLIS", defaultTraceExportTimeout),
	}
	c.MetricReader = MetricReaderConfig{
		ExportInterval: r.millis("OTLP_METRIC_EXPORT_INTERVAL_MILLIS", defaultMetricInterval),
		ExportTimeout:  r.millis("OTLP_METRIC_EXPORT_TIMEOUT_MILLIS", defaultMetricExportTO),
	}

	c.ResourceAttrs = r.list("OTEL_RESOURCE_ATTRIBUTES", false)
	c.ServiceName = r.str("OTEL_SERVICE_NAME")
	if c.ServiceName == "" {
		for _, kv := range c.ResourceAttrs {
			if kv.Key == "service.name" {
				c.ServiceName = kv.Value
			}
		}
	}
	if c.ServiceName == "" {
		c.ServiceName = r.str("SERVICE_NAME")
	}
	if r.err != nil {
		return Config{}, r.err
	}
	return c, nil
}

// envReader reads variables and keeps the first error.
type envReader struct {
	lookup func(string) (string, bool)
	err    error
}

func (r *envReader) fail(name, why string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w %s: %s", ErrInvalidEnv, name, why)
	}
}

// str returns the trimmed value of name, "" when unset.
func (r *envReader) str(name string) string {
	v, _ := r.lookup(name)
	return strings.TrimSpace(v)
}

func (r *envReader) boolean(name string, def bool) bool {
	v := strings.ToLower(r.str(name))
	switch v {
	case "":
		return def
	case "true", "1", "yes", "on":
		return true
	case "false", "0", "no", "off":
		return false
	}
	r.fail(name, fmt.Sprintf("%q is not a boolean", v))
	return def
}

func (r *envReader) protocol(name string) string {
	v := r.str(name)
	switch v {
	case "", ProtocolGRPC, ProtocolHTTPProtobuf:
		return v
	}
	r.fail(name, fmt.Sprintf("protocol %q is not supported (want %q or %q)", v, ProtocolGRPC, ProtocolHTTPProtobuf))
	return ""
}

func (r *envReader) compression(name string) string {
	v := strings.ToLower(r.str(name))
	switch v {
	case "", CompressionGzip, CompressionNone:
		return v
	}
	r.fail(name, fmt.Sprintf("compression %q is not supported (want %q or %q)", v, CompressionGzip, CompressionNone))
	return ""
}

// millis parses a non-negative integer of milliseconds.
func (r *envReader) millis(name string, def time.Duration) time.Duration {
	v := r.str(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > int64(24*time.Hour/time.Millisecond) {
		r.fail(name, fmt.Sprintf("%q is not a number of milliseconds between 0 and 86400000", v))
		return def
	}
	return time.Duration(n) * time.Millisecond
}

func (r *envReader) positive(name string, def int) int {
	v := r.str(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		r.fail(name, fmt.Sprintf("%q is not a positive integer", v))
		return def
	}
	return n
}

// headers parses a HEADERS variable. Its values are credentials: errors
// name the variable and the position, never a value.
func (r *envReader) headers(name string) map[string]string {
	kvs := r.list(name, true)
	if kvs == nil {
		return nil
	}
	h := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		h[kv.Key] = kv.Value
	}
	if err := validateHeaders(h); err != nil {
		r.fail(name, "a header name is not a token or a value holds a control character")
		return nil
	}
	return h
}

// list parses "k1=v1,k2=v2" with percent-encoded values (the W3C Baggage
// format OTel uses for HEADERS and RESOURCE_ATTRIBUTES). Empty members are
// skipped. secret suppresses the offending text in errors.
func (r *envReader) list(name string, secret bool) []KeyValue {
	v := r.str(name)
	if v == "" {
		return nil
	}
	var out []KeyValue
	for i, member := range strings.Split(v, ",") {
		if strings.TrimSpace(member) == "" {
			continue
		}
		k, val, ok := strings.Cut(member, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			r.fail(name, fmt.Sprintf("member %d is not key=value", i+1))
			return nil
		}
		dk, err1 := url.PathUnescape(k)
		dv, err2 := url.PathUnescape(strings.TrimSpace(val))
		if err1 != nil || err2 != nil {
			if secret {
				r.fail(name, fmt.Sprintf("member %d holds an invalid percent-encoding", i+1))
			} else {
				r.fail(name, fmt.Sprintf("member %d (%q) holds an invalid percent-encoding", i+1, member))
			}
			return nil
		}
		out = append(out, KeyValue{Key: dk, Value: dv})
	}
	return out
}
