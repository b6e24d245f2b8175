package fuzz

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/baggage"
	otelpropagation "go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/internal/w3c"
	"github.com/flowtel/flowtel/propagation"
)

// FuzzCarrier feeds arbitrary header lines to the HTTP and gRPC carriers
// and checks: no panic; both carriers agree; a bad traceparent yields no
// parent and no tracestate; what is extracted, injected again and
// re-extracted is unchanged (by flowtel and by OpenTelemetry's
// TraceContext and Baggage propagators).
func FuzzCarrier(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "congo=t61rcWkgMzE", "rojo=00f067aa0ba902b7", "userId=alice,serverNode=DF%2028", "isProduction=false;p=1")
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", "a=1 , ,b=2", "", "k=v;;p;", "")
	f.Add("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03-x", "Bad=1", "a=1", "=x,k=%zz", "k2=v2")
	f.Add("garbage", "a=1", "a=2", strings.Repeat("k=v,", 200), "")
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02", "a=1,Bad=2,a=3", "1x@y@z=4,"+strings.Repeat("k=v,", 40), "", "")
	prop := otelpropagation.NewCompositeTextMapPropagator(otelpropagation.TraceContext{}, otelpropagation.Baggage{})
	f.Fuzz(func(t *testing.T, tp, ts1, ts2, bag1, bag2 string) {
		lines := func(a, b string) []string {
			var out []string
			for _, s := range []string{a, b} {
				if s != "" {
					out = append(out, s)
				}
			}
			return out
		}
		h := http.Header{}
		md := metadata.MD{}
		set := func(k string, v []string) {
			if len(v) > 0 {
				h[http.CanonicalHeaderKey(k)] = v
				md[k] = v
			}
		}
		set("traceparent", lines(tp, ""))
		set("tracestate", lines(ts1, ts2))
		set("baggage", lines(bag1, bag2))

		var p propagation.Propagator
		sc, b := p.ExtractHTTP(h)
		sc2, b2 := p.ExtractGRPC(md)
		if sc != sc2 || b.String() != b2.String() {
			t.Fatalf("carriers disagree: %+v %q vs %+v %q", sc, b.String(), sc2, b2.String())
		}
		if !sc.IsValid() && sc != (engine.SpanContext{}) {
			t.Fatalf("invalid parent with content %+v", sc)
		}
		// A joined tracestate keeps exactly the members internal/w3c keeps,
		// errors or not; a bad traceparent takes it away.
		if joined := strings.Join(lines(ts1, ts2), ","); sc.IsValid() && len(joined) <= w3c.MaxTraceStateBytes {
			if want, _ := w3c.ParseTraceState(joined); sc.TraceState != want.String() {
				t.Fatalf("tracestate %q from %q, want %q", sc.TraceState, joined, want.String())
			}
		}
		if st := p.Stats(); st.Extracted != 2 || (st.TraceParentInvalid != 0) == sc.IsValid() && tp != "" {
			t.Fatalf("stats %+v for parent %+v", st, sc)
		}

		out := http.Header{}
		propagation.InjectHTTP(out, sc, b)
		again, bagAgain, err := propagation.ExtractHTTP(out)
		if err != nil || again != sc || bagAgain.String() != b.String() {
			t.Fatalf("re-extract: %+v %q %v; want %+v %q", again, bagAgain.String(), err, sc, b.String())
		}

		ctx := prop.Extract(context.Background(), otelpropagation.HeaderCarrier(out))
		osc := trace.SpanContextFromContext(ctx)
		if osc.IsValid() != sc.IsValid() {
			t.Fatalf("OpenTelemetry extracted %v from %v", osc, out)
		}
		if sc.IsValid() && (osc.TraceID() != trace.TraceID(sc.TraceID) || osc.SpanID() != trace.SpanID(sc.SpanID) ||
			osc.IsSampled() != sc.Sampled || osc.TraceFlags().IsRandom() != sc.Random) {
			t.Fatalf("OpenTelemetry extracted %v, flowtel %+v", osc, sc)
		}
		// OpenTelemetry keeps at most 64 baggage members and trims more
		// whitespace (see internal/w3c's doc); compare when it kept all.
		ob := baggage.FromContext(ctx)
		if ob.Len() == b.Len() {
			for m := range b.All() {
				if om := ob.Member(m.Key); om.Key() != "" {
					if last, _ := b.Get(m.Key); om.Value() != last.Value() {
						t.Fatalf("baggage %s: OpenTelemetry %q, flowtel %q", m.Key, om.Value(), last.Value())
					}
				}
			}
		}
	})
}
