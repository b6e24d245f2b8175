package propagation

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/baggage"
	otelprop "go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/internal/race"
	"github.com/flowtel/flowtel/internal/testkit"
)

// TestOTelPropagatorsDiffer runs ExtractHTTP and OpenTelemetry's composite
// TraceContext+Baggage propagator on the same generated carriers (one to
// three lines per header, optional whitespace, random corruptions) and
// checks that they agree, except where a difference is listed below with
// the side the specification takes:
//
//   - several traceparent lines: refused here, OpenTelemetry takes the
//     first (doc.go, rejected alternatives);
//   - several tracestate lines: joined here, as Trace Context asks ("
//     multiple tracestate header fields MUST be handled as specified by RFC
//     7230 section 3.2.2"); OpenTelemetry's HeaderCarrier.Get reads the
//     first line only, so it is compared with OpenTelemetry's parse of the
//     joined lines;
//   - optional whitespace around a traceparent: trimmed here (the W3C
//     suite's OWS cases); OpenTelemetry refuses it from a carrier;
//   - baggage lines past 8192 bytes together only with the commas of
//     empty lines: kept here, since those add nothing; OpenTelemetry
//     counts them and drops every line;
//   - version 00 with reserved flags or a lone trailing '-', a
//     whitespace-only tracestate member (internal/w3c's doc.go).
//
// Then each side reads what the other injects back to the same context.
func TestOTelPropagatorsDiffer(t *testing.T) {
	n := 20000
	if race.Enabled || testing.Short() {
		n /= 10
	}
	// OpenTelemetry reports a malformed baggage through the global error
	// handler, which logs; the test compares its result instead.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {}))
	r := rand.New(rand.NewPCG(23, 24))
	otel := otelprop.NewCompositeTextMapPropagator(otelprop.TraceContext{}, otelprop.Baggage{})
	var joined, bagKept, bagErr, bagLong int
	var p Propagator
	for range n {
		h := http.Header{}
		tpLines := randLines(r, genTraceParent)
		tsLines := randLines(r, genTraceState)
		bagLines := randLines(r, genBaggage)
		for _, l := range tpLines {
			h.Add("traceparent", l)
		}
		for _, l := range tsLines {
			h.Add("tracestate", l)
		}
		for _, l := range bagLines {
			h.Add("baggage", l)
		}
		before := p.Stats().BaggageInvalid
		sc, b := p.ExtractHTTP(h)
		badBag := p.Stats().BaggageInvalid != before
		ctx := otel.Extract(context.Background(), otelprop.HeaderCarrier(h))
		osc := trace.SpanContextFromContext(ctx)
		ob := baggage.FromContext(ctx)

		// traceparent.
		tpDiffer := len(tpLines) > 1 ||
			(len(tpLines) == 1 && (strings.Trim(tpLines[0], " \t") != tpLines[0] || reservedOrDash(tpLines[0])))
		if !tpDiffer {
			if sc.IsValid() != osc.IsValid() {
				t.Fatalf("traceparent %q: joined %v, OpenTelemetry %v", tpLines, sc.IsValid(), osc.IsValid())
			}
			if sc.IsValid() && (!sameIDs(sc, osc) ||
				sc.Sampled != osc.IsSampled() || sc.Random != osc.TraceFlags().IsRandom()) {
				t.Fatalf("traceparent %q: %+v, OpenTelemetry %v", tpLines, sc, osc)
			}
		}
		// tracestate, where both joined the trace.
		if sc.IsValid() && osc.IsValid() {
			joined++
			want, oerr := trace.ParseTraceState(strings.Join(tsLines, ","))
			if len(tsLines) <= 1 {
				want = osc.TraceState()
			}
			switch {
			case oerr == nil:
				if got := sc.TraceState; got != want.String() {
					t.Fatalf("tracestate %q: forwarded %q, OpenTelemetry %q", tsLines, got, want.String())
				}
			case hasOWSOnlyMember(strings.Join(tsLines, ",")):
				// documented: Level 2 allows it, OpenTelemetry refuses
			case sc.TraceState != "":
				t.Fatalf("tracestate %q: forwarded %q, OpenTelemetry refused it (%v)", tsLines, sc.TraceState, oerr)
			}
		}
		// baggage: OpenTelemetry reads every line (ValuesGetter) and drops
		// them all past 8192 bytes together, as ExtractHTTP does.
		var oerrs error
		for _, l := range bagLines {
			_, e := baggage.Parse(l)
			oerrs = errors.Join(oerrs, e)
		}
		if all := strings.Join(bagLines, ","); len(all) > 8192 {
			oerrs = errors.Join(oerrs, errors.New("lines past 8192 bytes together"))
			bagLong++
			if nonEmpty := strings.Join(slices.DeleteFunc(slices.Clone(bagLines), func(l string) bool { return l == "" }), ","); len(nonEmpty) <= 8192 {
				continue // kept here: the empty lines add nothing (TestEmptyHeaderLines); OpenTelemetry counts their commas
			}
		}
		if got, want := bagMap(b), otelBagMap(ob); !maps.Equal(got, want) {
			t.Fatalf("baggage %q: %v, OpenTelemetry %v", bagLines, got, want)
		}
		if badBag != (oerrs != nil) {
			t.Fatalf("baggage %q: counted malformed %v, OpenTelemetry %v", bagLines, badBag, oerrs)
		}
		if b.Len() > 0 {
			bagKept++
		}
		if oerrs != nil {
			bagErr++
		}

		// Each reads what the other injects.
		out := http.Header{}
		InjectHTTP(out, sc, b)
		back := otel.Extract(context.Background(), otelprop.HeaderCarrier(out))
		if bsc := trace.SpanContextFromContext(back); bsc.IsValid() != sc.IsValid() ||
			sc.IsValid() && (!sameIDs(sc, bsc) || bsc.TraceState().String() != sc.TraceState) {
			t.Fatalf("injected %v: OpenTelemetry read %v, want %+v", out, bsc, sc)
		}
		if got, want := otelBagMap(baggage.FromContext(back)), bagMap(b); !maps.Equal(got, want) {
			t.Fatalf("injected baggage %q: OpenTelemetry read %v, want %v", out.Get("baggage"), got, want)
		}
		oout := http.Header{}
		otel.Inject(ctx, otelprop.HeaderCarrier(oout))
		sc2, b2, err2 := ExtractHTTP(oout)
		if err2 != nil || sc2.IsValid() != osc.IsValid() ||
			osc.IsValid() && (!sameIDs(sc2, osc) || sc2.TraceState != osc.TraceState().String()) {
			t.Fatalf("OpenTelemetry injected %v: read %+v (%v), want %v", oout, sc2, err2, osc)
		}
		if got, want := bagMap(b2), otelBagMap(ob); !maps.Equal(got, want) {
			t.Fatalf("OpenTelemetry injected baggage %q: read %v, want %v", oout.Get("baggage"), got, want)
		}
	}
	if joined < n/10 || bagKept < n/10 || bagErr < n/20 || bagLong == 0 {
		t.Fatalf("exercised too little: %d joined, %d with baggage, %d with bad baggage, %d past 8192 bytes", joined, bagKept, bagErr, bagLong)
	}
	t.Logf("%d carriers: %d joined a trace, %d kept baggage, %d with bad baggage, %d past 8192 bytes", n, joined, bagKept, bagErr, bagLong)
}

