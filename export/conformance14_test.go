package export

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/flowtel/flowtel/internal/otlptest"
)

// exportFromEnv builds an exporter from env (a short timeout, fast
// retries), sends one trace batch of 3 spans (batch id from prefix) and
// returns its Stats.
func exportFromEnv(t *testing.T, prefix string, env map[string]string) Stats {
	t.Helper()
	cfg, err := FromLookup(lookupOf(env))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timeout, cfg.Traces.Timeout, cfg.Retry = 2*time.Second, 0, fastRetry
	e, _ := newLogged(t, cfg)
	produce(t, e, Traces, prefix, 1, 3)
	s := flushChecked(t, e)
	shutdown(t, e)
	return s
}

// TestEmptyInsecureIsUnset: an empty OTEL_EXPORTER_OTLP_INSECURE is
// unset, as the specification has every empty variable ("The SDK MUST
// interpret an empty value of an environment variable the same way as
// when the variable is unset"): the original's scheme-less OTLP_ENDPOINT
// keeps meaning plaintext. The empty value read as false turned TLS on,
// and every batch to the plaintext collector was dropped.
func TestEmptyInsecureIsUnset(t *testing.T) {
	c := newReceiver(t, ProtocolGRPC, nil)
	c.Start()
	defer c.Stop()
	hostPort := strings.TrimPrefix(c.Endpoint(), "http://")
	for i, v := range []string{"", " "} {
		s := exportFromEnv(t, fmt.Sprint("insecure", i), map[string]string{"OTLP_ENDPOINT": hostPort, "OTEL_EXPORTER_OTLP_INSECURE": v})
		if st := s.Signals[Traces]; st.Exported != 3 || st.Dropped != 0 {
			t.Errorf("OTEL_EXPORTER_OTLP_INSECURE=%q: %+v, want 3 exported", v, st)
		}
	}
	if got := received(c)[Traces]; got != 6 {
		t.Errorf("the receiver took %d spans, want 6", got)
	}
}

