package export

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/bytebufferpool"
	"golang.org/x/net/idna"
)

// The protocols an exporter speaks (OTEL_EXPORTER_OTLP_PROTOCOL values).
const (
	ProtocolGRPC         = "grpc"
	ProtocolHTTPProtobuf = "http/protobuf"
)

// The compressions an exporter applies (OTEL_EXPORTER_OTLP_COMPRESSION values).
const (
	CompressionNone = "none"
	CompressionGzip = "gzip"
)

// The defaults that a zero Config stands for. Retry defaults are the OTel
// exporter defaults (5 s initial, 30 s max interval, 1 min max elapsed).
const (
	DefaultGRPCEndpoint     = "http://localhost:4317"
	DefaultHTTPEndpoint     = "http://localhost:4318"
	DefaultTimeout          = 10 * time.Second
	DefaultQueueBytes       = 64 << 20
	DefaultQueueBatches     = 4096
	DefaultConcurrency      = 2
	DefaultBlockTimeout     = time.Second
	DefaultRetryInitial     = 5 * time.Second
	DefaultRetryMaxInterval = 30 * time.Second
	DefaultRetryMaxElapsed  = time.Minute
	// DefaultMaxRequestBytes is 4 MiB less 64 KiB: under the 4 MiB that
	// gRPC servers (the OTel Collector's included) accept by default, with
	// room for what a proxy on the way adds.
	DefaultMaxRequestBytes = 4<<20 - 64<<10
	// DefaultCoalesceBytes is how large a request the exporter makes of
	// queued batches of one signal (either protocol): 512 KiB, about 700
	// spans of 700 bytes. Larger requests gained nothing on loopback
	// (BenchmarkTransport: 2,048 spans a request cost as much CPU per span
	// as 512), and a batch that waits for a larger one waits longer.
	DefaultCoalesceBytes = 512 << 10
	// MaxResponseBytes bounds the response body the exporter reads, over
	// either protocol: an Export*ServiceResponse (a partial success and
	// its message) or, over HTTP, an error's google.rpc.Status. A larger
	// response to a success counts the request as exported (the receiver
	// took it) and is reported once per signal, as one that does not
	// decode; a larger error body is read up to the bound.
	MaxResponseBytes          = 1 << 20
	maxErrorMessageBytes      = 512
	defaultGRPCConnectTimeout = 20 * time.Second
)

// The bounds of Config's fields, each with its reason. New refuses a value
// outside them with an error naming the field.
const (
	// MaxDuration bounds every duration (timeouts, retry intervals, block
	// timeout): a day is longer than any useful export wait, and keeps the
	// deadline and backoff arithmetic far from overflowing.
	MaxDuration = 24 * time.Hour
	// MaxQueueBatches bounds QueueBatches: New allocates the queue's ring
	// of batch slots (32 bytes each) up front, 32 MiB at this bound.
	MaxQueueBatches = 1 << 20
	// MaxConcurrency bounds Concurrency: each is a goroutine and a request
	// in flight at the receiver.
	MaxConcurrency = 1024
	// MaxMaxRequestBytes bounds MaxRequestBytes: protobuf messages are
	// smaller than 2 GiB.
	MaxMaxRequestBytes = 1<<31 - 1
)

// Sentinel errors returned (wrapped, with the values that matter) by New and
// FromLookup.
var (
	ErrInvalidProtocol    = errors.New("export: invalid protocol")
	ErrInvalidCompression = errors.New("export: invalid compression")
	ErrInvalidEndpoint    = errors.New("export: invalid endpoint")
	ErrInvalidHeader      = errors.New("export: invalid header")
	ErrInvalidConfig      = errors.New("export: invalid configuration")
	ErrTLS                = errors.New("export: cannot load TLS configuration")
	ErrInvalidEnv         = errors.New("export: invalid environment variable")
	ErrNotStarted         = errors.New("export: not made by New (a zero value)")
)

