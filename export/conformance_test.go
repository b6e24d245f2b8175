package export

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/bytebufferpool"
	"google.golang.org/grpc/codes"

	"github.com/flowtel/flowtel/internal/otlptest"
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
