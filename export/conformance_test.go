package export

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowtel/flowtel/internal/otlptest"
	"github.com/valyala/bytebufferpool"
	"google.golang.org/grpc/codes"
)

// TestRetryExhaustedReportedOncePerOutage: a receiver that is down makes
// every batch exhaust its retries; each (signal, status) is reported once
// per outage, where every batch was reported (12 reports for 4 batches of
// 3 signals), and every item is counted. After a success of the signal
// the next outage is reported again.
func TestRetryExhaustedReportedOncePerOutage(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		var down atomic.Bool
		down.Store(true)
		c := newReceiver(t, protocol, func(otlptest.Call) otlptest.Reply {
			if down.Load() {
				return otlptest.Reply{Code: codes.Unavailable, Message: "down for maintenance"}
			}
			return otlptest.Reply{}
		})
		c.Start()
		defer c.Stop()
		cfg := oneBatchPerRequest(testConfig(protocol, c.Endpoint()))
		cfg.Retry.MaxElapsedTime = 100 * time.Millisecond
		e, log := newLogged(t, cfg)
		var produced [NumSignals]uint64
		for sig := Signal(0); sig < NumSignals; sig++ {
			produced[sig] = produce(t, e, sig, "a", 4, 5)
		}
		s := flushChecked(t, e)
		for sig := Signal(0); sig < NumSignals; sig++ {
			if st := s.Signals[sig]; st.DroppedBy[DropRetryExhausted] != produced[sig] {
				t.Errorf("%s: %+v, want %d retry_exhausted", sig, st, produced[sig])
			}
		}
		status := "gRPC Unavailable"
		if protocol != ProtocolGRPC {
			status = "HTTP 503"
		}
		wantReports := func(phase string, n int) {
			t.Helper()
			errs := log.all()
			if len(errs) != n {
				t.Fatalf("%s: %d reports, want %d: %q", phase, len(errs), n, errs)
			}
			for _, err := range errs {
				msg := err.Error()
				if !strings.Contains(msg, status+`: "down for maintenance"; retries exhausted after `) ||
					!strings.HasSuffix(msg, "are exported again; Stats counts every item)") {
					t.Errorf("%s: report %q", phase, msg)
				}
			}
		}
		wantReports("first outage", 3)

		// The receiver is back: one batch of traces goes through.
		down.Store(false)
		produce(t, e, Traces, "b", 1, 5)
		flushChecked(t, e)
		// It fails again: traces are reported again, the other signals,
		// whose outage never ended, are not.
		down.Store(true)
		for sig := Signal(0); sig < NumSignals; sig++ {
			produce(t, e, sig, "c", 2, 5)
		}
		flushChecked(t, e)
		wantReports("second outage", 4)
		shutdown(t, e)
	})
}