// Config configures an Exporter. Its zero value means: OTLP/gRPC to
// http://localhost:4317 without TLS, no compression, 10 s per request,
// a 64 MiB / 4096-batch queue, 2 concurrent exports, OTel retry defaults,
// drop the newest batch when the queue is full.
type Config struct {
	// Protocol is "grpc" (default) or "http/protobuf".
	Protocol string
	// Endpoint is host:port or a URL. An http:// URL means no TLS, https://
	// means TLS; without a scheme, Insecure decides. OTLP/gRPC also takes a
	// Unix domain socket (unix:path, unix:///path, unix-abstract:name; TLS
	// unless Insecure). For HTTP, /v1/<signal>
	// is appended to the path of this generic endpoint. User information
	// (http://user:pass@host) is sent as HTTP basic authentication, over
	// gRPC too (as "authorization" metadata), unless Headers hold an
	// Authorization header. An IPv6 address may carry a zone
	// (https://[fe80::1%25eth0]:4318): it picks the interface dialled, and
	// TLS verifies the address without it.
	Endpoint string
	// Insecure disables TLS for an endpoint without a scheme.
	Insecure bool
	// CAFile is a PEM file of root certificates to verify the receiver
	// with; empty means the system roots. Verification is never disabled.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and key (mTLS).
	// Each of the three is a path: PEM data given instead (a key pasted
	// here) is refused, and never printed.
	CertFile, KeyFile string
	// Headers are sent with every request (gRPC metadata or HTTP headers).
	// Names are HTTP tokens (for gRPC also lower-case-able metadata keys,
	// not grpc-*, te or content-type; for HTTP not the headers the
	// transport writes: Content-Type, Content-Encoding, Content-Length,
	// Transfer-Encoding and the hop-by-hop ones). Over HTTP a Host header
	// is the request's host; over either protocol a User-Agent replaces
	// flowtel's (gRPC appends its own product to either). Values
	// are printable ASCII (HTTP also
	// allows tabs; a gRPC key ending in -bin takes any bytes), and a name
	// appears once whatever its case. New refuses any other, naming the
	// header (a name that is no HTTP token by its length and first bad
	// character: it may be a whole header line, "Authorization: Bearer
	// <token>"). Values are never printed, nor are an
	// endpoint's user information and query values: they are replaced by
	// "REDACTED" in every error.
	Headers map[string]string
	// Compression is "gzip", "none" or "" (none).
	Compression string
	// Timeout bounds the export of a batch: every attempt and every wait
	// before a retry, from its first attempt (OTEL_EXPORTER_OTLP_TIMEOUT's
	// meaning in the OpenTelemetry specification); 0 means 10 s.
	Timeout time.Duration

	// Traces, Metrics and Logs override the fields above per signal.
	Traces, Metrics, Logs SignalConfig

	// QueueBytes bounds the encoded bytes held (queued or being exported),
	// all signals together; 0 means 64 MiB. A caller that waits for room
	// (Block) at saturation fills it, and its buffers are then that many
	// bytes: the loadgen's -block runs allocate about QueueBytes of new
	// buffers once (8 MiB: 48 of its 181 KB requests; 64 MiB: 234 to 371,
	// in runs of 3 to 12 s alike), not a share of every second, as the
	// buffers come back to the caller's pool when sent.
	QueueBytes int64
	// QueueBatches bounds the number of batches queued; 0 means 4096.
	QueueBatches int
	// QueueSpans bounds the spans queued or being exported (the batch
	// span processor's queue size, OTLP_TRACE_MAX_QUEUE_SIZE); 0 means no
	// bound but QueueBytes. A trace batch that would pass it waits or is
	// dropped as DropQueueFull like one that would pass QueueBytes; a batch
	// larger than QueueSpans is taken when no span is held.
	QueueSpans int
	// Concurrency is the number of concurrent exports; 0 means 2.
	Concurrency int
	// MaxRequestBytes bounds the encoded size of one request: Enqueue
	// splits a larger batch into requests that fit, and drops an item that
	// alone does not (DropTooLarge), which the receiver would refuse
	// anyway. 0 means DefaultMaxRequestBytes.
	MaxRequestBytes int64
	// CoalesceBytes bounds the requests an export (either protocol) makes of
	// several queued batches: a worker taking a batch from the queue takes
	// the batches of the same signal among the next 8 queued into the same
	// request (without copying them) while together they are at most
	// CoalesceBytes. 0 means DefaultCoalesceBytes (at most MaxRequestBytes);
	// -1 sends each batch alone. A coalesced request that fails with a
	// retryable error is sent again whole; one refused for good is
	// sent again batch by batch at once, so that only a batch refused
	// alone is dropped.
	CoalesceBytes int64
	// Retry configures retries of retryable failures.
	Retry RetryConfig
	// Block makes Enqueue wait up to BlockTimeout (0 means 1 s) for room
	// instead of dropping the newest batch.
	Block        bool
	BlockTimeout time.Duration
	// ErrorHandler receives export failures, partial successes and drops
	// after the first attempt. It is called from export goroutines and must
	// not block for long. Nil discards.
	ErrorHandler func(error)

	// Release returns a buffer given to Enqueue once it is sent or
	// dropped, to the pool it came from. Nil means bytebufferpool.Put.
	// Over OTLP/HTTP a buffer that a failed attempt carried is not
	// returned: the transport may still read it after the attempt gave
	// up, so the garbage collector takes it. Over OTLP/gRPC every buffer
	// is returned once gRPC has freed it too, which may be after the
	// attempt returned, from gRPC's writer goroutine (at the latest while
	// Shutdown closes the connection; one gRPC stopped writing to goes to
	// the garbage collector).
	Release func(*bytebufferpool.ByteBuffer)

	// The fields below are not used by New: FromEnv fills them for the
	// engine, which owns resources, batching and the metric reader.

	// Enabled is OTLP_ENABLE (default true when FromEnv is used). Only
	// otlp.NewFromEnv reads it, building an engine that sends nothing when
	// it is false; New and otlp.New export whatever it says, so that a
	// Config literal without it still sends.
	Enabled bool
	// NoLogs turns the run trace logs off: otlp.New exports traces and
	// metrics only, for a receiver without an OTLP logs service (Jaeger
	// refuses every log request, and each refused run log is counted
	// dropped, which ForceFlush and Shutdown report with ErrDropped). The
	// run logs not sent are counted as sampled out (otlp.Sink's
	// RunLogsSampledOut), not as dropped. It is OTEL_LOGS_EXPORTER=none,
	// OpenTelemetry's "no exporter for logs".
	NoLogs bool
	// ServiceName is OTEL_SERVICE_NAME, else service.name from
	// OTEL_RESOURCE_ATTRIBUTES, else SERVICE_NAME.
	ServiceName string
	// ResourceAttrs are OTEL_RESOURCE_ATTRIBUTES in their order, decoded.
	ResourceAttrs []KeyValue
	// TraceBatch holds the original's OTLP_TRACE_* settings.
	TraceBatch TraceBatchConfig
	// MetricReader holds the original's OTLP_METRIC_* settings.
	MetricReader MetricReaderConfig
	// LargeFields is where otlp.New offloads large values of run trace
	// logs and span events (FLOWTEL_LARGE_FIELDS_*): by default a bounded
	// file store in DefaultLargeFieldDir.
	LargeFields LargeFieldConfig
}

