package export

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// The original system's defaults for its own variables (docs/original.md).
const (
	defaultTraceTimeout       = 3000 * time.Millisecond
	defaultTraceMaxQueue      = 2048
	defaultTraceScheduleDelay = 3000 * time.Millisecond
	defaultTraceMaxBatch      = 512
	defaultTraceExportTimeout = 3000 * time.Millisecond
	defaultMetricTimeout      = 5000 * time.Millisecond
	defaultMetricInterval     = 3000 * time.Millisecond
	defaultMetricExportTO     = 5000 * time.Millisecond

	// maxTraceBatch bounds OTLP_TRACE_MAX_EXPORT_BATCH_SIZE: at 64 bytes
	// or more a span, a larger batch cannot fit DefaultMaxRequestBytes.
	maxTraceBatch = 1 << 16
	// maxTraceQueue bounds OTLP_TRACE_MAX_QUEUE_SIZE, a count of spans.
	maxTraceQueue = 1 << 24
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
	switch v := strings.ToLower(r.str("OTEL_LOGS_EXPORTER")); v {
	case "", "otlp":
	case "none":
		c.NoLogs = true
	default:
		r.fail("OTEL_LOGS_EXPORTER", fmt.Sprintf("%q is not supported: flowtel exports run logs over OTLP only (none turns them off)", v))
	}
	c.Protocol = r.protocol("OTEL_EXPORTER_OTLP_PROTOCOL")
	c.Endpoint = r.endpoint("OTEL_EXPORTER_OTLP_ENDPOINT")
	// originalPlain: the plaintext of Insecure is OTLP_ENDPOINT's alone.
	originalPlain := false
	if c.Endpoint == "" {
		// The original always exported without TLS: a scheme-less
		// OTLP_ENDPOINT keeps meaning plaintext.
		if ep := r.endpoint("OTLP_ENDPOINT"); ep != "" {
			c.Endpoint = ep
			c.Insecure, originalPlain = true, true
		}
	}
	// Set and not empty (empty is unset, as for every variable), it
	// decides over OTLP_ENDPOINT's plaintext.
	if r.str("OTEL_EXPORTER_OTLP_INSECURE") != "" {
		c.Insecure = r.otelBoolean("OTEL_EXPORTER_OTLP_INSECURE")
		originalPlain = false
	}
	c.Headers = r.headers("OTEL_EXPORTER_OTLP_HEADERS")
	c.Compression = r.compression("OTEL_EXPORTER_OTLP_COMPRESSION")
	c.Timeout = r.otelTimeout("OTEL_EXPORTER_OTLP_TIMEOUT")
	c.CAFile = r.file("OTEL_EXPORTER_OTLP_CERTIFICATE")
	c.CertFile = r.file("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE")
	c.KeyFile = r.file("OTEL_EXPORTER_OTLP_CLIENT_KEY")

	for sig := Signal(0); sig < NumSignals; sig++ {
		p := "OTEL_EXPORTER_OTLP_" + strings.ToUpper(sig.String()) + "_"
		sc := c.Signal(sig)
		sc.Protocol = r.protocol(p + "PROTOCOL")
		sc.Endpoint = r.endpoint(p + "ENDPOINT")
		sc.Insecure = r.otelBoolean(p + "INSECURE")
		sc.Headers = r.headers(p + "HEADERS")
		sc.Compression = r.compression(p + "COMPRESSION")
		sc.Timeout = r.otelTimeout(p + "TIMEOUT")
		sc.CAFile = r.file(p + "CERTIFICATE")
		sc.CertFile = r.file(p + "CLIENT_CERTIFICATE")
		sc.KeyFile = r.file(p + "CLIENT_KEY")
		// A per-signal INSECURE=false keeps TLS for the signal; so does
		// a per-signal endpoint beside OTLP_ENDPOINT, whose plaintext is
		// its own, when its INSECURE is unset (the specification's TLS).
		if c.Insecure && !sc.Insecure && (r.str(p+"INSECURE") != "" || originalPlain && sc.Endpoint != "") {
			// A Unix socket target has no scheme to carry TLS, and
			// Config cannot take plaintext away per signal.
			switch why := " cannot take TLS beside OTLP_ENDPOINT's or OTEL_EXPORTER_OTLP_INSECURE's plaintext: set " + p + "INSECURE=true for plaintext"; {
			case unixTarget(sc.Endpoint):
				r.fail(p+"ENDPOINT", "a Unix socket target"+why)
			case sc.Endpoint == "" && unixTarget(c.Endpoint):
				r.fail(p+"INSECURE", "OTEL_EXPORTER_OTLP_ENDPOINT's Unix socket target"+why+", or give the signal its own endpoint")
			default:
				sc.Endpoint = secureEndpoint(sig, sc, &c)
			}
		}
	}
	// Headers follow the rules of the protocol they are sent with: check
	// them against it here, so that the error names the variable.
	for sig := Signal(0); sig < NumSignals; sig++ {
		sc := c.Signal(sig)
		h, name := c.Headers, "OTEL_EXPORTER_OTLP_HEADERS"
		if sc.Headers != nil {
			h, name = sc.Headers, "OTEL_EXPORTER_OTLP_"+strings.ToUpper(sig.String())+"_HEADERS"
		}
		protocol := firstNonEmpty(firstNonEmpty(sc.Protocol, c.Protocol), ProtocolGRPC)
		for k := range h {
			if badHeaderName(k, protocol) {
				r.fail(name, fmt.Sprintf("a header name holds a character %s does not allow in one (the name is not printed: it may be a misplaced credential)", protocol))
			}
		}
		if err := validateHeaders(h, protocol); err != nil {
			r.fail(name, strings.TrimPrefix(err.Error(), "export: "))
		}
	}
	r.tlsFiles(&c)
	// The original's per-signal timeouts apply when no OTel timeout is set.
	if c.Timeout == 0 {
		if c.Traces.Timeout == 0 {
			c.Traces.Timeout = r.millis("OTLP_TRACE_TIMEOUT", defaultTraceTimeout)
		}
		if c.Metrics.Timeout == 0 {
			c.Metrics.Timeout = r.millis("OTLP_METRIC_TIMEOUT", defaultMetricTimeout)
		}
	}

	// OpenTelemetry's batch span processor and metric reader variables
	// (OTEL_BSP_*, OTEL_METRIC_EXPORT_*) set the same settings as the
	// original's OTLP_TRACE_* and OTLP_METRIC_*, and win when both are set.
	queueVar := r.either("OTEL_BSP_MAX_QUEUE_SIZE", "OTLP_TRACE_MAX_QUEUE_SIZE")
	batchVar := r.either("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "OTLP_TRACE_MAX_EXPORT_BATCH_SIZE")
	traceExportVar := r.either("OTEL_BSP_EXPORT_TIMEOUT", "OTLP_TRACE_EXPORT_TIMEOUT_MILLIS")
	metricExportVar := r.either("OTEL_METRIC_EXPORT_TIMEOUT", "OTLP_METRIC_EXPORT_TIMEOUT_MILLIS")
	c.TraceBatch = TraceBatchConfig{
		MaxQueueSize:       r.positive(queueVar, defaultTraceMaxQueue, maxTraceQueue),
		ScheduleDelay:      r.positiveMillis(r.either("OTEL_BSP_SCHEDULE_DELAY", "OTLP_TRACE_SCHEDULE_DELAY_MILLIS"), defaultTraceScheduleDelay),
		MaxExportBatchSize: r.positive(batchVar, defaultTraceMaxBatch, maxTraceBatch),
		ExportTimeout:      r.positiveMillis(traceExportVar, defaultTraceExportTimeout),
	}
	c.MetricReader = MetricReaderConfig{
		ExportInterval: r.positiveMillis(r.either("OTEL_METRIC_EXPORT_INTERVAL", "OTLP_METRIC_EXPORT_INTERVAL_MILLIS"), defaultMetricInterval),
		ExportTimeout:  r.positiveMillis(metricExportVar, defaultMetricExportTO),
	}
	// The batch log record processor's variables (OTEL_BLRP_*): a run's
	// trace log leaves with its spans, in the same batches, queue and
	// schedule, one log record a run (so never more records than spans),
	// so each bounds the setting both share when it is set: the smaller
	// value wins. Unset, the trace settings alone apply. Its export
	// timeout bounds the logs' export timeout as OTEL_BSP_EXPORT_TIMEOUT
	// bounds the traces'.
	if d := r.positiveMillis("OTEL_BLRP_SCHEDULE_DELAY", 0); d != 0 {
		c.TraceBatch.ScheduleDelay = min(c.TraceBatch.ScheduleDelay, d)
	}
	if n := r.positive("OTEL_BLRP_MAX_QUEUE_SIZE", 0, maxTraceQueue); n != 0 && n < c.TraceBatch.MaxQueueSize {
		c.TraceBatch.MaxQueueSize, queueVar = n, "OTEL_BLRP_MAX_QUEUE_SIZE"
	}
	if n := r.positive("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", 0, maxTraceBatch); n != 0 && n < c.TraceBatch.MaxExportBatchSize {
		c.TraceBatch.MaxExportBatchSize, batchVar = n, "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE"
	}
	if d := r.positiveMillis("OTEL_BLRP_EXPORT_TIMEOUT", 0); d != 0 {
		c.Logs.Timeout = min(firstNonZero(c.Logs.Timeout, c.Timeout, DefaultTimeout), d)
	}
	// A batch larger than the queue: refused when both are set, the
	// default batch cut to a smaller queue size.
	if b, q := c.TraceBatch.MaxExportBatchSize, c.TraceBatch.MaxQueueSize; b > q {
		if r.str(batchVar) != "" {
			// The queue's variable is named only when set: unset, the
			// default is what the batch exceeds.
			from := queueVar
			if r.str(queueVar) == "" {
				from = "the default; OTEL_BSP_MAX_QUEUE_SIZE raises it"
			}
			r.fail(batchVar, fmt.Sprintf("%d spans per batch is more than the queue's %d (%s)", b, q, from))
		} else {
			c.TraceBatch.MaxExportBatchSize = q
		}
	}
	// The queue size bounds the spans the exporter holds, as the batch
	// span processor's queue did.
	c.QueueSpans = c.TraceBatch.MaxQueueSize
	// An export timeout bounds the export timeout of its signal when it
	// is set (its default is the original's exporter timeout).
	if r.str(traceExportVar) != "" {
		c.Traces.Timeout = min(firstNonZero(c.Traces.Timeout, c.Timeout, DefaultTimeout), c.TraceBatch.ExportTimeout)
	}
	if r.str(metricExportVar) != "" {
		c.Metrics.Timeout = min(firstNonZero(c.Metrics.Timeout, c.Timeout, DefaultTimeout), c.MetricReader.ExportTimeout)
	}

	c.LargeFields = r.largeFields()
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

// secureEndpoint returns the endpoint of sig when its INSECURE variable
// says false and OTEL_EXPORTER_OTLP_INSECURE (or OTLP_ENDPOINT) says
// plaintext: the per-signal variable takes precedence, as every one does,
// but Config can only add insecurity per signal, so a scheme-less endpoint
// is given the https:// scheme here. The generic endpoint becomes the
// signal's own, with the signal's path for HTTP as resolve would append
// it. An endpoint with a scheme, or none at all, is returned unchanged.
func secureEndpoint(sig Signal, sc *SignalConfig, c *Config) string {
	if sc.Endpoint != "" {
		if strings.Contains(sc.Endpoint, "://") {
			return sc.Endpoint
		}
		return "https://" + sc.Endpoint
	}
	if c.Endpoint == "" || strings.Contains(c.Endpoint, "://") {
		return ""
	}
	u, _, err := parseEndpoint(c.Endpoint, false)
	if err != nil {
		return "" // reported for OTEL_EXPORTER_OTLP_ENDPOINT already
	}
	if firstNonEmpty(sc.Protocol, c.Protocol) == ProtocolHTTPProtobuf {
		appendSignalPath(u, sig)
	}
	return u.String()
}

// envReader reads variables and keeps the first error.
type envReader struct {
	lookup func(string) (string, bool)
	err    error
}

// fail records that name is invalid, for the reason why, unless an error
// was recorded before. A value put in the wrong variable may hold an
// endpoint's credentials: its user information and query values are
// redacted from why.
func (r *envReader) fail(name, why string) {
	if r.err != nil {
		return
	}
	v, _ := r.lookup(name)
	v = strings.TrimSpace(v)
	if !strings.Contains(v, "://") {
		v = "http://" + v
	}
	if u, err := url.Parse(v); err == nil {
		why = newRedactor(nil, u).string(why)
	}
	r.err = fmt.Errorf("%w %s: %s", ErrInvalidEnv, name, why)
}

// either returns otel when it is set (not empty), else orig: the name of
// the variable that gives a setting both name.
func (r *envReader) either(otel, orig string) string {
	if r.str(otel) != "" {
		return otel
	}
	return orig
}

func firstNonZero(ds ...time.Duration) time.Duration {
	for _, d := range ds {
		if d != 0 {
			return d
		}
	}
	return 0
}

// str returns the trimmed value of name, "" when unset.
func (r *envReader) str(name string) string {
	v, _ := r.lookup(name)
	return strings.TrimSpace(v)
}

// otelBoolean reads an OpenTelemetry boolean variable (default false):
// "true" or "false" in any case. The specification reads every other value
// as false, so that "1" or "yes" cannot turn TLS off; one is refused here,
// with the variable named, rather than read differently from the user's
// intent.
func (r *envReader) otelBoolean(name string) bool {
	switch v := strings.ToLower(r.str(name)); v {
	case "true":
		return true
	case "", "false":
		return false
	default:
		r.fail(name, fmt.Sprintf("%q is not true or false", v))
		return false
	}
}

// boolean reads one of the original's boolean variables, which also took
// 1, yes, on and 0, no, off.
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

// protocol reads a PROTOCOL variable, an enum: any case, as the
// specification reads enums.
func (r *envReader) protocol(name string) string {
	v := strings.ToLower(r.str(name))
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

// millis parses an integer of milliseconds from 0 (the default) to
// MaxDuration.
func (r *envReader) millis(name string, def time.Duration) time.Duration {
	return r.millisFrom(name, def, 0)
}

// otelTimeout reads an OTEL_EXPORTER_OTLP_*TIMEOUT: milliseconds from 1
// to MaxDuration, 0 if unset. A 0 is refused: OpenTelemetry Go reads it
// as no timeout, and flowtel bounds every export.
func (r *envReader) otelTimeout(name string) time.Duration {
	if v := r.str(name); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n == 0 {
			r.fail(name, fmt.Sprintf("%q: flowtel bounds every export (OpenTelemetry Go reads 0 as no timeout); give milliseconds from 1 to %d", v, int64(MaxDuration/time.Millisecond)))
			return 0
		}
	}
	return r.positiveMillis(name, 0)
}

// positiveMillis parses an integer of milliseconds from 1 to MaxDuration.
func (r *envReader) positiveMillis(name string, def time.Duration) time.Duration {
	return r.millisFrom(name, def, 1)
}

func (r *envReader) millisFrom(name string, def time.Duration, least int64) time.Duration {
	v := r.str(name)
	if v == "" {
		return def
	}
	most := int64(MaxDuration / time.Millisecond)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < least || n > most {
		r.fail(name, fmt.Sprintf("%q is not a number of milliseconds from %d to %d", v, least, most))
		return def
	}
	return time.Duration(n) * time.Millisecond
}

// positive parses an integer from 1 to most.
func (r *envReader) positive(name string, def, most int) int {
	v := r.str(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 || n > most {
		r.fail(name, fmt.Sprintf("%q is not an integer from 1 to %d", v, most))
		return def
	}
	return n
}

// endpoint returns the value of name, checked to be a URL or host:port.
// The value may hold credentials: the error prints it redacted
// (RedactURL), or not at all when it has no URL's shape (errMalformed):
// it may be a header pasted into the wrong variable.
func (r *envReader) endpoint(name string) string {
	v := r.str(name)
	if v == "" {
		return ""
	}
	if _, _, err := parseEndpoint(v, true); err != nil {
		if errors.Is(err, errMalformed) {
			r.fail(name, fmt.Sprintf("%v (the value is not printed: it may be a misplaced credential)", err))
		} else {
			r.fail(name, fmt.Sprintf("%s is not a URL or host:port: %v", RedactURL(v), err))
		}
		return ""
	}
	return v
}

// file returns the value of name, checked to be a readable regular file:
// opening a named pipe would wait for a writer, and a device would be
// read without end when the TLS configuration is loaded.
func (r *envReader) file(name string) string {
	v := r.str(name)
	if v == "" {
		return ""
	}
	if pemData(v) {
		r.fail(name, errPEMData.Error())
		return ""
	}
	if err := regularFile(v); err != nil {
		r.fail(name, fmt.Sprintf("cannot read %q: %v", v, err))
		return ""
	}
	f, err := os.Open(v)
	if err != nil {
		r.fail(name, fmt.Sprintf("cannot read %q: %v", v, errors.Unwrap(err)))
		return ""
	}
	f.Close()
	return v
}

// headers parses a HEADERS variable. Its values are credentials: errors
// name the variable and the position, never a value. A value is trimmed
// of spaces and tabs after it is percent-decoded, as OTel Go trims it:
// "%20abcd%20" is "abcd", which gRPC sent with its spaces; an encoded
// control character (%0A) is still refused, not trimmed away.
func (r *envReader) headers(name string) map[string]string {
	kvs := r.list(name, true)
	if kvs == nil {
		return nil
	}
	h := make(map[string]string, len(kvs))
	first := make(map[string]int, len(kvs)) // a lower-case name's member
	for i, kv := range kvs {
		if badHeaderName(kv.Key, ProtocolHTTPProtobuf) {
			// A credential pasted without its "Authorization=" is the
			// name ("Basic dXNl...=="): it is not printed.
			r.fail(name, fmt.Sprintf("member %d: the name is not a header name (an HTTP token; the name is not printed: it may be a misplaced credential)", i+1))
			return nil
		}
		// A base64 credential pasted without its header name
		// ("dG9rZW4=") reads as a name and an empty value, or "=":
		// the name, which is most of the credential, would be sent
		// and printed (String, MarshalJSON) as a header's name. An
		// empty header is worth nothing to a receiver: refused, the
		// member not printed.
		if strings.Trim(kv.Value, "=") == "" {
			r.fail(name, fmt.Sprintf("member %d: the value is empty or only '=' (the member is not printed: a base64 credential pasted without its header name reads so)", i+1))
			return nil
		}
		// A name given twice (in any case) is refused, not the last
		// value kept: which one the user meant is not known.
		if j, dup := first[strings.ToLower(kv.Key)]; dup {
			r.fail(name, fmt.Sprintf("members %d and %d both name header %q", j+1, i+1, kv.Key))
			return nil
		}
		first[strings.ToLower(kv.Key)] = i
		h[kv.Key] = strings.Trim(kv.Value, " \t")
	}
	if err := validateHeaders(h, ProtocolHTTPProtobuf); err != nil {
		r.fail(name, strings.TrimPrefix(err.Error(), "export: "))
		return nil
	}
	return h
}

// list parses "k1=v1,k2=v2" with percent-encoded values (the W3C Baggage
// format OTel uses for HEADERS and RESOURCE_ATTRIBUTES). A key is taken
// as written, not decoded: in that format a key is a token, and OTel Go
// decodes values only ("x%2Dtenant" names header "x%2Dtenant" there).
// Empty members are skipped. secret suppresses the offending text in
// errors.
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
		dv, err := url.PathUnescape(strings.TrimSpace(val))
		if err != nil {
			if secret {
				r.fail(name, fmt.Sprintf("member %d holds an invalid percent-encoding", i+1))
			} else {
				r.fail(name, fmt.Sprintf("member %d (%q) holds an invalid percent-encoding", i+1, member))
			}
			return nil
		}
		out = append(out, KeyValue{Key: k, Value: dv})
	}
	return out
}

// largeFields reads the FLOWTEL_LARGE_FIELDS_* variables. A value of 0 is
// refused (it would be a budget, queue or concurrency of nothing); an
// invalid combination names the variable as LargeFieldConfig.Validate
// names the field.
func (r *envReader) largeFields() LargeFieldConfig {
	c := LargeFieldConfig{
		Disabled:    r.boolean("FLOWTEL_LARGE_FIELDS_DISABLED", false),
		Dir:         r.str("FLOWTEL_LARGE_FIELDS_DIR"),
		URL:         r.str("FLOWTEL_LARGE_FIELDS_URL"),
		Headers:     r.headers("FLOWTEL_LARGE_FIELDS_HEADERS"),
		MaxBytes:    int64(r.positive("FLOWTEL_LARGE_FIELDS_MAX_BYTES", 0, min(maxLargeFieldMaxBytes, math.MaxInt))),
		MaxFiles:    r.positive("FLOWTEL_LARGE_FIELDS_MAX_FILES", 0, maxLargeFieldMaxFiles),
		Timeout:     r.positiveMillis("FLOWTEL_LARGE_FIELDS_TIMEOUT", 0),
		Concurrency: r.positive("FLOWTEL_LARGE_FIELDS_CONCURRENCY", 0, MaxConcurrency),
		QueueBytes:  int64(r.positive("FLOWTEL_LARGE_FIELDS_QUEUE_BYTES", 0, maxLargeFieldQueue)),
	}
	if field, why := c.check(); field != "" {
		r.fail(largeFieldVars[field], why)
	}
	return c
}

// tlsFiles loads the TLS files of each signal that uses TLS, as New
// does, so that a file that is no PEM certificate, or a client
// certificate without its key, is refused naming the variable that gave
// it, where New names Config's field. A signal without TLS (an http://
// endpoint) leaves its files unread, as New does. Only paths are
// printed: a key's content never is.
func (r *envReader) tlsFiles(c *Config) {
	if r.err != nil {
		return
	}
	for sig := Signal(0); sig < NumSignals; sig++ {
		if _, err := c.resolveTarget(sig); !errors.Is(err, ErrTLS) {
			continue // no TLS, or loaded; another error is New's to report
		}
		sc := c.Signal(sig)
		p := "OTEL_EXPORTER_OTLP_" + strings.ToUpper(sig.String()) + "_"
		pick := func(per, general, name string) (string, string) {
			if per != "" {
				return per, p + name
			}
			return general, "OTEL_EXPORTER_OTLP_" + name
		}
		ca, caVar := pick(sc.CAFile, c.CAFile, "CERTIFICATE")
		cert, certVar := pick(sc.CertFile, c.CertFile, "CLIENT_CERTIFICATE")
		key, keyVar := pick(sc.KeyFile, c.KeyFile, "CLIENT_KEY")
		why := func(err error) string { return strings.TrimPrefix(err.Error(), "export: ") }
		if _, err := loadTLS(ca, "", ""); err != nil {
			r.fail(caVar, why(err))
			return
		}
		switch {
		case cert != "" && key == "":
			r.fail(certVar, fmt.Sprintf("a client certificate without a client key for %s (neither %sCLIENT_KEY nor OTEL_EXPORTER_OTLP_CLIENT_KEY): a client certificate and its key go together", sig, p))
		case cert == "" && key != "":
			r.fail(keyVar, fmt.Sprintf("a client key without a client certificate for %s (neither %sCLIENT_CERTIFICATE nor OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE): a client certificate and its key go together", sig, p))
		default:
			if _, err := loadTLS("", cert, key); err != nil {
				r.fail(certVar, fmt.Sprintf("%s (with the key of %s)", why(err), keyVar))
			}
		}
		return
	}
}

// badHeaderName reports whether k holds a character that a header name
// of protocol may not (validateHeader's character rule, whose error
// prints the name).
func badHeaderName(k, protocol string) bool {
	for i := 0; i < len(k); i++ {
		if !isTokenChar(k[i]) || protocol == ProtocolGRPC && !isMetadataKeyChar(k[i]) {
			return true
		}
	}
	return false
}