// TestNoSecretPrefixInClippedMessage: a receiver's message is clipped to
// maxErrorMessageBytes before it is reported, and a secret it echoes
// across the cut was cut with it, leaving its first bytes in the report,
// since the redactor, which looks for whole secrets, ran after the clip.
// The message is redacted before it is clipped, for a refusal and for a
// partial success, over both protocols; a "-bin" value echoed in base64
// is redacted too.
func TestNoSecretPrefixInClippedMessage(t *testing.T) {
	const secret = "s3cr3t-api-key-0123456789abcdef"
	bin := "\x01\x02binary-credential\xff"
	binB64 := base64.RawStdEncoding.EncodeToString([]byte(bin))
	// The cut falls 7 bytes into the secret.
	long := strings.Repeat("x", maxErrorMessageBytes-len(" key ")-7) + " key " + secret
	forEachProtocol(t, func(t *testing.T, protocol string) {
		c := newReceiver(t, protocol, func(cl otlptest.Call) otlptest.Reply {
			switch cl.Signal {
			case otlptest.Traces:
				return otlptest.Reply{Code: codes.Unauthenticated, Message: long}
			case otlptest.Metrics:
				return otlptest.Reply{Rejected: 1, Message: long}
			}
			return otlptest.Reply{Code: codes.PermissionDenied, Message: "credential " + binB64 + " refused"}
		})
		c.Start()
		defer c.Stop()
		cfg := testConfig(protocol, c.Endpoint())
		cfg.Headers = map[string]string{"x-api-key": secret}
		if protocol == ProtocolGRPC {
			cfg.Headers["x-cred-bin"] = bin
		}
		e, log := newLogged(t, cfg)
		for sig := Signal(0); sig < NumSignals; sig++ {
			produce(t, e, sig, "s", 1, 2)
		}
		flushChecked(t, e)
		shutdown(t, e)
		errs := log.all()
		if len(errs) != 3 {
			t.Fatalf("%d reports, want 3: %q", len(errs), errs)
		}
		for _, err := range errs {
			msg := err.Error()
			if strings.Contains(msg, secret[:6]) || protocol == ProtocolGRPC && strings.Contains(msg, binB64[:6]) {
				t.Errorf("a secret's first bytes are in %q", msg)
			}
			if !strings.Contains(msg, "xxxx") && !strings.Contains(msg, "credential REDACTED refused") && protocol == ProtocolGRPC {
				t.Errorf("report %q: want the receiver's message, redacted", msg)
			}
		}
	})
}

// TestResponseBound: both protocols read a response up to
// MaxResponseBytes, where gRPC read up to its 4 MiB and HTTP up to 1 MiB:
// a 2 MiB partial success rejected 1 span over gRPC and, cut and
// undecodable over HTTP, none. A response just under the bound is read
// on both; a larger one counts the request as exported (the receiver took
// it) and is reported once, saying why, on both, also when it came
// compressed (gRPC's limit after decompression has messages of its own).
func TestResponseBound(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		for _, tc := range []struct {
			name     string
			message  int
			rejected uint64
			gzip     bool // the response compressed: its bound is after decompression
		}{
			{"under", MaxResponseBytes - 1024, 1, false},
			{"over", 2 * MaxResponseBytes, 0, false},
			{"over gzip", 2 * MaxResponseBytes, 0, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				msg := strings.Repeat("m", tc.message)
				c := newReceiver(t, protocol, func(otlptest.Call) otlptest.Reply { return otlptest.Reply{Rejected: 1, Message: msg} })
				c.Start()
				defer c.Stop()
				cfg := oneBatchPerRequest(testConfig(protocol, c.Endpoint()))
				if tc.gzip {
					cfg.Compression = CompressionGzip
				}
				e, log := newLogged(t, cfg)
				produced := produce(t, e, Traces, tc.name, 2, 3)
				st := flushChecked(t, e).Signals[Traces]
				shutdown(t, e)
				if st.Rejected != 2*tc.rejected || st.Exported != produced-2*tc.rejected || st.Dropped != 0 {
					t.Errorf("%+v, want %d rejected, the rest exported", st, 2*tc.rejected)
				}
				errs := log.all()
				if len(errs) != 1 {
					t.Fatalf("%d reports, want 1", len(errs))
				}
				want := "partial success: 1 rejected"
				if tc.rejected == 0 {
					want = "accepted, but the response body does not decode: the response is larger than 1048576 bytes (MaxResponseBytes)"
				}
				if got := errs[0].Error(); !strings.Contains(got, want) {
					t.Errorf("report %.200q, want it to say %q", got, want)
				}
			})
		}
	})
}