// SignalConfig overrides Config for one signal. Zero fields inherit.
type SignalConfig struct {
	// Protocol overrides Config.Protocol.
	Protocol string
	// Endpoint is used as is: for HTTP it is the full URL (no /v1/<signal>
	// is appended).
	Endpoint string
	// Insecure disables TLS for this signal's scheme-less endpoint.
	Insecure bool
	// CAFile, CertFile and KeyFile override Config's.
	CAFile, CertFile, KeyFile string
	// Headers, when not nil, replace Config.Headers (as OTel Go does).
	Headers map[string]string
	// Compression overrides Config.Compression.
	Compression string
	// Timeout overrides Config.Timeout.
	Timeout time.Duration
}

// RetryConfig configures retries. The zero value retries with the OTel
// defaults: 5 s initial interval (less when the signal's Timeout is under
// 10 s), 30 s maximum interval, 1 min elapsed.
type RetryConfig struct {
	// Disabled drops a batch after its first retryable failure.
	Disabled bool
	// InitialInterval is the first backoff; 0 means half the signal's
	// Timeout, at most 5 s (5 s with the default 10 s Timeout).
	InitialInterval time.Duration
	// MaxInterval caps the backoff before its ±50 % jitter, as in OTel
	// Go's exporters (cenkalti/backoff caps the interval, not the
	// randomized wait): a wait is at most 1.5 × MaxInterval, unless the
	// receiver asks for longer (Retry-After, RetryInfo). 0 means 30 s.
	MaxInterval time.Duration
	// MaxElapsedTime bounds the time spent on one batch, attempts and waits
	// included, as the signal's Timeout does: the shorter wins; 0 means
	// 1 min. A wait (a server-requested delay too: Retry-After, RetryInfo)
	// that would pass either drops the batch at once.
	MaxElapsedTime time.Duration
}

// KeyValue is one resource attribute.
type KeyValue struct {
	Key, Value string
}

// TraceBatchConfig are the original's trace batching settings.
type TraceBatchConfig struct {
	MaxQueueSize       int           // OTEL_BSP_MAX_QUEUE_SIZE, OTLP_TRACE_MAX_QUEUE_SIZE, 2048
	ScheduleDelay      time.Duration // OTEL_BSP_SCHEDULE_DELAY, OTLP_TRACE_SCHEDULE_DELAY_MILLIS, 3 s
	MaxExportBatchSize int           // OTEL_BSP_MAX_EXPORT_BATCH_SIZE, OTLP_TRACE_MAX_EXPORT_BATCH_SIZE, 512
	ExportTimeout      time.Duration // OTEL_BSP_EXPORT_TIMEOUT, OTLP_TRACE_EXPORT_TIMEOUT_MILLIS, 3 s
}

// MetricReaderConfig are the original's periodic metric reader settings.
type MetricReaderConfig struct {
	ExportInterval time.Duration // OTEL_METRIC_EXPORT_INTERVAL, OTLP_METRIC_EXPORT_INTERVAL_MILLIS, 3 s
	ExportTimeout  time.Duration // OTEL_METRIC_EXPORT_TIMEOUT, OTLP_METRIC_EXPORT_TIMEOUT_MILLIS, 5 s
}

// Signal returns the per-signal overrides of s.
func (c *Config) Signal(s Signal) *SignalConfig {
	switch s {
	case Metrics:
		return &c.Metrics
	case Logs:
		return &c.Logs
	}
	return &c.Traces
}

