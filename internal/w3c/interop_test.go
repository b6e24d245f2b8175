package w3c

import (
	"context"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowtel/flowtel/internal/testkit"
)

// These tests hold this package to OpenTelemetry Go's propagators in both
// directions, over random valid headers and random corruptions of them. Every
// disagreement allowed here is listed in doc.go.

// otelExtractTP runs OpenTelemetry's TraceContext propagator on headers.
func otelExtractTP(traceparent, tracestate string) trace.SpanContext {
	c := propagation.MapCarrier{"traceparent": traceparent}
	if tracestate != "" {
		c["tracestate"] = tracestate
	}
	return trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), c))
}

func otelTraceStateMembers(ts trace.TraceState) []kv {
	var out []kv
	ts.Walk(func(k, v string) bool {
		out = append(out, kv{k, v})
		return true
	})
	return out
}

// TestInteropTraceContextFromOTel: what OpenTelemetry injects, this package
// parses to the same ids, flags and tracestate members.
func TestInteropTraceContextFromOTel(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for range iters(2000) {
		tp := randTraceParent(r)
		tsHeader, _, _ := randTraceState(r, false)
		ots, err := trace.ParseTraceState(tsHeader)
		if err != nil {
			t.Fatalf("OpenTelemetry rejects generated tracestate %q: %v", tsHeader, err)
		}
		sc := trace.NewSpanContext(trace.SpanContextConfig{
			TraceID:    tp.TraceID,
			SpanID:     tp.SpanID,
			TraceFlags: trace.TraceFlags(tp.Flags),
			TraceState: ots,
		})
		c := propagation.MapCarrier{}
		propagation.TraceContext{}.Inject(trace.ContextWithSpanContext(context.Background(), sc), c)

		got, err := ParseTraceParent(c.Get("traceparent"))
		if err != nil {
			t.Fatalf("ParseTraceParent(%q): %v", c.Get("traceparent"), err)
		}
		want := TraceParent{TraceID: tp.TraceID, SpanID: tp.SpanID, Flags: tp.Flags & FlagsKnown}
		if got != want {
			t.Fatalf("ParseTraceParent(%q) = %+v, want %+v", c.Get("traceparent"), got, want)
		}
		ts, err := ParseTraceState(c.Get("tracestate"))
		if err != nil {
			t.Fatalf("ParseTraceState(%q): %v", c.Get("tracestate"), err)
		}
		if g, w := members(ts), otelTraceStateMembers(ots); !slices.Equal(g, w) {
			t.Fatalf("tracestate members %v, want %v", g, w)
		}
	}
}

// TestInteropTraceContextToOTel: what this package formats, OpenTelemetry
// extracts to the same span context.
func TestInteropTraceContextToOTel(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for i := range iters(2000) {
		tp := randTraceParent(r)
		tp.Flags &= FlagsKnown
		tsHeader, _, list := randTraceState(r, i%2 == 1)
		ts, err := ParseTraceState(tsHeader)
		if err != nil {
			t.Fatal(err)
		}
		var tpBuf [TraceParentLen]byte
		sc := otelExtractTP(string(AppendTraceParent(tpBuf[:0], tp)), string(AppendTraceState(nil, ts)))
		if !sc.IsValid() || sc.TraceID() != tp.TraceID || sc.SpanID() != tp.SpanID || byte(sc.TraceFlags()) != tp.Flags || !sc.IsRemote() {
			t.Fatalf("OpenTelemetry extracted %v from %+v", sc, tp)
		}
		if g := otelTraceStateMembers(sc.TraceState()); !slices.Equal(g, list) {
			t.Fatalf("OpenTelemetry tracestate %v, want %v", g, list)
		}
		if sc.TraceState().String() != ts.String() {
			t.Fatalf("tracestate string %q, want %q", sc.TraceState().String(), ts.String())
		}
	}
}