// TestProtocolAnyCase: OTEL_EXPORTER_OTLP_PROTOCOL and the per-signal
// PROTOCOL are enums, which the specification's environment variables
// read in any case ("Enum values SHOULD be interpreted in a
// case-insensitive manner"), as FromLookup reads the other enums
// (COMPRESSION, OTEL_LOGS_EXPORTER). "HTTP/Protobuf" and "GRPC" were
// refused.
func TestProtocolAnyCase(t *testing.T) {
	for i, tc := range []struct{ protocol, value, name string }{
		{ProtocolHTTPProtobuf, "HTTP/Protobuf", "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{ProtocolGRPC, "GRPC", "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{ProtocolHTTPProtobuf, "Http/ProtoBuf", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"},
	} {
		c := newReceiver(t, tc.protocol, nil)
		c.Start()
		s := exportFromEnv(t, fmt.Sprint("case", i), map[string]string{tc.name: tc.value, "OTEL_EXPORTER_OTLP_ENDPOINT": c.Endpoint()})
		c.Stop()
		if st := s.Signals[Traces]; st.Exported != 3 || received(c)[Traces] != 3 {
			t.Errorf("%s=%s: %+v, the %s receiver took %d, want 3 exported", tc.name, tc.value, st, tc.protocol, received(c)[Traces])
		}
	}
}

// TestGRPCUserAgentHeader: a User-Agent in Headers replaces flowtel's over
// OTLP/gRPC as over OTLP/HTTP (gRPC appends its own product, as it does to
// flowtel's). gRPC drops a user-agent given as metadata (a header it
// writes itself), so the configured one was silently never sent. Two
// signals with different ones each send their own.
func TestGRPCUserAgentHeader(t *testing.T) {
	c := newReceiver(t, ProtocolGRPC, nil)
	c.Start()
	defer c.Stop()
	cfg := testConfig(ProtocolGRPC, c.Endpoint())
	cfg.Headers = map[string]string{"User-Agent": "edge-agent/2.1", "x-tenant": "a"}
	cfg.Metrics.Headers = map[string]string{"user-agent": "metrics-agent/1"}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	produce(t, e, Traces, "ua", 1, 1)
	flushOK(t, e)
	traceUA, tenant := c.Header().Get("User-Agent"), c.Header().Get("X-Tenant")
	produce(t, e, Metrics, "ua", 1, 1)
	flushOK(t, e)
	metricsUA := c.Header().Get("User-Agent")
	shutdown(t, e)
	if !strings.HasPrefix(traceUA, "edge-agent/2.1 ") || tenant != "a" {
		t.Errorf("traces: the receiver saw User-Agent %q, x-tenant %q, want edge-agent/2.1 first and a", traceUA, tenant)
	}
	if !strings.HasPrefix(metricsUA, "metrics-agent/1 ") {
		t.Errorf("metrics: the receiver saw User-Agent %q, want metrics-agent/1 first", metricsUA)
	}
	if cfg.Headers["User-Agent"] != "edge-agent/2.1" {
		t.Errorf("New changed the caller's Headers: %v", cfg.Headers)
	}
}

// TestEndpointMisplacedCredential: a header pasted into an ENDPOINT
// variable or Config.Endpoint ("api-key=...", "Authorization=Bearer ...")
// is refused without printing it. The first was taken as a host name
// ('=' is a character url.Parse lets a host hold), so that every export's
// transport error carried it to the ErrorHandler; the second was refused
// with the value printed. Host names and addresses are still taken.
func TestEndpointMisplacedCredential(t *testing.T) {
	const secret = "sekret-token-123"
	for _, v := range []string{"api-key=" + secret, "Authorization=Bearer " + secret, "http://api-key=" + secret + ":4318",
		"x-api-key:" + secret + "@", "https://token;" + secret + ":443"} {
		for _, name := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "OTLP_ENDPOINT"} {
			_, err := FromLookup(lookupOf(map[string]string{name: v}))
			if !errors.Is(err, ErrInvalidEnv) || !strings.Contains(err.Error(), name) || strings.Contains(err.Error(), secret) {
				t.Errorf("%s=%s: %v, want an error naming the variable, without the value", name, v, err)
			}
		}
		_, err := New(Config{Endpoint: v})
		if !errors.Is(err, ErrInvalidEndpoint) || strings.Contains(err.Error(), secret) {
			t.Errorf("Endpoint %s: %v, want ErrInvalidEndpoint without the value", v, err)
		}
	}
	for _, v := range []string{"collector_1:4317", "[::1]:4317", "http://[fe80::1%25eth0]:4318", "my-host.example.com:4318", "10.0.0.7", "https://Collector.Example:443/base"} {
		if _, err := FromLookup(lookupOf(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": v})); err != nil {
			t.Errorf("%s: %v", v, err)
		}
	}
	// A value of a URL's shape is still printed, redacted.
	_, err := FromLookup(lookupOf(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "htp://user:" + secret + "@collector:4317"}))
	if err == nil || !strings.Contains(err.Error(), "htp://REDACTED@collector:4317") {
		t.Errorf("a wrong scheme: %v, want the value printed, redacted", err)
	}
}

// TestConfigLogsNoSecret: a Config logged with slog, by either of its
// handlers, shows no header value and no credential of an endpoint, as
// fmt's verbs show none. slog's JSON handler marshals a value with
// encoding/json, which calls no String method: every header value,
// per-signal and the large-value store's too, was logged.
func TestConfigLogsNoSecret(t *testing.T) {
	c, secrets := secretsConfig()
	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
		buf.Reset()
		slog.New(h).Info("exporter", "config", c, "pointer", &c, "traces", c.Traces, "large", c.LargeFields)
		out := buf.String()
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%T logs %q: %s", h, s, out)
			}
		}
		if !strings.Contains(out, "collector") || !strings.Contains(out, "Authorization") {
			t.Errorf("%T hides the endpoint or the header names: %s", h, out)
		}
	}
}