// target is the resolved destination of one signal.
type target struct {
	protocol string
	// grpcTarget is host:port for gRPC; url is the full URL for HTTP.
	grpcTarget string
	url        string
	tls        *tls.Config // nil: plaintext
	tlsKey     string      // identifies the TLS files, to share connections
	headers    map[string]string
	userAgent  string   // gRPC: the User-Agent of headers, or flowtel's
	redact     redactor // the secrets of headers and endpoint
	shownURL   string   // url with its secrets redacted, for messages
	gzip       bool
	timeout    time.Duration
	firstRetry time.Duration // the first backoff: Retry.InitialInterval, or half of timeout up to 5 s
}

// settings is a validated Config with defaults applied.
type settings struct {
	targets      [NumSignals]target
	queueBytes   int64
	queueBatches int
	queueSpans   int64
	concurrency  int
	maxRequest   int64
	coalesce     int64 // 0: each batch alone
	retry        RetryConfig
	block        bool
	blockTimeout time.Duration
	errh         func(error)
}

// resolve validates c and applies defaults. It reads the TLS files.
func (c *Config) resolve() (settings, error) {
	var s settings
	if err := c.check(); err != nil {
		return s, err
	}
	s.queueBytes = orDefault(c.QueueBytes, DefaultQueueBytes)
	s.queueBatches = orDefault(c.QueueBatches, DefaultQueueBatches)
	s.queueSpans = int64(c.QueueSpans)
	s.concurrency = orDefault(c.Concurrency, DefaultConcurrency)
	s.maxRequest = orDefault(c.MaxRequestBytes, DefaultMaxRequestBytes)
	if c.CoalesceBytes >= 0 {
		s.coalesce = min(orDefault(c.CoalesceBytes, DefaultCoalesceBytes), s.maxRequest, s.queueBytes)
	}
	s.retry.Disabled = c.Retry.Disabled
	s.retry.InitialInterval = orDefault(c.Retry.InitialInterval, DefaultRetryInitial)
	s.retry.MaxInterval = orDefault(c.Retry.MaxInterval, DefaultRetryMaxInterval)
	s.retry.MaxElapsedTime = orDefault(c.Retry.MaxElapsedTime, DefaultRetryMaxElapsed)
	if s.retry.MaxInterval < s.retry.InitialInterval {
		s.retry.MaxInterval = s.retry.InitialInterval
	}
	s.block = c.Block
	s.blockTimeout = orDefault(c.BlockTimeout, DefaultBlockTimeout)
	s.errh = c.ErrorHandler
	for sig := Signal(0); sig < NumSignals; sig++ {
		t, err := c.resolveTarget(sig)
		if err != nil {
			return s, err
		}
		// OTel's default first wait is half its default timeout (5 s of
		// 10 s); kept in that ratio, a signal with a shorter timeout (the
		// original's 3 s for traces) still retries within it.
		t.firstRetry = s.retry.InitialInterval
		if c.Retry.InitialInterval == 0 {
			t.firstRetry = min(DefaultRetryInitial, t.timeout/2)
		}
		s.targets[sig] = t
	}
	return s, nil
}

// check refuses the numeric fields outside their bounds, naming the field.
func (c *Config) check() error {
	durations := []struct {
		name string
		d    time.Duration
	}{
		{"Timeout", c.Timeout}, {"BlockTimeout", c.BlockTimeout},
		{"Retry.InitialInterval", c.Retry.InitialInterval}, {"Retry.MaxInterval", c.Retry.MaxInterval},
		{"Retry.MaxElapsedTime", c.Retry.MaxElapsedTime},
		{"Traces.Timeout", c.Traces.Timeout}, {"Metrics.Timeout", c.Metrics.Timeout}, {"Logs.Timeout", c.Logs.Timeout},
	}
	for _, f := range durations {
		if f.d < 0 || f.d > MaxDuration {
			return fmt.Errorf("%w: %s is %v, want 0 (the default) to %v", ErrInvalidConfig, f.name, f.d, MaxDuration)
		}
	}
	switch {
	case c.QueueBytes < 0:
		return fmt.Errorf("%w: QueueBytes is %d, want 0 (the default) or more", ErrInvalidConfig, c.QueueBytes)
	case c.QueueSpans < 0:
		return fmt.Errorf("%w: QueueSpans is %d, want 0 (no bound) or more", ErrInvalidConfig, c.QueueSpans)
	case c.QueueBatches < 0 || c.QueueBatches > MaxQueueBatches:
		return fmt.Errorf("%w: QueueBatches is %d, want 0 (the default) to %d", ErrInvalidConfig, c.QueueBatches, MaxQueueBatches)
	case c.Concurrency < 0 || c.Concurrency > MaxConcurrency:
		return fmt.Errorf("%w: Concurrency is %d, want 0 (the default) to %d", ErrInvalidConfig, c.Concurrency, MaxConcurrency)
	case c.MaxRequestBytes < 0 || c.MaxRequestBytes > MaxMaxRequestBytes:
		return fmt.Errorf("%w: MaxRequestBytes is %d, want 0 (the default) to %d", ErrInvalidConfig, c.MaxRequestBytes, MaxMaxRequestBytes)
	case c.CoalesceBytes < -1 || c.CoalesceBytes > MaxMaxRequestBytes:
		return fmt.Errorf("%w: CoalesceBytes is %d, want -1 (off), 0 (the default) or up to %d", ErrInvalidConfig, c.CoalesceBytes, MaxMaxRequestBytes)
	}
	return nil
}

