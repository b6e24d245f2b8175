package propagation

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

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
