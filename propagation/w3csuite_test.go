package propagation

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/internal/w3c"
)

// The W3C Trace Context test suite (w3c/trace-context, test/test.py, run
// at its default strictness) sends header lines to a service and reads
// the traceparent and tracestate the service sends on. TestW3CSuiteCases
// replays its cases through a real loopback HTTP server, so that header
// names are canonicalised, values trimmed and repeated lines kept as
// net/http does, and checks what Propagator.ExtractHTTP hands to the run
// (the traceparent joined or a new trace, the tracestate forwarded).

const suiteTraceID = "12345678901234567890123456789012"

// suiteHeader is one header line as the harness sends it.
type suiteHeader struct{ name, value string }

// extractVia sends hs to a loopback server and extracts what it received.
func extractVia(t *testing.T, hs []suiteHeader) engine.SpanContext {
	t.Helper()
	var sc engine.SpanContext
	var p Propagator
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sc, _ = p.ExtractHTTP(r.Header)
	}))
	defer srv.Close()
	req, err := http.NewRequest(http.MethodPost, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		req.Header[h.name] = append(req.Header[h.name], h.value) // as sent: name case kept
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return sc
}

func TestW3CSuiteTraceParent(t *testing.T) {
	tid := suiteTraceID
	join := []struct {
		name  string
		value string
		lines int // 2: sent twice
		want  bool
	}{
		{"valid", "00-" + tid + "-1234567890123456-01", 1, true},
		{"duplicated", "00-" + tid + "-1234567890123456-01", 2, false},
		{"version 00 with a trailing character", "00-" + tid + "-1234567890123456-01.", 1, false},
		{"version 00 with future fields", "00-" + tid + "-1234567890123456-01-what-the-future-will-be-like", 1, false},
		{"future version", "cc-" + tid + "-1234567890123456-01", 1, true},
		{"future version with future fields", "cc-" + tid + "-1234567890123456-01-what-the-future-will-be-like", 1, true},
		{"future version without a dash after flags", "cc-" + tid + "-1234567890123456-01.what-the-future-will-be-like", 1, false},
		{"version ff", "ff-" + tid + "-1234567890123456-01", 1, false},
		{"version illegal first", ".0-" + tid + "-1234567890123456-01", 1, false},
		{"version illegal second", "0.-" + tid + "-1234567890123456-01", 1, false},
		{"version of 3 digits", "000-" + tid + "-1234567890123456-01", 1, false},
		{"version of 4 digits", "0000-" + tid + "-1234567890123456-01", 1, false},
		{"version of 1 digit", "0-" + tid + "-1234567890123456-01", 1, false},
		{"trace-id all zero", "00-00000000000000000000000000000000-1234567890123456-01", 1, false},
		{"trace-id illegal first", "00-.2345678901234567890123456789012-1234567890123456-01", 1, false},
		{"trace-id illegal last", "00-1234567890123456789012345678901.-1234567890123456-01", 1, false},
		{"trace-id too long", "00-123456789012345678901234567890123-1234567890123456-01", 1, false},
		{"trace-id too short", "00-1234567890123456789012345678901-1234567890123456-01", 1, false},
		{"trace-id upper case", "00-ABCDEF78901234567890123456789012-1234567890123456-01", 1, false},
		{"parent-id all zero", "00-" + tid + "-0000000000000000-01", 1, false},
		{"parent-id illegal first", "00-" + tid + "-.234567890123456-01", 1, false},
		{"parent-id illegal last", "00-" + tid + "-123456789012345.-01", 1, false},
		{"parent-id too long", "00-" + tid + "-12345678901234567-01", 1, false},
		{"parent-id too short", "00-" + tid + "-123456789012345-01", 1, false},
		{"flags illegal first", "00-" + tid + "-1234567890123456-.0", 1, false},
		{"flags illegal last", "00-" + tid + "-1234567890123456-0.", 1, false},
		{"flags too long", "00-" + tid + "-1234567890123456-001", 1, false},
		{"flags too short", "00-" + tid + "-1234567890123456-1", 1, false},
		{"leading space", " 00-" + tid + "-1234567890123456-01", 1, true},
		{"leading tab", "\t00-" + tid + "-1234567890123456-01", 1, true},
		{"trailing space", "00-" + tid + "-1234567890123456-01 ", 1, true},
		{"trailing tab", "00-" + tid + "-1234567890123456-01\t", 1, true},
		{"whitespace both sides", "\t 00-" + tid + "-1234567890123456-01 \t", 1, true},
	}
	for _, tt := range join {
		t.Run(tt.name, func(t *testing.T) {
			var hs []suiteHeader
			for range tt.lines {
				hs = append(hs, suiteHeader{"traceparent", tt.value})
			}
			sc := extractVia(t, hs)
			if got := sc.IsValid() && sc.TraceID == mustTraceID(t, tid); got != tt.want {
				t.Errorf("over HTTP: joined %v, want %v (%+v)", got, tt.want, sc)
			}
			// A carrier built by hand or read from gRPC metadata is not
			// trimmed by net/http: the same rules hold there.
			h := http.Header{}
			md := map[string][]string{}
			for _, l := range hs {
				h.Add("traceparent", l.value)
				md["traceparent"] = append(md["traceparent"], l.value)
			}
			sc, _, _ = ExtractHTTP(h)
			sc2, _, _ := ExtractGRPC(md)
			for _, sc := range []engine.SpanContext{sc, sc2} {
				if got := sc.IsValid() && sc.TraceID == mustTraceID(t, tid); got != tt.want {
					t.Errorf("from a carrier: joined %v, want %v (%+v)", got, tt.want, sc)
				}
			}
		})
	}
	for _, name := range []string{"trace-parent", "trace.parent"} {
		if sc := extractVia(t, []suiteHeader{{name, "00-" + tid + "-1234567890123456-01"}}); sc.IsValid() {
			t.Errorf("header %q joined the trace", name)
		}
	}
	for _, name := range []string{"TraceParent", "TrAcEpArEnT", "TRACEPARENT"} {
		if sc := extractVia(t, []suiteHeader{{name, "00-" + tid + "-1234567890123456-01"}}); !sc.IsValid() {
			t.Errorf("header %q did not join the trace", name)
		}
	}
}

func mustTraceID(t *testing.T, s string) [16]byte {
	t.Helper()
	tp, err := w3c.ParseTraceParent("00-" + s + "-1234567890123456-01")
	if err != nil {
		t.Fatal(err)
	}
	return tp.TraceID
}