// reservedOrDash reports the documented traceparent differences: version
// 00 with reserved flags, or followed by a lone '-'.
func reservedOrDash(s string) bool {
	if len(s) < 55 || s[:2] != "00" {
		return false
	}
	if len(s) == 56 && s[55] == '-' {
		return true
	}
	f := s[53:55]
	return len(s) == 55 && strings.Trim(f, hexDigits) == "" && f != "00" && f != "01" && f != "02" && f != "03"
}

// hasOWSOnlyMember reports whether s holds a whitespace-only list-member.
func hasOWSOnlyMember(s string) bool {
	for m := range strings.SplitSeq(s, ",") {
		if m != "" && strings.Trim(m, " \t") == "" {
			return true
		}
	}
	return false
}

func bagMap(b Baggage) map[string]string {
	out := map[string]string{}
	for m := range b.All() {
		v := m.Value()
		for p := range m.Properties() {
			v += ";" + p.Key
			if p.HasValue {
				v += "=" + p.Value()
			}
		}
		out[m.Key] = v
	}
	return out
}

func otelBagMap(b baggage.Baggage) map[string]string {
	out := map[string]string{}
	for _, m := range b.Members() {
		v := m.Value()
		for _, p := range m.Properties() {
			v += ";" + p.Key()
			if pv, ok := p.Value(); ok {
				v += "=" + pv
			}
		}
		out[m.Key()] = v
	}
	return out
}