func orDefault[T int | int64 | time.Duration](v, d T) T {
	if v == 0 {
		return d
	}
	return v
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// resolveTarget applies the per-signal overrides of sig and resolves its
// endpoint, TLS, headers, compression and timeout.
func (c *Config) resolveTarget(sig Signal) (target, error) {
	sc := c.Signal(sig)
	var t target
	t.protocol = firstNonEmpty(sc.Protocol, c.Protocol)
	if t.protocol == "" {
		t.protocol = ProtocolGRPC
	}
	if t.protocol != ProtocolGRPC && t.protocol != ProtocolHTTPProtobuf {
		return t, fmt.Errorf("%w %q in %s (want %q or %q)", ErrInvalidProtocol, t.protocol, fieldOf(sig, "Protocol", sc.Protocol), ProtocolGRPC, ProtocolHTTPProtobuf)
	}
	switch comp := firstNonEmpty(sc.Compression, c.Compression); comp {
	case "", CompressionNone:
	case CompressionGzip:
		t.gzip = true
	default:
		return t, fmt.Errorf("%w %q in %s (want %q or %q)", ErrInvalidCompression, comp, fieldOf(sig, "Compression", sc.Compression), CompressionGzip, CompressionNone)
	}
	t.timeout = orDefault(orDefault(sc.Timeout, c.Timeout), DefaultTimeout)
	t.headers = c.Headers
	if sc.Headers != nil {
		t.headers = sc.Headers
	}
	hfield := "Headers"
	if sc.Headers != nil {
		hfield = sigField(sig, "Headers")
	}
	if err := validateHeaders(t.headers, t.protocol); err != nil {
		return t, fmt.Errorf("%w in %s (%s)", err, hfield, t.protocol)
	}

	insecure := c.Insecure || sc.Insecure
	ep, perSignal := sc.Endpoint, true
	field := sigField(sig, "Endpoint")
	if ep == "" {
		ep, perSignal, field = c.Endpoint, false, "Endpoint"
	}
	if ep == "" {
		ep = DefaultGRPCEndpoint
		if t.protocol == ProtocolHTTPProtobuf {
			ep = DefaultHTTPEndpoint
		}
	}
	u, secure, err := parseEndpoint(ep, insecure)
	if err != nil {
		return t, fmt.Errorf("%w in %s: %v", ErrInvalidEndpoint, field, err)
	}
	t.redact = newRedactor(t.headers, u)
	switch {
	case unixTarget(ep) && t.protocol != ProtocolGRPC:
		return t, fmt.Errorf("%w in %s: a Unix socket target is for OTLP/gRPC only", ErrInvalidEndpoint, field)
	case unixTarget(ep):
		t.grpcTarget, t.shownURL = ep, ep
	}
	if t.protocol == ProtocolGRPC {
		if t.grpcTarget == "" {
			// gRPC parses its target as a URL path: an IPv6 zone's
			// '%' is escaped, or it is refused as a bad escape.
			t.grpcTarget = strings.ReplaceAll(u.Host, "%", "%25")
			t.shownURL = u.Host
		}
		t.headers = withBasicAuth(t.headers, u.User)
		t.headers, t.userAgent = splitUserAgent(t.headers)
	} else {
		if !perSignal {
			appendSignalPath(u, sig)
		}
		t.url = u.String()
		t.shownURL = redactURL(u)
	}
	if secure {
		ca, cert, key := firstNonEmpty(sc.CAFile, c.CAFile), firstNonEmpty(sc.CertFile, c.CertFile), firstNonEmpty(sc.KeyFile, c.KeyFile)
		t.tls, err = loadTLS(ca, cert, key)
		if err != nil {
			return t, fmt.Errorf("%w (%s, %s, %s)", err, fieldOf(sig, "CAFile", sc.CAFile),
				fieldOf(sig, "CertFile", sc.CertFile), fieldOf(sig, "KeyFile", sc.KeyFile))
		}
		t.tls.ServerName = serverName(u)
		t.tlsKey = "tls|" + ca + "|" + cert + "|" + key
	}
	return t, nil
}

// serverName is the name TLS verifies the receiver of u by: its host,
// without the zone of an IPv6 address (fe80::1%eth0). The zone names an
// interface of this host, no part of the receiver's address or of its
// certificate, and net/http sends none in a Host header (RFC 6874);
// given to crypto/tls, "fe80::1%eth0" is no address, and was verified as
// a DNS name no certificate holds.
func serverName(u *url.URL) string {
	h := u.Hostname()
	if i := strings.IndexByte(h, '%'); i >= 0 && strings.HasPrefix(u.Host, "[") {
		h = h[:i]
	}
	return h
}

// appendSignalPath appends /v1/<signal> to the path of a generic HTTP
// endpoint, keeping its escaping: "/tenant%2Fa" stays one segment. The
// path's trailing slashes go, all of them, as the specification asks
// ("correcting for double-slashes") and OTel Go does: "/base//" made
// "/base//v1/traces".
func appendSignalPath(u *url.URL, sig Signal) {
	if u.RawPath != "" {
		u.RawPath = strings.TrimRight(u.RawPath, "/") + sig.httpPath()
	}
	u.Path = strings.TrimRight(u.Path, "/") + sig.httpPath()
}

// sigField names a per-signal field of Config, such as "Traces.Endpoint".
func sigField(sig Signal, name string) string {
	return strings.ToUpper(sig.String()[:1]) + sig.String()[1:] + "." + name
}

// fieldOf names the field of Config that gave a setting: the per-signal
// one when it is set (perSignal is its value), else the general one.
func fieldOf(sig Signal, name, perSignal string) string {
	if perSignal != "" {
		return sigField(sig, name)
	}
	return name
}

// withBasicAuth returns h with an "authorization" header carrying the user
// information ui as HTTP basic authentication, unless ui is nil or h has an
// Authorization header already; h itself is not modified. This is what
// net/http does for an OTLP/HTTP endpoint with user information, done for
// gRPC.
func withBasicAuth(h map[string]string, ui *url.Userinfo) map[string]string {
	if ui == nil {
		return h
	}
	for k := range h {
		if strings.EqualFold(k, "authorization") {
			return h
		}
	}
	pass, _ := ui.Password()
	out := make(map[string]string, len(h)+1)
	for k, v := range h {
		out[k] = v
	}
	out["authorization"] = "Basic " + base64.StdEncoding.EncodeToString([]byte(ui.Username()+":"+pass))
	return out
}

// splitUserAgent returns h without its User-Agent header (h itself is
// not modified) and that header's value, or flowtel's without one: gRPC
// writes the user-agent itself and drops one given as metadata, so a
// configured one goes to grpc.WithUserAgent (after which gRPC appends its
// own product, as it does to flowtel's).
func splitUserAgent(h map[string]string) (map[string]string, string) {
	for k, v := range h {
		if strings.EqualFold(k, "user-agent") {
			out := maps.Clone(h)
			delete(out, k)
			return out, strings.Trim(v, " \t") // as net/http sends it
		}
	}
	return h, userAgent
}

// unixTarget reports whether ep is a gRPC target on a Unix domain socket
// (unix:path, unix:///path, unix-abstract:name), which OTLP/gRPC endpoints
// accept as any form the gRPC client does: a collector beside the process
// often listens on one.
func unixTarget(ep string) bool {
	return strings.HasPrefix(ep, "unix:") || strings.HasPrefix(ep, "unix-abstract:")
}

// parseEndpoint parses host:port or a URL. It reports whether TLS is used:
// https:// always, http:// never, no scheme unless insecure. A Unix socket
// target (unixTarget) is a URL without a host, TLS unless insecure.
func parseEndpoint(ep string, insecure bool) (u *url.URL, secure bool, err error) {
	if unixTarget(ep) {
		u, err = url.Parse(ep)
		if err != nil || (u.Path == "" && u.Opaque == "") {
			return nil, false, errors.New("not a Unix socket target (unix:path, unix:///path or unix-abstract:name)")
		}
		return u, !insecure, nil
	}
	if !strings.Contains(ep, "://") {
		scheme := "https://"
		if insecure {
			scheme = "http://"
		}
		ep = scheme + ep
	}
	u, err = url.Parse(ep)
	if err != nil {
		return nil, false, errMalformed
	}
	switch u.Scheme {
	case "http":
	case "https":
		secure = true
	default:
		return nil, false, fmt.Errorf("scheme %q (want http or https)", u.Scheme)
	}
	if u.Host == "" {
		return nil, false, errors.New("no host")
	}
	if err := checkHost(u); err != nil {
		return nil, false, err
	}
	if err := checkPort(u); err != nil {
		return nil, false, err
	}
	if err := placeholderURL(u); err != nil {
		return nil, false, err
	}
	// u.User is kept for HTTP (basic auth); it is redacted in messages.
	return u, secure, nil
}

// errPlaceholder is why a secret that is the placeholder "REDACTED" is
// refused: a configuration printed or marshalled (MarshalJSON) holds it
// in place of each secret, and one read back from there (a JSON file
// written by json.Marshal, a logged Config pasted into a deployment)
// would send "REDACTED" as the credential, each export refused by the
// receiver, or taken by one that checks none.
var errPlaceholder = errors.New("is " + redacted + ", the placeholder a printed or marshalled configuration holds in place of a secret: give the real value")

// placeholderURL refuses an endpoint whose user information or a query
// value is the placeholder "REDACTED" (errPlaceholder).
func placeholderURL(u *url.URL) error {
	if u.User != nil {
		if p, _ := u.User.Password(); u.User.Username() == redacted || p == redacted {
			return fmt.Errorf("the user information %w", errPlaceholder)
		}
	}
	if u.RawQuery == redacted {
		return fmt.Errorf("the query %w", errPlaceholder)
	}
	for k, vs := range u.Query() {
		if slices.Contains(vs, redacted) {
			return fmt.Errorf("the query value of %q %w", k, errPlaceholder)
		}
	}
	return nil
}

// errMalformed is why an endpoint of no URL's shape is refused: most
// often a header or a credential put in the wrong variable ("api-key=...",
// "Authorization=Bearer ..."), so the error that refuses it does not print
// the value (envReader.endpoint).
var errMalformed = errors.New("not a URL or host:port")

// checkHost refuses a host that is neither a name nor an address:
// url.Parse lets a host hold "!$&'()*+,;=", which no host name has, so
// that "api-key=<token>" was taken as one, and every export's transport
// error, and Exporter.String, printed the token. It names the character
// only (errMalformed). An internationalized name is put in its ASCII
// (punycode) form, as net/http dials one: gRPC's resolver and TLS's
// ServerName take only that form.
func checkHost(u *url.URL) error {
	if strings.HasPrefix(u.Host, "[") {
		return nil // an IPv6 literal, which url.Parse checked
	}
	h, ascii := u.Hostname(), true
	for i := 0; i < len(h); i++ {
		c := h[i]
		if c >= utf8.RuneSelf {
			ascii = false
		} else if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return fmt.Errorf("%w: the host holds %q, which no host name or address does", errMalformed, c)
		}
	}
	if ascii {
		return nil
	}
	a, err := idna.Lookup.ToASCII(h)
	if err != nil {
		return fmt.Errorf("%w: the host is not an internationalized domain name IDNA takes", errMalformed)
	}
	u.Host = a + u.Host[len(h):] // the port, as given
	return nil
}