// truncatingServer is an HTTP/1.1 server on loopback that answers every
// request with status and a body cut short of its Content-Length, then
// closes the connection: a proxy that replies and resets. It returns its
// URL and the count of requests it answered.
func truncatingServer(t *testing.T, status int, header string) (string, *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			req, err := http.ReadRequest(bufio.NewReader(c))
			if err == nil {
				_, _ = io.Copy(io.Discard, req.Body)
				n.Add(1)
				fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n%sContent-Length: 100\r\n\r\ncut short", status, http.StatusText(status), header)
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })
	return "http://" + l.Addr().String(), &n
}

// TestHTTPStatusWithTruncatedBody: a response's status decides, even when
// its body cannot be read whole: a 400 is not retried (OTLP: "MUST NOT
// retry"), a 429 is, after its Retry-After. A body that failed to read
// made any status retryable: the 400 was sent again until the timeout
// and counted retry_exhausted, not non_retryable.
func TestHTTPStatusWithTruncatedBody(t *testing.T) {
	for _, tc := range []struct {
		status   int
		header   string
		reason   DropReason
		requests int64 // at least
	}{
		{http.StatusBadRequest, "", DropNonRetryable, 1},
		{http.StatusUnauthorized, "", DropNonRetryable, 1},
		{http.StatusTooManyRequests, "Retry-After: 1\r\n", DropRetryExhausted, 2},
	} {
		url, n := truncatingServer(t, tc.status, tc.header)
		cfg := oneBatchPerRequest(testConfig(ProtocolHTTPProtobuf, url))
		cfg.Timeout = 1500 * time.Millisecond
		e, log := newLogged(t, cfg)
		produce(t, e, Traces, fmt.Sprint("cut", tc.status), 1, 2)
		s := flushChecked(t, e)
		shutdown(t, e)
		st := s.Signals[Traces]
		if st.DroppedBy[tc.reason] != 2 || n.Load() < tc.requests || tc.reason == DropNonRetryable && n.Load() != 1 {
			t.Errorf("HTTP %d: %d requests, %+v, want 2 dropped as %s", tc.status, n.Load(), st, tc.reason)
		}
		if errs := log.all(); len(errs) != 1 || !strings.Contains(errs[0].Error(), fmt.Sprint("HTTP ", tc.status)) {
			t.Errorf("HTTP %d: reported %v, want one report naming the status", tc.status, errs)
		}
	}
}

// TestRedactsTrimmedHeaderValue: a header value with spaces around it is
// sent trimmed (net/http trims what it writes), which is how a receiver
// echoes it in a refusal: the trimmed value is redacted too. Only the
// value as configured was searched for, and the echoed key reached the
// ErrorHandler.
func TestRedactsTrimmedHeaderValue(t *testing.T) {
	const key = "key-4f8a9c2e71"
	forEachProtocol(t, func(t *testing.T, protocol string) {
		c := newReceiver(t, protocol, func(call otlptest.Call) otlptest.Reply {
			return otlptest.Reply{Code: codes.Unauthenticated, Message: "unknown api key " + strings.TrimSpace(call.Header.Get("X-Api-Key"))}
		})
		c.Start()
		defer c.Stop()
		cfg := testConfig(protocol, c.Endpoint())
		cfg.Headers = map[string]string{"x-api-key": "  " + key + " "}
		e, log := newLogged(t, cfg)
		produce(t, e, Traces, "trim", 1, 1)
		s := flushChecked(t, e)
		shutdown(t, e)
		errs := log.all()
		if s.Signals[Traces].DroppedBy[DropNonRetryable] != 1 || len(errs) != 1 {
			t.Fatalf("%+v, reports %v: want the batch refused and reported once", s.Signals[Traces], errs)
		}
		if msg := errs[0].Error(); strings.Contains(msg, key) || !strings.Contains(msg, "unknown api key "+redacted) {
			t.Errorf("reported %q, want the key REDACTED", msg)
		}
	})
}