// TestInteropTraceParentInvalid: over corruptions of valid headers, both
// reject or both accept the same value. The one documented difference:
// version 00 with reserved flag bits, which OpenTelemetry rejects.
func TestInteropTraceParentInvalid(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	var rejected, accepted, differ int
	for range iters(20000) {
		tp := randTraceParent(r)
		tp.Flags &= FlagsKnown
		if r.IntN(4) == 0 {
			tp.Version = byte(1 + r.IntN(0xfe))
		}
		s := tp.String()
		if r.IntN(4) == 0 {
			s += "-" + testkit.Mutate(r, "ext")
		}
		s = testkit.Mutate(r, s)
		got, err := ParseTraceParent(s)
		sc := otelExtractTP(s, "")
		switch {
		case err != nil && !sc.IsValid():
			rejected++
		case err == nil && sc.IsValid():
			accepted++
			if sc.TraceID() != got.TraceID || sc.SpanID() != got.SpanID || byte(sc.TraceFlags()) != got.Flags&FlagsKnown {
				t.Fatalf("%q: parsed %+v, OpenTelemetry %v", s, got, sc)
			}
		case err == nil && got.Version == 0 && got.Flags&^FlagsKnown != 0:
			differ++ // documented: reserved flags in version 00
		case err != nil && len(s) == TraceParentLen+1 && s[:2] == "00" && s[TraceParentLen] == '-':
			// documented: OpenTelemetry accepts version 00 followed by a lone dash
		default:
			t.Fatalf("%q: ParseTraceParent error %v, OpenTelemetry valid %v", s, err, sc.IsValid())
		}
	}
	if rejected == 0 || accepted == 0 {
		t.Fatalf("corruptions exercised too little: %d rejected, %d accepted", rejected, accepted)
	}
	t.Logf("%d rejected by both, %d accepted by both, %d reserved-flag differences", rejected, accepted, differ)
}

// hasWhitespaceOnlyMember reports whether s holds a list-member made only of
// optional whitespace, which Level 2 allows and OpenTelemetry rejects.
func hasWhitespaceOnlyMember(s string) bool {
	for m := range strings.SplitSeq(s, ",") {
		if m != "" && trimOWS(m) == "" {
			return true
		}
	}
	return false
}

// TestInteropTraceStateInvalid: over corruptions of valid headers, a header
// OpenTelemetry accepts is kept whole here with the same members. A header
// it rejects is discarded here too, unless it holds a whitespace-only
// member, which Level 2 allows and OpenTelemetry does not (documented).
func TestInteropTraceStateInvalid(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	var rejected, accepted, wsOnly int
	for range iters(20000) {
		in, _, _ := randTraceState(r, r.IntN(2) == 0)
		in = testkit.Mutate(r, in)
		ts, err := ParseTraceState(in)
		ots, oerr := trace.ParseTraceState(in)
		switch {
		case oerr == nil:
			accepted++
			if g, w := members(ts), otelTraceStateMembers(ots); err != nil || !slices.Equal(g, w) {
				t.Fatalf("%q: members %v (%v), OpenTelemetry %v", in, g, err, w)
			}
		case err != nil:
			rejected++
			if ts.Len() != 0 {
				t.Fatalf("%q: ParseTraceState kept %v with error %v", in, members(ts), err)
			}
		case hasWhitespaceOnlyMember(in):
			wsOnly++ // documented: Level 2 allows it, OpenTelemetry rejects the header
		default:
			t.Fatalf("%q: ParseTraceState kept %v, OpenTelemetry error %v", in, members(ts), oerr)
		}
	}
	if rejected == 0 || accepted == 0 || wsOnly == 0 {
		t.Fatalf("corruptions exercised too little: %d rejected, %d accepted, %d whitespace-only members", rejected, accepted, wsOnly)
	}
}

// otelBag is OpenTelemetry's view of a baggage: key -> value and
// normalized properties.
func otelBag(b baggage.Baggage) map[string]bm {
	out := map[string]bm{}
	for _, m := range b.Members() {
		var props strings.Builder
		for _, p := range m.Properties() {
			props.WriteString(";" + p.Key())
			if v, ok := p.Value(); ok {
				props.WriteString("=" + v)
			}
		}
		out[m.Key()] = bm{m.Key(), m.Value(), props.String()}
	}
	return out
}