// checkPort refuses a URL's port that no connection can use, which would
// pass construction and fail every request: an endpoint's, and a large
// value store's (NewHTTPStore).
func checkPort(u *url.URL) error {
	// A host ending in ':' has no port: most often a scheme given twice
	// (http://http://host:4317 is host "http:").
	if strings.HasSuffix(u.Host, ":") {
		return errors.New("empty port after the host's ':' (a scheme given twice?)")
	}
	if p := u.Port(); p != "" {
		// More than 5 digits is no port mistyped but most often a
		// header's token ("x-api-key:<digits>"): not printed.
		if len(p) > 5 {
			return fmt.Errorf("%w: a port of %d digits", errMalformed, len(p))
		}
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port %s is not between 1 and 65535", p)
		}
	}
	return nil
}

// loadTLS returns a TLS configuration verifying the receiver against the
// roots in caFile (or the system roots) and presenting the client
// certificate in certFile/keyFile when given.
func loadTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := readTLSFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("%w: read CA file: %w", ErrTLS, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: no PEM certificate in CA file %s", ErrTLS, caFile)
		}
		cfg.RootCAs = pool
	}
	if (certFile == "") != (keyFile == "") {
		return nil, fmt.Errorf("%w: client certificate and key must be given together", ErrTLS)
	}
	if certFile != "" {
		certPEM, err := readTLSFile(certFile)
		if err != nil {
			return nil, fmt.Errorf("%w: read client certificate: %w", ErrTLS, err)
		}
		keyPEM, err := readTLSFile(keyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: read client key: %w", ErrTLS, err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("%w: load client certificate %s: %w", ErrTLS, certFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// maxTLSFileBytes bounds a PEM file read for TLS: every public CA of the
// web takes about 250 KiB.
const maxTLSFileBytes = 16 << 20

// regularFile reports why path is not a regular file (following links),
// without opening it: opening a named pipe waits for a writer.
func regularFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file (%v)", path, fi.Mode().Type())
	}
	return nil
}