// TestTimeoutBoundsExport: Timeout bounds the export of a batch, every
// attempt and every wait between them, as OTEL_EXPORTER_OTLP_TIMEOUT does
// in the OpenTelemetry specification and its Go exporters; it bounded
// each attempt alone, MaxElapsedTime the batch.
func TestTimeoutBoundsExport(t *testing.T) {
	// An attempt slower than Timeout is cut at Timeout, which leaves no
	// time for another: the batch is dropped as retry_exhausted, where
	// it was sent again.
	t.Run("slow attempt", func(t *testing.T) {
		forEachProtocol(t, func(t *testing.T, protocol string) {
			c := newReceiver(t, protocol, func(cl otlptest.Call) otlptest.Reply {
				if cl.Attempt == 0 {
					return otlptest.Reply{Sleep: 10 * time.Second}
				}
				return otlptest.Reply{}
			})
			c.Start()
			defer c.Stop()
			cfg := oneBatchPerRequest(testConfig(protocol, c.Endpoint()))
			cfg.Timeout = 200 * time.Millisecond
			e, log := newLogged(t, cfg)
			produced := produce(t, e, Traces, "slow", 3, 5)
			st := flushChecked(t, e).Signals[Traces]
			shutdown(t, e)
			if st.DroppedBy[DropRetryExhausted] != produced || st.Requests != 3 || st.Retried != 0 {
				t.Errorf("%+v, want %d retry_exhausted after 3 requests, none retried", st, produced)
			}
			// The gRPC client's DeadlineExceeded, or the receiver's
			// Canceled when it arrives first: a report for each.
			errs := log.all()
			if len(errs) == 0 || len(errs) > 2 {
				t.Errorf("reports %q, want one or two", errs)
			}
			for _, err := range errs {
				if !strings.Contains(err.Error(), "retries exhausted after 1 attempts") {
					t.Errorf("report %q, want it to say retries were exhausted", err)
				}
			}
		})
	})
	// A receiver that fails at once: retries stop when Timeout has
	// passed, long before MaxElapsedTime. Each wait is at least 10 ms
	// (20 ms less half its jitter), so 300 ms hold at most 31 attempts;
	// MaxElapsedTime alone allowed about 200.
	t.Run("failing receiver", func(t *testing.T) {
		forEachProtocol(t, func(t *testing.T, protocol string) {
			c := newReceiver(t, protocol, func(otlptest.Call) otlptest.Reply { return otlptest.Reply{Code: codes.Unavailable} })
			c.Start()
			defer c.Stop()
			cfg := testConfig(protocol, c.Endpoint())
			cfg.Timeout = 300 * time.Millisecond
			cfg.Retry = RetryConfig{InitialInterval: 20 * time.Millisecond, MaxInterval: 20 * time.Millisecond, MaxElapsedTime: 5 * time.Second}
			e, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			produced := produce(t, e, Metrics, "down", 1, 5)
			st := flushChecked(t, e).Signals[Metrics]
			shutdown(t, e)
			if st.DroppedBy[DropRetryExhausted] != produced || st.Retried == 0 || st.Requests > 31 {
				t.Errorf("%+v, want %d retry_exhausted after 2 to 31 attempts", st, produced)
			}
		})
	})
	// One worker: a batch whose wait ends while the worker is held by a
	// slow attempt of another is taken after its own Timeout passed, and
	// dropped without an attempt.
	t.Run("no worker in time", func(t *testing.T) {
		forEachProtocol(t, func(t *testing.T, protocol string) {
			c := newReceiver(t, protocol, func(cl otlptest.Call) otlptest.Reply {
				if strings.Contains(cl.Batch, "-fail-") {
					return otlptest.Reply{Code: codes.Unavailable, Message: "busy"}
				}
				return otlptest.Reply{Sleep: 10 * time.Second}
			})
			c.Start()
			defer c.Stop()
			cfg := oneBatchPerRequest(testConfig(protocol, c.Endpoint()))
			cfg.Concurrency = 1
			cfg.Timeout = 200 * time.Millisecond
			e, log := newLogged(t, cfg)
			produced := produce(t, e, Logs, "fail", 1, 5)
			produced += produce(t, e, Logs, "slow", 1, 5)
			s := flushChecked(t, e)
			shutdown(t, e)
			checkIdentity(t, s)
			if st := s.Signals[Logs]; st.DroppedBy[DropRetryExhausted] != produced {
				t.Errorf("%+v, want %d retry_exhausted", st, produced)
			}
			for _, err := range log.all() {
				if strings.Contains(err.Error(), "%!") {
					t.Errorf("report %q", err)
				}
			}
		})
	})
}

