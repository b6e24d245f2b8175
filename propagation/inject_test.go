package propagation

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/internal/w3c"
	otelprop "go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"
)

// TestInjectInvalidTraceState is the regression test of a SpanContext
// built by hand, whose tracestate held a CR LF, being injected as it was:
// net/http then refused the caller's own request. What InjectHTTP and
// InjectGRPC write is a valid tracestate (an invalid one is not written,
// as a receiver would discard it whole), so the request goes out and joins
// the trace.
func TestInjectInvalidTraceState(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }))
	defer srv.Close()
	sc := engine.SpanContext{TraceID: [16]byte{1}, SpanID: [8]byte{2}, Sampled: true, TraceState: "a=b\r\nX-Evil: 1,rojo=1"}
	injectVia(t, srv, sc)
	if _, ok := got["Tracestate"]; ok || got.Get("X-Evil") != "" || got.Get("traceparent") == "" {
		t.Errorf("the server got tracestate %q, X-Evil %q, traceparent %q", got.Get("tracestate"), got.Get("X-Evil"), got.Get("traceparent"))
	}
	md := metadata.MD{}
	InjectGRPC(md, sc, Baggage{})
	if ts := md.Get("tracestate"); len(ts) != 0 || len(md.Get("traceparent")) != 1 {
		t.Errorf("gRPC tracestate %q", ts)
	}
	sc.TraceState = "Bad=1"
	h := http.Header{}
	InjectHTTP(h, sc, Baggage{})
	if _, ok := h["Tracestate"]; ok || h.Get("traceparent") == "" {
		t.Errorf("headers %q", h)
	}
	// A valid tracestate is written as it is.
	sc.TraceState = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
	InjectHTTP(h, sc, Baggage{})
	if ts := h.Get("tracestate"); ts != sc.TraceState {
		t.Errorf("valid tracestate written as %q", ts)
	}
	if _, err := w3c.ParseTraceState(h.Get("tracestate")); err != nil {
		t.Error(err)
	}
}

// TestInjectReplaces: InjectHTTP, InjectGRPC and OutgoingGRPC replace what
// the carrier held under the three names, as documented, also when they
// write nothing there: a proxy that forwards a copy of its incoming
// headers, or a context that already carries a parent's metadata, must not
// send the caller's traceparent, tracestate or baggage beside (or instead
// of) its own. They were left in place.
func TestInjectReplaces(t *testing.T) {
	own := engine.SpanContext{TraceID: [16]byte{1}, SpanID: [8]byte{2}, Sampled: true}
	stale := func() map[string][]string {
		return map[string][]string{"traceparent": {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}, "tracestate": {"congo=t61rcWkgMzE"}, "baggage": {"user=alice"}}
	}
	for _, tc := range []struct {
		name string
		sc   engine.SpanContext
	}{{"own span, no tracestate, no baggage", own}, {"no span", engine.SpanContext{}}} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range stale() {
				h[http.CanonicalHeaderKey(k)] = v
			}
			InjectHTTP(h, tc.sc, Baggage{})
			md := metadata.MD(stale())
			InjectGRPC(md, tc.sc, Baggage{})
			ctx := OutgoingGRPC(metadata.NewOutgoingContext(context.Background(), metadata.MD(stale())), tc.sc, Baggage{})
			out, _ := metadata.FromOutgoingContext(ctx)
			for name, get := range map[string]func(string) []string{
				"http": func(k string) []string { return h.Values(k) },
				"grpc": md.Get,
				"ctx":  out.Get,
			} {
				wantTP := 0
				if tc.sc.IsValid() {
					wantTP = 1
				}
				if tp := get("traceparent"); len(tp) != wantTP || wantTP == 1 && tp[0] != traceParentValue(tc.sc) {
					t.Errorf("%s: traceparent %q", name, tp)
				}
				if ts, bag := get("tracestate"), get("baggage"); len(ts) != 0 || len(bag) != 0 {
					t.Errorf("%s: tracestate %q, baggage %q left from the caller", name, ts, bag)
				}
			}
		})
	}
}

// TestInjectNormalizesTraceState: a SpanContext built by hand (a queue
// message's header copied as it came) may hold a valid tracestate with
// optional whitespace and empty or whitespace-only list-members. It was
// written as it was, and OpenTelemetry's receivers discard a tracestate
// with a whitespace-only member whole: every vendor's entry was lost one
// hop downstream. InjectHTTP and InjectGRPC write it normalized, as
// internal/w3c's carrier notes ask, and an OpenTelemetry service reads
// every member.
func TestInjectNormalizesTraceState(t *testing.T) {
	sc := engine.SpanContext{TraceID: [16]byte{1}, SpanID: [8]byte{2}, Sampled: true,
		TraceState: " rojo=00f067aa0ba902b7 , \t,congo=t61rcWkgMzE,,"}
	const want = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
	var got trace.SpanContext
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := otelprop.TraceContext{}.Extract(r.Context(), otelprop.HeaderCarrier(r.Header))
		got = trace.SpanContextFromContext(ctx)
	}))
	defer srv.Close()
	injectVia(t, srv, sc)
	if !got.IsValid() || got.TraceState().String() != want {
		t.Errorf("OpenTelemetry read tracestate %q (valid %v), want %q", got.TraceState().String(), got.IsValid(), want)
	}
	md := metadata.MD{}
	InjectGRPC(md, sc, Baggage{})
	if ts := md.Get("tracestate"); len(ts) != 1 || ts[0] != want {
		t.Errorf("gRPC tracestate %q, want %q", ts, want)
	}
}

// injectVia sends srv a request whose headers InjectHTTP wrote from sc.
func injectVia(t *testing.T, srv *httptest.Server, sc engine.SpanContext) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	InjectHTTP(req.Header, sc, Baggage{})
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("the request carrying the injected headers was refused: %v", err)
	}
	resp.Body.Close()
}

// TestInjectHTTPNonCanonicalKeys sends a request whose header holds stale
// values under keys that are not canonical (h["traceparent"], set as a map
// of lowercase keys from gRPC metadata or a queue message is copied in):
// net/http writes such a key as it is, and HTTP header names are
// case-insensitive, so the receiver reads them beside what InjectHTTP
// wrote. Every casing is replaced, as the canonical one is: a second
// traceparent line makes the receiver refuse the parent, and a Propagator
// not speaking baggage forwards none.
func TestInjectHTTPNonCanonicalKeys(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
	}))
	defer srv.Close()
	sc, _, _ := ExtractHTTP(http.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}})
	if !sc.IsValid() {
		t.Fatal("the parent did not parse")
	}
	for _, p := range []*Propagator{nil, New(FormatTraceContext)} {
		req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header["traceparent"] = []string{"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
		req.Header["TraceState"] = []string{"stale=1"}
		req.Header["baggage"] = []string{"secret=1"}
		p.InjectHTTP(req.Header, sc, Baggage{})
		send(t, req)
		if tp := got.Values("Traceparent"); len(tp) != 1 || tp[0] != traceParentValue(sc) {
			t.Errorf("%v: the receiver read traceparent %q, want only %q", p.Formats(), tp, traceParentValue(sc))
		}
		if ts, bag := got.Values("Tracestate"), got.Values("Baggage"); len(ts)+len(bag) != 0 {
			t.Errorf("%v: the receiver read tracestate %q and baggage %q, want none", p.Formats(), ts, bag)
		}
		if rsc, _, _ := ExtractHTTP(got); rsc.SpanID != sc.SpanID {
			t.Errorf("%v: the receiver extracted parent %v, want %v", p.Formats(), rsc, sc)
		}
	}
}