// randLines returns zero to three header lines made by gen, each maybe
// corrupted; one line is the most common.
func randLines(r *rand.Rand, gen func(*rand.Rand) string) []string {
	var n int
	switch x := r.IntN(10); {
	case x < 2:
		n = 0
	case x < 8:
		n = 1
	default:
		n = 2 + r.IntN(2)
	}
	lines := make([]string, n)
	for i := range lines {
		lines[i] = gen(r)
		if r.IntN(3) == 0 {
			lines[i] = testkit.Mutate(r, lines[i])
		}
	}
	return lines
}

const hexDigits = "0123456789abcdef"

func genTraceParent(r *rand.Rand) string {
	var sb strings.Builder
	if r.IntN(5) == 0 {
		sb.WriteString(string([]byte{hexDigits[r.IntN(16)], hexDigits[r.IntN(16)]}))
	} else {
		sb.WriteString("00")
	}
	for _, n := range []int{32, 16} {
		sb.WriteByte('-')
		for range n {
			sb.WriteByte(hexDigits[r.IntN(16)])
		}
	}
	sb.WriteString("-0" + string(hexDigits[r.IntN(4)]))
	if r.IntN(8) == 0 {
		sb.WriteString("-ext")
	}
	return sb.String()
}

func genTraceState(r *rand.Rand) string {
	const keyRest = "abcdefghijklmnopqrstuvwxyz0123456789_-*/"
	var ms []string
	n := r.IntN(6)
	if r.IntN(8) == 0 {
		n = 10 + r.IntN(8) // two or three such lines pass 32 members
	}
	for range n {
		k := string(rune('a'+r.IntN(26))) + randFrom(r, keyRest, r.IntN(6))
		if r.IntN(4) == 0 {
			k += "@" + string(rune('a'+r.IntN(26))) + randFrom(r, keyRest, r.IntN(4))
		}
		v := randFrom(r, "abcXYZ019 !\"#$%&'()*+-./:;<>?@[\\]^_`{|}~", 1+r.IntN(8))
		v = strings.TrimRight(v, " ") + "v"
		m := k + "=" + v
		if r.IntN(5) == 0 {
			m = " " + m + "\t"
		}
		ms = append(ms, m)
	}
	return strings.Join(ms, ",")
}

func genBaggage(r *rand.Rand) string {
	const tchar = "!#$%&'*+-.^_`|~abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	const octets = "abcXYZ019!#$&'()*+-./:<=>?@[]^_`{|}~"
	var ms []string
	for range r.IntN(6) {
		m := randFrom(r, tchar, 1+r.IntN(6)) + "=" + randFrom(r, octets, r.IntN(8))
		if r.IntN(16) == 0 {
			m += randFrom(r, octets, 2000+r.IntN(2000)) // lines near the 8192 bytes together
		}
		if r.IntN(4) == 0 {
			m += "%20%E2%82%AC"
		}
		for range r.IntN(3) {
			m += ";" + randFrom(r, tchar, 1+r.IntN(4))
			if r.IntN(2) == 0 {
				m += "=" + randFrom(r, octets, r.IntN(5))
			}
		}
		if r.IntN(5) == 0 {
			m = " " + m + "\t"
		}
		ms = append(ms, m)
	}
	return strings.Join(ms, ",")
}

func randFrom(r *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// sameIDs reports whether sc and osc name the same span.
func sameIDs(sc engine.SpanContext, osc trace.SpanContext) bool {
	return [16]byte(sc.TraceID) == [16]byte(osc.TraceID()) && [8]byte(sc.SpanID) == [8]byte(osc.SpanID())
}