// TestRetriedRequestWhole: the parts of one batch (EnqueueParts), sent in
// one request, are sent again in one request when it fails with a
// retryable error, over both protocols, as OTel's exporters send a batch
// again; they went part by part, a request each (6 requests where 2 do,
// the receiver refusing each part's first request).
func TestRetriedRequestWhole(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		c := newReceiver(t, protocol, func(cl otlptest.Call) otlptest.Reply {
			if cl.Attempt == 0 {
				return otlptest.Reply{Code: codes.Unavailable, RetryAfter: "0"}
			}
			return otlptest.Reply{}
		})
		c.Keep = true
		c.Start()
		defer c.Stop()
		e, err := New(testConfig(protocol, c.Endpoint()))
		if err != nil {
			t.Fatal(err)
		}
		const parts = 3
		bufs := make([]*bytebufferpool.ByteBuffer, parts)
		items := make([]int, parts)
		for i := range bufs {
			bufs[i], items[i] = encodeBatch(t, Traces, fmt.Sprintf("part-%d", i), 4), 4
		}
		if !e.EnqueueParts(Traces, bufs, items) {
			t.Fatal("refused")
		}
		flush(t, e)
		wantDelivered(t, e, c, [NumSignals]uint64{Traces: parts * 4})
		st := e.Stats().Signals[Traces]
		shutdown(t, e)
		if st.Requests != 2 || st.Retried != 1 || c.Calls() != 2 {
			t.Errorf("%d requests (%d retried), %d at the receiver; want 2, 1 retried", st.Requests, st.Retried, c.Calls())
		}
		for i, r := range c.Traces() {
			if len(r.ResourceSpans) != parts {
				t.Errorf("request %d holds %d parts, want %d", i, len(r.ResourceSpans), parts)
			}
		}
	})
}

// TestHTTPEndpointPaths: the paths an OTLP/HTTP request goes to, read by
// a loopback server, for the endpoint variables: the generic endpoint
// gets /v1/<signal> after its path, without doubled slashes ("/base//"
// made "/base//v1/traces") and keeping its query; a per-signal endpoint
// is used as is, the root path when it has none.
func TestHTTPEndpointPaths(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.URL.RequestURI())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer srv.Close()
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL}, "/v1/traces"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL + "/"}, "/v1/traces"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL + "/base//"}, "/base/v1/traces"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL + "/base?tenant=a"}, "/base/v1/traces?tenant=a"},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": srv.URL}, "/"},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": srv.URL + "/custom/path/"}, "/custom/path/"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": srv.URL + "/t"}, "/t"},
	} {
		tc.env["OTEL_EXPORTER_OTLP_PROTOCOL"] = ProtocolHTTPProtobuf
		cfg, err := FromLookup(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		got = nil
		mu.Unlock()
		e, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		produce(t, e, Traces, "path", 1, 1)
		flushChecked(t, e)
		shutdown(t, e)
		mu.Lock()
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("%v: requests to %q, want %q", tc.env, got, tc.want)
		}
		mu.Unlock()
	}
}

// TestEnvHeaderValueDecoded: a HEADERS value is percent-decoded and then
// trimmed, as OTel Go reads it, and reaches the receiver so over both
// protocols: "%20abcd%20" is "abcd" (gRPC sent " abcd ").
func TestEnvHeaderValueDecoded(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		c := newReceiver(t, protocol, nil)
		c.Start()
		defer c.Stop()
		env := map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": c.Endpoint(), "OTEL_EXPORTER_OTLP_PROTOCOL": protocol, "OTEL_EXPORTER_OTLP_INSECURE": "true",
			"OTEL_EXPORTER_OTLP_HEADERS": "x-token=%20abcd%20,x-other = a%2Cb%3Dc ",
		}
		cfg, err := FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if err != nil {
			t.Fatal(err)
		}
		e, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		produce(t, e, Traces, "h", 1, 1)
		flushChecked(t, e)
		shutdown(t, e)
		h := c.Header()
		if got := h.Values("X-Token"); len(got) != 1 || got[0] != "abcd" {
			t.Errorf("x-token %q, want \"abcd\"", got)
		}
		if got := h.Values("X-Other"); len(got) != 1 || got[0] != "a,b=c" {
			t.Errorf("x-other %q, want \"a,b=c\"", got)
		}
	})
}