// lastWins is this package's view with OpenTelemetry's duplicate rule.
func lastWins(b Baggage) map[string]bm {
	out := map[string]bm{}
	for _, m := range bagMembers(b) {
		out[m.key] = m
	}
	return out
}

// randBaggageHeader returns a random valid header of at most 64 distinct
// members, with properties, percent-escapes and optional whitespace.
func randBaggageHeader(r *rand.Rand) string {
	var parts []string
	seen := map[string]bool{}
	ows := func() string { return []string{"", "", " ", "\t", " \t"}[r.IntN(5)] }
	for range r.IntN(65) {
		k := randBaggageKey(r)
		if seen[k] {
			continue
		}
		seen[k] = true
		v := string(appendEscaped(nil, randUTF8(r)))
		if r.IntN(4) == 0 {
			v += "%ff" // decodes to U+FFFD
		}
		m := ows() + k + ows() + "=" + ows() + v + ows()
		for range r.IntN(3) {
			m += ";" + ows() + randBaggageKey(r)
			if r.IntN(2) == 0 {
				m += ows() + "=" + ows() + string(appendEscaped(nil, randUTF8(r)))
			}
			m += ows()
		}
		parts = append(parts, m)
	}
	return strings.Join(parts, ",")
}

// TestInteropBaggageFromOTel: what OpenTelemetry injects, this package
// parses to the same members.
func TestInteropBaggageFromOTel(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for range iters(1000) {
		var ms []baggage.Member
		for range r.IntN(20) {
			var props []baggage.Property
			for range r.IntN(3) {
				var p baggage.Property
				var err error
				if r.IntN(2) == 0 {
					p, err = baggage.NewKeyProperty(randBaggageKey(r))
				} else {
					p, err = baggage.NewKeyValuePropertyRaw(randBaggageKey(r), randUTF8(r))
				}
				if err != nil {
					t.Fatal(err)
				}
				props = append(props, p)
			}
			m, err := baggage.NewMemberRaw(randBaggageKey(r), randUTF8(r), props...)
			if err != nil {
				t.Fatal(err)
			}
			ms = append(ms, m)
		}
		ob, err := baggage.New(ms...)
		if err != nil {
			t.Fatal(err)
		}
		c := propagation.MapCarrier{}
		propagation.Baggage{}.Inject(baggage.ContextWithBaggage(context.Background(), ob), c)
		b, err := ParseBaggage(c.Get("baggage"))
		if err != nil {
			t.Fatalf("ParseBaggage(%q): %v", c.Get("baggage"), err)
		}
		if g, w := lastWins(b), otelBag(ob); !maps.Equal(g, w) || b.Len() != ob.Len() {
			t.Fatalf("ParseBaggage(%q) = %v, want %v", c.Get("baggage"), g, w)
		}
	}
}

// TestInteropBaggageToOTel: what this package formats, OpenTelemetry
// extracts to the same members; and both read the same raw header the same.
func TestInteropBaggageToOTel(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	for range iters(1000) {
		in := randBaggageHeader(r)
		b, err := ParseBaggage(in)
		if err != nil {
			t.Fatalf("ParseBaggage(%q): %v", in, err)
		}
		direct, err := baggage.Parse(in)
		if err != nil {
			t.Fatalf("OpenTelemetry rejects generated %q: %v", in, err)
		}
		c := propagation.MapCarrier{"baggage": string(AppendBaggage(nil, b))}
		ob := baggage.FromContext(propagation.Baggage{}.Extract(context.Background(), c))
		want := lastWins(b)
		if g := otelBag(ob); !maps.Equal(g, want) {
			t.Fatalf("OpenTelemetry extracted %v from %q, want %v", g, c.Get("baggage"), want)
		}
		if g := otelBag(direct); !maps.Equal(g, want) {
			t.Fatalf("OpenTelemetry parsed %v from %q, want %v", g, in, want)
		}
	}
}

