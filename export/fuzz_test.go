package export

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/flowtel/flowtel/internal/otlptest"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
)

// FuzzExportHTTPResponse feeds hostile OTLP/HTTP responses to the
// classifier: it must not panic, must keep delays and rejected counts in
// range, and must agree with the OTLP rules on what is retryable.
func FuzzExportHTTPResponse(f *testing.F) {
	ps, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{PartialSuccess: &coltrace.ExportTracePartialSuccess{RejectedSpans: 3, ErrorMessage: "x"}})
	st, _ := proto.Marshal(&spb.Status{Code: 8, Message: "slow down"})
	f.Add(uint8(0), 200, "", ps)
	f.Add(uint8(1), 429, "5", st)
	f.Add(uint8(2), 503, "Wed, 21 Oct 2015 07:28:00 GMT", []byte("text"))
	f.Add(uint8(0), 400, "-1", []byte{0xff, 0x01})
	f.Add(uint8(0), 204, "99999999999999999999", []byte{0x0a, 0x80})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, sig uint8, code int, retryAfter string, body []byte) {
		s := Signal(sig % NumSignals)
		o := classifyHTTP(s, code, http.Header{"Retry-After": {retryAfter}, "Content-Type": {"text/plain"}}, body, now, redactor{})
		if o.Rejected < 0 || o.Delay < 0 || o.Delay > 24*time.Hour {
			t.Fatalf("out of range: %+v", o)
		}
		switch {
		case code >= 200 && code < 300:
			if o.Class != classSuccess {
				t.Fatalf("HTTP %d judged %s", code, o.Class)
			}
		case code == 429 || code == 502 || code == 503 || code == 504:
			if o.Class != classRetryable {
				t.Fatalf("HTTP %d judged %s", code, o.Class)
			}
		default:
			if o.Class != classPermanent || o.Err == nil {
				t.Fatalf("HTTP %d judged %s (%v)", code, o.Class, o.Err)
			}
		}
		if o.Err != nil && len(o.Err.Error()) > 2048 {
			t.Fatalf("unbounded error message: %d bytes", len(o.Err.Error()))
		}
	})
}

// FuzzExportPartialSuccess decodes arbitrary response bodies of every
// signal: no panic, never a negative rejected count.
func FuzzExportPartialSuccess(f *testing.F) {
	ps, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{PartialSuccess: &coltrace.ExportTracePartialSuccess{RejectedSpans: -3, ErrorMessage: "neg"}})
	f.Add(uint8(0), ps)
	f.Add(uint8(1), []byte{0x0a, 0x02, 0x08, 0x05})
	f.Add(uint8(2), []byte{0x0a, 0x02, 0x08})
	f.Fuzz(func(t *testing.T, sig uint8, body []byte) {
		n, _, err := partialSuccess(Signal(sig%NumSignals), body)
		if n < 0 {
			t.Fatalf("negative rejected %d", n)
		}
		if err != nil && n != 0 {
			t.Fatalf("rejected %d with a decode error", n)
		}
	})
}

// FuzzExportGRPCStatus builds gRPC errors from arbitrary google.rpc.Status
// bytes (details included): no panic, RESOURCE_EXHAUSTED retryable only
// with RetryInfo, delays in range.
func FuzzExportGRPCStatus(f *testing.F) {
	st, _ := status.New(codes.ResourceExhausted, "x").WithDetails()
	b, _ := proto.Marshal(st.Proto())
	f.Add(b)
	f.Add([]byte{0x08, 0x0e, 0x12, 0x01, 'm'})
	f.Add([]byte{0x08, 0x08, 0x1a, 0x05, 0x0a, 0x03, 'a', 'b', 'c'})
	f.Fuzz(func(t *testing.T, b []byte) {
		var p spb.Status
		if proto.Unmarshal(b, &p) != nil {
			return
		}
		err := status.ErrorProto(&p)
		o := classifyGRPC(Traces, err, redactor{})
		if o.Delay < 0 || o.Delay > 24*time.Hour {
			t.Fatalf("delay %v", o.Delay)
		}
		if err == nil {
			if o.Class != classSuccess {
				t.Fatalf("OK judged %s", o.Class)
			}
			return
		}
		switch codes.Code(p.Code) {
		case codes.Canceled, codes.DeadlineExceeded, codes.Aborted, codes.OutOfRange, codes.Unavailable, codes.DataLoss:
			if o.Class != classRetryable {
				t.Fatalf("%s judged %s", codes.Code(p.Code), o.Class)
			}
		case codes.ResourceExhausted:
		default:
			if o.Class != classPermanent {
				t.Fatalf("%s judged %s", codes.Code(p.Code), o.Class)
			}
		}
	})
}

// FuzzExportRetryAfter: any Retry-After value parses to a delay in range.
func FuzzExportRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "120", "Wed, 21 Oct 2015 07:28:00 GMT", "-5", "1e9", "18446744073709551616"} {
		f.Add(s)
	}
	now := time.Now()
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := parseRetryAfter(v, now)
		if d < 0 || d > 24*time.Hour || (!ok && d != 0) {
			t.Fatalf("%q: %v %v", v, d, ok)
		}
	})
}