// TestEnvHeaderNameNotPrinted: a HEADERS member whose name is not a header
// name is refused naming the variable and the member, never the name: a
// credential pasted without its "Authorization=" ("Basic dXNl...==", cut
// at its first "=") is the name, and the error printed it.
func TestEnvHeaderNameNotPrinted(t *testing.T) {
	const cred = "dXNlcjpwYXNzd29yZA"
	// The third is an HTTP token but no gRPC metadata key (gRPC is the
	// default protocol).
	for _, v := range []string{"Basic " + cred + "==", "x-ok=1,Bearer " + cred + "=x", cred[:4] + "+" + cred[4:] + "==", "Basic " + cred + "%3D%3D="} {
		for _, name := range []string{"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_LOGS_HEADERS", "FLOWTEL_LARGE_FIELDS_HEADERS"} {
			if strings.Contains(v, "+") && name == "FLOWTEL_LARGE_FIELDS_HEADERS" {
				continue // sent over HTTP only: a valid name there
			}
			env := map[string]string{name: v}
			_, err := FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			if !errors.Is(err, ErrInvalidEnv) || !strings.Contains(err.Error(), name) || strings.Contains(err.Error(), cred[:6]) {
				t.Errorf("%s=%q: error %v, want one naming the variable, not the header name", name, v, err)
			}
		}
	}
}

// TestThrottlePausesSignal: a receiver's throttle (HTTP 429 with
// Retry-After, gRPC RESOURCE_EXHAUSTED with RetryInfo) holds back every
// batch of the signal until its delay is over, as OTLP asks of a client
// ("it MUST then throttle itself"); only the throttled batch waited, the
// next went at once. The other signals are not held back (the logs are
// delivered while the traces wait; no timing is asserted of them).
func TestThrottlePausesSignal(t *testing.T) {
	const delay = time.Second
	forEachProtocol(t, func(t *testing.T, protocol string) {
		c := newReceiver(t, protocol, func(cl otlptest.Call) otlptest.Reply {
			if cl.Batch == "traces-t-0" && cl.Attempt == 0 {
				return otlptest.Reply{Code: codes.ResourceExhausted, Message: "slow down", RetryDelay: delay, RetryAfter: "1"}
			}
			return otlptest.Reply{}
		})
		c.Start()
		defer c.Stop()
		cfg := oneBatchPerRequest(testConfig(protocol, c.Endpoint()))
		cfg.Concurrency = 1
		e, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var produced [NumSignals]uint64
		produced[Traces] = produce(t, e, Traces, "t", 3, 2)
		produced[Logs] = produce(t, e, Logs, "t", 1, 2)
		flush(t, e)
		wantDelivered(t, e, c, produced)
		shutdown(t, e)
		first := c.Arrivals("traces-t-0")
		if len(first) != 2 {
			t.Fatalf("the throttled batch arrived %d times, want 2", len(first))
		}
		for _, b := range []string{"traces-t-1", "traces-t-2"} {
			if a := c.Arrivals(b); len(a) != 1 || a[0].Sub(first[0]) < delay {
				t.Errorf("%s arrived at %v, %v after the throttle; want once, after its delay %v", b, a, a[0].Sub(first[0]), delay)
			}
		}
	})
}