// TestInteropBaggageInvalid: over corruptions of valid headers, both keep
// the same members and both report an error or neither does.
func TestInteropBaggageInvalid(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	var withErr, clean int
	for range iters(4000) {
		in := testkit.Mutate(r, randBaggageHeader(r))
		b, err := ParseBaggage(in)
		ob, oerr := baggage.Parse(in)
		if (err == nil) != (oerr == nil) {
			t.Fatalf("%q: ParseBaggage error %v, OpenTelemetry error %v", in, err, oerr)
		}
		if err != nil {
			withErr++
		} else {
			clean++
		}
		if g, w := lastWins(b), otelBag(ob); !maps.Equal(g, w) {
			t.Fatalf("%q: members %v, OpenTelemetry %v", in, g, w)
		}
	}
	if withErr == 0 || clean == 0 {
		t.Fatalf("corruptions exercised too little: %d with errors, %d clean", withErr, clean)
	}
}

// TestInteropDocumentedDifferences pins each deliberate difference, so a
// change on either side shows up here.
func TestInteropDocumentedDifferences(t *testing.T) {
	// Reserved flags in version 00.
	reserved := validTP[:53] + "05"
	if tp, err := ParseTraceParent(reserved); err != nil || tp.Flags != 5 {
		t.Fatalf("ParseTraceParent(%q) = %+v, %v", reserved, tp, err)
	}
	if otelExtractTP(reserved, "").IsValid() {
		t.Fatal("OpenTelemetry now accepts reserved flags in version 00: update doc.go")
	}
	// Version 00 followed by a lone dash.
	dash := validTP + "-"
	if _, err := ParseTraceParent(dash); err == nil {
		t.Fatalf("ParseTraceParent(%q) accepted 56 characters for version 00", dash)
	}
	if !otelExtractTP(dash, "").IsValid() {
		t.Fatal("OpenTelemetry now rejects version 00 with a trailing dash: update doc.go")
	}
	// Whitespace-only tracestate member.
	if _, err := ParseTraceState(" ,a=1"); err != nil {
		t.Fatal(err)
	}
	if _, err := trace.ParseTraceState(" ,a=1"); err == nil {
		t.Fatal("OpenTelemetry now accepts whitespace-only members: update doc.go")
	}
	// Keys outside the Level 1 grammar, duplicate keys, invalid members and
	// more than 32 members: both discard the whole header.
	var many []string
	for i := range 33 {
		many = append(many, "k"+strings.Repeat("x", i)+"=v")
	}
	for _, in := range []string{"1a=1", "foo@=1", "a@b@c=1", "t@" + strings.Repeat("v", 15) + "=1", "a=1,B=2,a=3,c=4", "a=1,a=2", strings.Join(many, ",")} {
		if ts, err := ParseTraceState(in); err == nil || ts.Len() != 0 {
			t.Fatalf("ParseTraceState(%q) kept %q (%v)", in, ts.String(), err)
		}
		if ots, err := trace.ParseTraceState(in); err == nil || ots.Len() != 0 {
			t.Fatalf("OpenTelemetry now keeps part of %q: update doc.go", in)
		}
	}
	// More than 64 baggage members.
	var list []string
	for i := range 100 {
		list = append(list, "k"+strings.Repeat("x", i)+"=v")
	}
	b, err := ParseBaggage(strings.Join(list, ","))
	ob, _ := baggage.Parse(strings.Join(list, ","))
	if err != nil || b.Len() != 100 || ob.Len() != 64 {
		t.Fatalf("100 members: kept %d (%v), OpenTelemetry %d", b.Len(), err, ob.Len())
	}
	// Whitespace other than SP and HTAB around a baggage value.
	if _, err := ParseBaggage("a=1\n"); err == nil {
		t.Fatal("ParseBaggage accepted a newline as whitespace")
	}
	if ob, err := baggage.Parse("a=1\n"); err != nil || ob.Len() != 1 {
		t.Fatalf("OpenTelemetry now rejects a trailing newline (%v): update doc.go", err)
	}
}