// TestOTelTimeoutZeroRefused: OTEL_EXPORTER_OTLP_TIMEOUT=0 (or a
// per-signal one) is refused by name. OpenTelemetry Go reads 0 as no
// timeout, flowtel bounds every export; the 0 was read as unset, so that
// traces silently got OTLP_TRACE_TIMEOUT's 3 s, metrics 5 s and logs
// 10 s, the one the variable is documented to win over.
func TestOTelTimeoutZeroRefused(t *testing.T) {
	wantEnvRefused(t, map[string]string{
		"OTEL_EXPORTER_OTLP_TIMEOUT=0":         "OTEL_EXPORTER_OTLP_TIMEOUT",
		"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=0":  "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
		"OTEL_EXPORTER_OTLP_METRICS_TIMEOUT=0": "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
		"OTEL_EXPORTER_OTLP_LOGS_TIMEOUT=00":   "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
	})
	c, err := FromLookup(lookupOf(map[string]string{"OTEL_EXPORTER_OTLP_TIMEOUT": "1", "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT": "86400000"}))
	if err != nil || c.Timeout != time.Millisecond || c.Logs.Timeout != MaxDuration {
		t.Errorf("1 and 86400000 ms: %v, %v and %v", err, c.Timeout, c.Logs.Timeout)
	}
}

// TestHeadersRepeatedNameRefused: a HEADERS variable naming one header
// twice is refused, whatever the case of each, naming the members and
// no value: "a=1,A=2" was refused (given twice) but "a=1,a=2" sent the
// last value alone, silently.
func TestHeadersRepeatedNameRefused(t *testing.T) {
	for _, v := range []string{"x-key=s3cret-one,x-key=s3cret-two", "x-key=s3cret-one, X-Key=s3cret-two", "a=1,x-key=s3cret-one,b=2,x%2Dkey=s3cret-two"} {
		for _, name := range []string{"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_METRICS_HEADERS"} {
			_, err := FromLookup(lookupOf(map[string]string{name: v}))
			if !errors.Is(err, ErrInvalidEnv) || !strings.Contains(err.Error(), name) || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("%s=%s: %v, want an error naming the variable without a value", name, v, err)
			}
		}
	}
}

// TestOriginalEndpointPlaintextIsItsOwn: the original's scheme-less
// OTLP_ENDPOINT means plaintext for itself only: a scheme-less
// OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT beside it keeps the
// specification's reading (TLS unless an INSECURE variable says true).
// The plaintext OTLP_ENDPOINT implied was Config.Insecure, which every
// scheme-less endpoint read: the traces meant for a TLS collector went in
// plaintext (and failed there).
func TestOriginalEndpointPlaintextIsItsOwn(t *testing.T) {
	p := newPKI(t)
	secure := newReceiver(t, ProtocolGRPC, nil)
	secure.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, MinVersion: tls.VersionTLS12}
	secure.Start()
	defer secure.Stop()
	plain := newReceiver(t, ProtocolGRPC, nil)
	plain.Start()
	defer plain.Stop()
	cfg, err := FromLookup(lookupOf(map[string]string{
		"OTLP_ENDPOINT":                         strings.TrimPrefix(plain.Endpoint(), "http://"),
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT":    secure.Addr,
		"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE": p.caFile,
	}))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timeout, cfg.Traces.Timeout, cfg.Metrics.Timeout, cfg.Retry = 2*time.Second, 0, 0, fastRetry
	e, _ := newLogged(t, cfg)
	produce(t, e, Traces, "orig", 1, 3)
	produce(t, e, Metrics, "orig", 1, 2)
	s := flushChecked(t, e)
	shutdown(t, e)
	if s.Signals[Traces].Exported != 3 || received(secure)[Traces] != 3 {
		t.Errorf("traces: %+v, the TLS receiver took %d, want 3", s.Signals[Traces], received(secure)[Traces])
	}
	if s.Signals[Metrics].Exported != 2 || received(plain)[Metrics] != 2 {
		t.Errorf("metrics: %+v, the plaintext receiver took %d, want 2", s.Signals[Metrics], received(plain)[Metrics])
	}
}