// TestHTTPRedirect: a 307 or 308 to the same scheme and host is followed,
// the body sent again whole, as OTel Go's exporter follows it (the batch
// was dropped as refused); one to another host is not (the request's
// headers, credentials among them, would go there), nor a 301, which Go
// turns into a GET: both drop the batch as refused, reported once, and
// the other host gets nothing.
func TestHTTPRedirect(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	var mu sync.Mutex
	var got []int
	var keys []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/traces":
			http.Redirect(w, r, "/moved/v1/traces", http.StatusPermanentRedirect)
		case "/v1/metrics":
			http.Redirect(w, r, other.URL+"/v1/metrics", http.StatusTemporaryRedirect)
		case "/v1/logs":
			http.Redirect(w, r, "/moved/v1/logs", http.StatusMovedPermanently)
		case "/moved/v1/traces":
			mu.Lock()
			got = append(got, readBody(r))
			keys = append(keys, r.Header.Get("X-Key"))
			mu.Unlock()
			w.Header().Set("Content-Type", "application/x-protobuf")
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	cfg := Config{Protocol: ProtocolHTTPProtobuf, Endpoint: srv.URL, Headers: map[string]string{"x-key": "k-123456"}, Retry: RetryConfig{Disabled: true}}
	e, log := newLogged(t, cfg)
	for sig := Signal(0); sig < NumSignals; sig++ {
		produce(t, e, sig, "r", 1, 5)
	}
	s := flushChecked(t, e)
	shutdown(t, e)
	if st := s.Signals[Traces]; st.Exported != 5 {
		t.Errorf("traces %+v, want the 308 followed and 5 exported", st)
	}
	mu.Lock()
	if len(got) != 1 || got[0] != 1 || keys[0] != "k-123456" {
		t.Errorf("the redirected request held %v resources with x-key %q, want 1 with the header", got, keys)
	}
	mu.Unlock()
	for _, sig := range []Signal{Metrics, Logs} {
		if st := s.Signals[sig]; st.DroppedBy[DropNonRetryable] != 5 {
			t.Errorf("%s %+v, want 5 dropped as non_retryable", sig, st)
		}
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the other host got %d requests", n)
	}
	if errs := log.all(); len(errs) != 2 {
		t.Errorf("reports %q, want one for each refused redirect", errs)
	}
}

// TestFirstRetryWithinTimeout: with the retry defaults, a signal whose
// Timeout is under OTel's 10 s starts its backoff at half of it, so a
// batch refused once is sent again within its Timeout; it started at 5 s
// (a wait of 2.5 to 7.5 s) and a 4 s Timeout, or the original's 3 s for
// traces, dropped it.
func TestFirstRetryWithinTimeout(t *testing.T) {
	for _, tc := range []struct {
		timeout, initial, want time.Duration
	}{
		{3 * time.Second, 0, 1500 * time.Millisecond},
		{10 * time.Second, 0, DefaultRetryInitial},
		{time.Minute, 0, DefaultRetryInitial},
		{3 * time.Second, 7 * time.Second, 7 * time.Second},
	} {
		cfg := Config{Timeout: tc.timeout, Retry: RetryConfig{InitialInterval: tc.initial}}
		s, err := cfg.resolve()
		if err != nil {
			t.Fatal(err)
		}
		for sig := Signal(0); sig < NumSignals; sig++ {
			if got := s.targets[sig].firstRetry; got != tc.want {
				t.Errorf("Timeout %v, InitialInterval %v: %v first wait %v, want %v", tc.timeout, tc.initial, sig, got, tc.want)
			}
		}
	}
	forEachProtocol(t, func(t *testing.T, protocol string) {
		c := newReceiver(t, protocol, func(cl otlptest.Call) otlptest.Reply {
			if cl.Attempt == 0 {
				return otlptest.Reply{Code: codes.Unavailable}
			}
			return otlptest.Reply{}
		})
		c.Start()
		defer c.Stop()
		cfg := oneBatchPerRequest(testConfig(protocol, c.Endpoint()))
		cfg.Timeout = 4 * time.Second
		cfg.Retry = RetryConfig{}
		e, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		produced := produce(t, e, Traces, "once", 1, 5)
		st := flushChecked(t, e).Signals[Traces]
		shutdown(t, e)
		if st.Exported != produced || st.Retried != 1 {
			t.Errorf("%+v, want %d exported after one retry", st, produced)
		}
	})
}

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