// errPEMData is why a TLS file setting holding PEM data is refused: a
// key pasted where its file's path goes (Kubernetes puts a secret's
// content in a variable as readily as in a file), which os.Stat's error,
// quoting the path, printed whole. A path read from a file with its line
// break ("/etc/tls/client.crt\n") is refused by it too: the message
// names both, not sending the user to look for PEM data not there.
var errPEMData = errors.New("holds PEM data, a certificate's or key's DER in base64, or a line break, which no file's path does (the value is not printed: it may be a private key)")

// pemData reports whether a TLS file setting holds PEM data, its
// base64 ("LS0tLS1CRUdJ" is "-----BEGI") or a DER key or certificate in
// base64 without PEM's armour (derData), rather than a path: neither
// errors nor a printed Config show it.
func pemData(path string) bool {
	return strings.Contains(path, "-----BEGIN") || strings.Contains(path, "LS0tLS1CRUdJ") || strings.ContainsAny(path, "\r\n") ||
		derData(path)
}

// derData reports whether s is base64 (either alphabet, padded or not)
// of 32 bytes or more of DER beginning with an ASN.1 SEQUENCE, as every
// key and certificate does: "MII..." for one of 256 bytes or more. A
// file's path is not: it would have to begin "MA" to "MP" and hold no
// dot, dash or other character outside base64's.
func derData(s string) bool {
	if len(s) < 43 || s[0] != 'M' {
		return false
	}
	for _, enc := range [...]*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return len(b) >= 32 && b[0] == 0x30
		}
	}
	return false
}