// FuzzExportEnv feeds arbitrary values to every exporter variable: no
// panic; an error names the variable and never echoes a HEADERS value; a
// configuration without error is accepted by the resolver (checked through
// the sentinel errors New would return, without starting an exporter).
func FuzzExportEnv(f *testing.F) {
	var names []string
	for _, p := range []string{"OTEL_EXPORTER_OTLP_", "OTEL_EXPORTER_OTLP_TRACES_", "OTEL_EXPORTER_OTLP_METRICS_", "OTEL_EXPORTER_OTLP_LOGS_"} {
		for _, v := range []string{"ENDPOINT", "HEADERS", "PROTOCOL", "TIMEOUT", "COMPRESSION", "CERTIFICATE", "CLIENT_CERTIFICATE", "CLIENT_KEY", "INSECURE"} {
			names = append(names, p+v)
		}
	}
	names = append(names, "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTLP_ENABLE", "OTEL_LOGS_EXPORTER", "OTLP_ENDPOINT", "SERVICE_NAME",
		"OTLP_TRACE_TIMEOUT", "OTLP_TRACE_MAX_QUEUE_SIZE", "OTLP_TRACE_SCHEDULE_DELAY_MILLIS", "OTLP_TRACE_MAX_EXPORT_BATCH_SIZE",
		"OTLP_TRACE_EXPORT_TIMEOUT_MILLIS", "OTLP_METRIC_TIMEOUT", "OTLP_METRIC_EXPORT_INTERVAL_MILLIS", "OTLP_METRIC_EXPORT_TIMEOUT_MILLIS",
		"OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "OTEL_BSP_EXPORT_TIMEOUT",
		"OTEL_METRIC_EXPORT_INTERVAL", "OTEL_METRIC_EXPORT_TIMEOUT", "FLOWTEL_LARGE_FIELDS_DIR", "FLOWTEL_LARGE_FIELDS_URL",
		"FLOWTEL_LARGE_FIELDS_DISABLED", "FLOWTEL_LARGE_FIELDS_HEADERS", "FLOWTEL_LARGE_FIELDS_MAX_BYTES", "FLOWTEL_LARGE_FIELDS_MAX_FILES",
		"FLOWTEL_LARGE_FIELDS_TIMEOUT", "FLOWTEL_LARGE_FIELDS_CONCURRENCY", "FLOWTEL_LARGE_FIELDS_QUEUE_BYTES")
	f.Add(uint8(1), "a=b%20c,d=e")
	f.Add(uint8(9), "https://x:1/v1/t")
	f.Add(uint8(37), "service.name=s,k=%zz")
	f.Add(uint8(42), "-1")
	f.Add(uint8(19), "bad key=v")
	f.Add(uint8(3), "1e3")
	f.Fuzz(func(t *testing.T, i uint8, value string) {
		name := names[int(i)%len(names)]
		secret := strings.HasSuffix(name, "HEADERS")
		if secret {
			// A marker inside the value: an error must never show it.
			value = "k=Q7SECRET" + value
		}
		c, err := FromLookup(func(k string) (string, bool) {
			if k == name {
				return value, true
			}
			return "", false
		})
		if err != nil {
			if !errors.Is(err, ErrInvalidEnv) || !strings.Contains(err.Error(), name) {
				t.Fatalf("error %q does not name %s", err, name)
			}
			if secret && strings.Contains(err.Error(), "Q7SECRET") {
				t.Fatalf("error %q echoes the header value", err)
			}
			return
		}
		if err := c.LargeFields.Validate(); err != nil {
			t.Fatalf("%s=%q accepted, then refused by Validate: %v", name, value, err)
		}
		for _, h := range []map[string]string{c.Headers, c.Traces.Headers, c.Metrics.Headers, c.Logs.Headers} {
			for k, v := range h {
				if k == "" || strings.ContainsAny(v, "\r\n") {
					t.Fatalf("invalid header %q accepted", k)
				}
			}
		}
	})
}

// FuzzSplitRequest splits arbitrary bytes as requests of every signal at
// arbitrary limits: no panic; every part fits the limit; when the input
// decodes with the official types, every part does too, and the parts and
// the items left out as too large add up to its items.
func FuzzSplitRequest(f *testing.F) {
	for sig := Signal(0); sig < NumSignals; sig++ {
		req, _ := bigRequest(sig, rand.New(rand.NewPCG(1, uint64(sig))), 50)
		b, _ := proto.Marshal(req)
		f.Add(uint8(sig), uint16(500), b)
	}
	f.Add(uint8(0), uint16(10), []byte{0x0a, 0x02, 0x12, 0x00})
	f.Fuzz(func(t *testing.T, s uint8, max uint16, body []byte) {
		sig := Signal(s % NumSignals)
		want, decodes := officialItems(sig, body)
		got := 0
		tooLarge, ok := splitRequest(sig, body, int(max), func(b []byte, n int) {
			if len(b) > int(max) {
				t.Fatalf("part of %d bytes over %d", len(b), max)
			}
			if decodes {
				if m, ok := officialItems(sig, b); !ok || m != n {
					t.Fatalf("part holds %d items (decodes %v), said %d", m, ok, n)
				}
			}
			got += n
		})
		if ok && decodes && got+tooLarge != want {
			t.Fatalf("%d items split, %d too large, of %d", got, tooLarge, want)
		}
	})
}

// officialItems counts the items of a request with the official decoder.
func officialItems(sig Signal, b []byte) (int, bool) {
	var m proto.Message
	switch sig {
	case Traces:
		m = &coltrace.ExportTraceServiceRequest{}
	case Metrics:
		m = &colmetrics.ExportMetricsServiceRequest{}
	default:
		m = &collogs.ExportLogsServiceRequest{}
	}
	if proto.Unmarshal(b, m) != nil {
		return 0, false
	}
	_, n := otlptest.Batch(m)
	return int(n), true
}
