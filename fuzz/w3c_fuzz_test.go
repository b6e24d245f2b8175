package fuzz

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"go.opentelemetry.io/otel/baggage"
	otelpropagation "go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/internal/w3c"
	"github.com/flowtel/flowtel/propagation"
)

// FuzzTraceParent checks that ParseTraceParent never panics and that on
// accepted input format∘parse gives back the first 55 characters and
// parse∘format∘parse is the identity.
func FuzzTraceParent(f *testing.F) {
	for _, s := range []string{
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff",
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := w3c.ParseTraceParent(s)
		if err != nil {
			if tp != (w3c.TraceParent{}) {
				t.Fatalf("error %v with a non-zero value %+v", err, tp)
			}
			return
		}
		if !tp.IsValid() {
			t.Fatalf("accepted %q as an invalid %+v", s, tp)
		}
		out := string(w3c.AppendTraceParent(nil, tp))
		if out != s[:w3c.TraceParentLen] {
			t.Fatalf("format(parse(%q)) = %q", s, out)
		}
		again, err := w3c.ParseTraceParent(out)
		if err != nil || again != tp {
			t.Fatalf("parse(format(parse(%q))) = %+v, %v; want %+v", s, again, err, tp)
		}
		for _, sampled := range []bool{false, true} {
			c := tp.Child([8]byte{1}, sampled)
			if c.Version != 0 || c.TraceID != tp.TraceID || c.Random() != tp.Random() || c.Sampled() != sampled || c.Flags&^w3c.FlagsKnown != 0 {
				t.Fatalf("%q: Child(sampled=%v) = %+v", s, sampled, c)
			}
		}
	})
}

type tsMember struct{ k, v string }

func traceStateMembers(ts w3c.TraceState) []tsMember {
	var out []tsMember
	for k, v := range ts.All() {
		out = append(out, tsMember{k, v})
	}
	return out
}

// The tracestate grammar of Trace Context Level 2, as regular expressions.
var (
	tsKeyRE   = regexp.MustCompile(`^([a-z][a-z0-9_\-*/]{0,255}|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13})$`)
	tsValueRE = regexp.MustCompile(`^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$`)
)

// FuzzTraceState checks that ParseTraceState never panics and keeps
// exactly what the W3C test suite expects: every list-member of a header
// whose members all match the (Level 1) grammar, with distinct keys, at
// most 32, in order, and nothing of any other header (or of one longer
// than MaxTraceStateBytes); that it reports an error exactly when it
// discarded the header; and that parse∘format∘parse is the identity.
func FuzzTraceState(f *testing.F) {
	for _, s := range []string{
		"rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
		" rojo=1 ,\t,congo=2 ",
		"fw529a3039@dt=Zm9vYmFy,a@b=c",
		"1a=1,foo@@bar=2,foo@=3,@x=4",
		"a=1,a=2",
		"a=1,B=2,c=3",
		"A=1",
		"a= x",
		strings.Repeat("k=v,", 40),
		"",
		",",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := w3c.ParseTraceState(s)
		dropped := len(s) > w3c.MaxTraceStateBytes
		var want []tsMember
		seen := map[string]bool{}
		for _, m := range strings.Split(s, ",") {
			m = strings.Trim(m, " \t")
			if m == "" || dropped {
				continue
			}
			k, v, ok := strings.Cut(m, "=")
			if !ok || !tsKeyRE.MatchString(k) || !tsValueRE.MatchString(v) || seen[k] || len(want) == w3c.MaxTraceStateMembers {
				dropped = true
				continue
			}
			seen[k] = true
			want = append(want, tsMember{k, v})
		}
		if dropped {
			want = nil
		}
		list := traceStateMembers(ts)
		if !slices.Equal(list, want) || ts.Len() != len(want) {
			t.Fatalf("%q: kept %v (Len %d), want %v", s, list, ts.Len(), want)
		}
		if (err != nil) != dropped || err != nil && !errors.Is(err, w3c.ErrTraceState) {
			t.Fatalf("%q: error %v, dropped %v", s, err, dropped)
		}
		out := ts.String()
		if string(w3c.AppendTraceState(nil, ts)) != out {
			t.Fatalf("%q: AppendTraceState and String differ", s)
		}
		again, err := w3c.ParseTraceState(out)
		if err != nil {
			t.Fatalf("parse(format(parse(%q))) = %q: %v", s, out, err)
		}
		if !slices.Equal(traceStateMembers(again), list) || again.String() != out {
			t.Fatalf("parse(format(parse(%q))) = %q, want %q", s, again.String(), out)
		}
		for _, m := range list {
			if v, ok := ts.Get(m.k); !ok || v != m.v {
				t.Fatalf("%q: Get(%q) = %q, %v; want %q", s, m.k, v, ok, m.v)
			}
		}
		if cut := ts.Truncate(w3c.MinTraceStateBytes); len(cut.String()) > w3c.MinTraceStateBytes ||
			len(out) <= w3c.MinTraceStateBytes && cut.String() != out {
			t.Fatalf("%q: Truncate(%d) = %q", s, w3c.MinTraceStateBytes, cut.String())
		}
	})
}

type bagMember struct{ k, raw, v, props string }

func baggageMembers(t *testing.T, b w3c.Baggage) []bagMember {
	var out []bagMember
	for m := range b.All() {
		v := m.Value()
		if !utf8.ValidString(v) {
			t.Fatalf("member %q: Value %q is not UTF-8", m.Key, v)
		}
		if string(m.AppendValue(nil)) != v {
			t.Fatalf("member %q: AppendValue and Value differ", m.Key)
		}
		var props []byte
		for p := range m.Properties() {
			props = append(props, ';')
			props = append(props, p.Key...)
			if p.HasValue {
				props = append(props, '=')
				props = append(props, p.Value()...)
			}
		}
		out = append(out, bagMember{m.Key, m.RawValue(), v, string(props)})
	}
	return out
}

// FuzzBaggage checks that ParseBaggage never panics, keeps its limits, and
// that parse∘format∘parse is the identity on what it kept (invalid members
// are dropped, so the kept part is the accepted input).
func FuzzBaggage(f *testing.F) {
	for _, s := range []string{
		"userId=alice,serverNode=DF%2028,isProduction=false;ttl=60",
		" a = 1 ;p; q = 2 ,,b=%FF",
		"a=1,b,c=%zz,d=x y",
		"k=v;;p;",
		"k=v; ",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, _ := w3c.ParseBaggage(s)
		list := baggageMembers(t, b)
		if len(list) != b.Len() || b.Len() > w3c.MaxBaggageMembers {
			t.Fatalf("%q: Len %d, %d members", s, b.Len(), len(list))
		}
		out := b.String()
		if string(w3c.AppendBaggage(nil, b)) != out || len(out) > len(s) {
			t.Fatalf("%q: formatted %q", s, out)
		}
		again, err := w3c.ParseBaggage(out)
		if err != nil {
			t.Fatalf("parse(format(parse(%q))) = %q: %v", s, out, err)
		}
		if !slices.Equal(baggageMembers(t, again), list) || again.String() != out {
			t.Fatalf("parse(format(parse(%q))) = %q", s, again.String())
		}
	})
}

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