// readTLSFile reads a certificate or key file: a regular file of at most
// maxTLSFileBytes, so that a device or a pipe given by mistake is refused
// instead of read without end.
func readTLSFile(path string) ([]byte, error) {
	if pemData(path) {
		return nil, errPEMData
	}
	if err := regularFile(path); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTLSFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxTLSFileBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxTLSFileBytes)
	}
	return b, nil
}

// validateHeaders checks h against the rules of protocol: names are HTTP
// tokens and, for gRPC, lower-case metadata keys ([0-9a-z-_.] once
// lower-cased, not reserved by gRPC); values are printable ASCII (HTTP
// also allows a tab; a gRPC "-bin" key takes any bytes, which gRPC
// base64-encodes). Errors name the header, never its value.
func validateHeaders(h map[string]string, protocol string) error {
	for k, v := range h {
		if err := validateHeader(k, v, protocol); err != nil {
			return err
		}
	}
	if len(h) > 1 {
		// Names are case-insensitive: two spellings of one would be sent
		// twice (gRPC) or one would win at random (HTTP).
		seen := make(map[string]string, len(h))
		for k := range h {
			lk := strings.ToLower(k)
			if other, dup := seen[lk]; dup {
				a, b := min(k, other), max(k, other)
				return fmt.Errorf("%w %q: given twice, also as %q", ErrInvalidHeader, a, b)
			}
			seen[lk] = k
		}
	}
	return nil
}

func validateHeader(k, v, protocol string) error {
	if k == "" {
		return fmt.Errorf("%w %q: empty name", ErrInvalidHeader, k)
	}
	grpc := protocol == ProtocolGRPC
	for i := 0; i < len(k); i++ {
		if !isTokenChar(k[i]) {
			// Not printed: a name that is no HTTP token is most often a
			// whole header line ("Authorization: Bearer <token>") or a
			// credential put where the name goes ("dG9rZW4=").
			return fmt.Errorf("%w: a name of %d bytes holds %q at offset %d, which no %s header name does (the name is not printed: it may be a header line or a credential)", ErrInvalidHeader, len(k), k[i], i, protocol)
		}
		if grpc && !isMetadataKeyChar(k[i]) {
			return fmt.Errorf("%w %q: the name holds %q, which is not allowed in an %s header name", ErrInvalidHeader, k, k[i], protocol)
		}
	}
	lk := strings.ToLower(k)
	if grpc && (strings.HasPrefix(lk, "grpc-") || lk == "te" || lk == "content-type") {
		return fmt.Errorf("%w %q: the name is reserved by gRPC", ErrInvalidHeader, k)
	}
	if !grpc && httpTransportHeaders[lk] {
		return fmt.Errorf("%w %q: the HTTP transport writes this header itself (it would be replaced, or would corrupt every request)", ErrInvalidHeader, k)
	}
	if v == redacted {
		return fmt.Errorf("%w %q: the value %w", ErrInvalidHeader, k, errPlaceholder)
	}
	if grpc && strings.HasSuffix(lk, "-bin") {
		return nil
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' || c > '~') && (c != '\t' || grpc) {
			return fmt.Errorf("%w %q: the value holds a byte that is not printable ASCII at offset %d (%s header values are printable ASCII)", ErrInvalidHeader, k, i, protocol)
		}
	}
	return nil
}

// httpTransportHeaders are the headers the OTLP/HTTP exporter or net/http
// write for each request: the body's framing and encoding, and the
// hop-by-hop ones. Host and User-Agent are not among them: a configured
// one is sent.
var httpTransportHeaders = map[string]bool{
	"content-type": true, "content-encoding": true, "content-length": true, "transfer-encoding": true,
	"connection": true, "keep-alive": true, "proxy-connection": true, "te": true, "trailer": true, "upgrade": true,
}

func isTokenChar(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// isMetadataKeyChar reports whether c may appear in a gRPC metadata key
// (which gRPC lower-cases).
func isMetadataKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
}
