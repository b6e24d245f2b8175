package propagation

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/baggage"
	otelpropagation "go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/internal/testkit"
)

const (
	tpValid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tsValid = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
	bgValid = "userId=alice,serverNode=DF%2028,isProduction=false;p=1"
)

var otelProp = otelpropagation.NewCompositeTextMapPropagator(otelpropagation.TraceContext{}, otelpropagation.Baggage{})

// randSpanContext returns a valid random SpanContext with a tracestate of
// up to 32 members.
func randSpanContext(rng *rand.Rand) engine.SpanContext {
	var sc engine.SpanContext
	for sc.TraceID.IsZero() {
		for i := range sc.TraceID {
			sc.TraceID[i] = byte(rng.IntN(256))
		}
	}
	for sc.SpanID.IsZero() {
		for i := range sc.SpanID {
			sc.SpanID[i] = byte(rng.IntN(256))
		}
	}
	sc.Sampled = rng.IntN(2) == 0
	var ts []string
	for i := range rng.IntN(33) {
		const chars = "abcdefghijklmnopqrstuvwxyz0123456789!#$%&*+-./:;<>?@[]^_`{|}~"
		v := make([]byte, 1+rng.IntN(20))
		for k := range v {
			v[k] = chars[rng.IntN(len(chars))]
		}
		key := fmt.Sprintf("k%d", i)
		if rng.IntN(4) == 0 {
			key = fmt.Sprintf("t%d@sys", i)
		}
		ts = append(ts, key+"="+string(v))
	}
	sc.TraceState = strings.Join(ts, ",")
	return sc
}

// randBaggage returns up to 16 members with arbitrary UTF-8 values, as
// key → decoded value, in insertion order.
func randBaggage(rng *rand.Rand) (keys, values []string) {
	for i := range rng.IntN(17) {
		keys = append(keys, fmt.Sprintf("key%d", i))
		var v []rune
		for range rng.IntN(12) {
			switch rng.IntN(4) {
			case 0:
				v = append(v, rune('a'+rng.IntN(26)))
			case 1:
				v = append(v, []rune(" %,;=\"\\")[rng.IntN(7)])
			case 2:
				v = append(v, rune(0x4e00+rng.IntN(100)))
			default:
				v = append(v, rune(0x21+rng.IntN(0x5e)))
			}
		}
		values = append(values, string(v))
	}
	return keys, values
}

// insertAll returns the baggage of keys and values.
func insertAll(t *testing.T, keys, values []string) Baggage {
	t.Helper()
	var b Baggage
	for i := range keys {
		var err error
		if b, err = b.Insert(keys[i], values[i]); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// TestPropagationToOTel injects with flowtel and extracts with
// OpenTelemetry's TraceContext and Baggage propagators.
func TestPropagationToOTel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 300; i++ {
		sc := randSpanContext(rng)
		keys, values := randBaggage(rng)
		b := insertAll(t, keys, values)
		for _, kind := range []string{"http", "grpc"} {
			var carrier otelpropagation.TextMapCarrier
			if kind == "http" {
				h := http.Header{}
				InjectHTTP(h, sc, b)
				carrier = otelpropagation.HeaderCarrier(h)
			} else {
				md := metadata.MD{}
				InjectGRPC(md, sc, b)
				carrier = mdCarrier(md)
			}
			ctx := otelProp.Extract(context.Background(), carrier)
			got := trace.SpanContextFromContext(ctx)
			if !got.IsRemote() || got.TraceID() != trace.TraceID(sc.TraceID) || got.SpanID() != trace.SpanID(sc.SpanID) ||
				got.IsSampled() != sc.Sampled || got.TraceState().String() != sc.TraceState {
				t.Fatalf("%s: OTel extracted %v from %+v", kind, got, sc)
			}
			ob := baggage.FromContext(ctx)
			if ob.Len() != len(keys) {
				t.Fatalf("%s: OTel baggage has %d members, want %d (%q)", kind, ob.Len(), len(keys), b.String())
			}
			for k := range keys {
				if v := ob.Member(keys[k]).Value(); v != values[k] {
					t.Fatalf("%s: OTel baggage %s = %q, want %q", kind, keys[k], v, values[k])
				}
			}
		}
	}
}

// TestPropagationFromOTel injects with OpenTelemetry and extracts with
// flowtel, over http.Header and gRPC metadata.
func TestPropagationFromOTel(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 300; i++ {
		want := randSpanContext(rng)
		ts, err := trace.ParseTraceState(want.TraceState)
		if err != nil {
			t.Fatal(err)
		}
		cfg := trace.SpanContextConfig{TraceID: trace.TraceID(want.TraceID), SpanID: trace.SpanID(want.SpanID), TraceState: ts}
		if want.Sampled {
			cfg.TraceFlags = trace.FlagsSampled
		}
		keys, values := randBaggage(rng)
		var members []baggage.Member
		for k := range keys {
			m, err := baggage.NewMemberRaw(keys[k], values[k])
			if err != nil {
				t.Fatal(err)
			}
			members = append(members, m)
		}
		ob, err := baggage.New(members...)
		if err != nil {
			t.Fatal(err)
		}
		ctx := baggage.ContextWithBaggage(trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(cfg)), ob)

		h := http.Header{}
		otelProp.Inject(ctx, otelpropagation.HeaderCarrier(h))
		md := metadata.MD{}
		otelProp.Inject(ctx, mdCarrier(md))
		var p Propagator
		for kind, extract := range map[string]func() (engine.SpanContext, Baggage){
			"http":            func() (engine.SpanContext, Baggage) { return p.ExtractHTTP(h) },
			"grpc":            func() (engine.SpanContext, Baggage) { return p.ExtractGRPC(md) },
			"http-standalone": func() (engine.SpanContext, Baggage) { sc, b, _ := ExtractHTTP(h); return sc, b },
		} {
			sc, b := extract()
			if sc != want {
				t.Fatalf("%s: extracted %+v, want %+v", kind, sc, want)
			}
			if b.Len() != len(keys) {
				t.Fatalf("%s: %d baggage members, want %d", kind, b.Len(), len(keys))
			}
			for k := range keys {
				m, ok := b.Get(keys[k])
				if !ok || m.Value() != values[k] {
					t.Fatalf("%s: baggage %s = %q, want %q", kind, keys[k], m.Value(), values[k])
				}
			}
		}
		if s := p.Stats(); s.TraceParentInvalid+s.TraceStateInvalid+s.BaggageInvalid != 0 || s.Joined != s.Extracted {
			t.Fatalf("valid carriers counted as malformed: %+v", s)
		}
	}
}

// mdCarrier adapts gRPC metadata to OpenTelemetry's TextMapCarrier, as
// otelgrpc does.
type mdCarrier metadata.MD

func (c mdCarrier) Get(k string) string {
	if v := metadata.MD(c).Get(k); len(v) > 0 {
		return v[0]
	}
	return ""
}
func (c mdCarrier) Set(k, v string) { metadata.MD(c).Set(k, v) }
func (c mdCarrier) Keys() []string {
	out := make([]string, 0, len(c))
	for k := range c {
		out = append(out, k)
	}
	return out
}

// TestExtractMalformed checks the carrier rules and that every malformed
// header is counted by kind, never a panic.
func TestExtractMalformed(t *testing.T) {
	tests := []struct {
		name          string
		tp, ts, bag   []string
		wantJoined    bool
		wantTraceSt   string
		wantBagLen    int
		badTP, badTS  bool
		badBag        bool
		wantErrTarget error
	}{
		{name: "valid", tp: []string{tpValid}, ts: []string{tsValid}, bag: []string{bgValid}, wantJoined: true, wantTraceSt: tsValid, wantBagLen: 3},
		{name: "none"},
		{name: "bad traceparent drops tracestate", tp: []string{"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"}, ts: []string{tsValid}, bag: []string{bgValid}, wantBagLen: 3, badTP: true, wantErrTarget: ErrTraceParent},
		{name: "zero trace id", tp: []string{"00-00000000000000000000000000000000-00f067aa0ba902b7-01"}, badTP: true, wantErrTarget: ErrTraceParent},
		{name: "two traceparents", tp: []string{tpValid, tpValid}, badTP: true, wantErrTarget: ErrTraceParent},
		{name: "bad tracestate keeps traceparent", tp: []string{tpValid}, ts: []string{"Bad=1"}, wantJoined: true, badTS: true, wantErrTarget: ErrTraceState},
		{name: "bad tracestate member discards the header", tp: []string{tpValid}, ts: []string{"a=1,Bad=1,1b@c=2"}, wantJoined: true, badTS: true, wantErrTarget: ErrTraceState},
		{name: "tracestate lines joined", tp: []string{tpValid}, ts: []string{"a=1", "b=2"}, wantJoined: true, wantTraceSt: "a=1,b=2"},
		{name: "tracestate duplicate across lines", tp: []string{tpValid}, ts: []string{"a=1", "a=2"}, wantJoined: true, badTS: true, wantErrTarget: ErrTraceState},
		{name: "tracestate normalized", tp: []string{tpValid}, ts: []string{"a=1 , ,b=2"}, wantJoined: true, wantTraceSt: "a=1,b=2"},
		{name: "32 tracestate members", tp: []string{tpValid}, ts: []string{manyMembers(32)}, wantJoined: true, wantTraceSt: manyMembers(32)},
		{name: "33 tracestate members", tp: []string{tpValid}, ts: []string{manyMembers(33)}, wantJoined: true, badTS: true, wantErrTarget: ErrLimit},
		{name: "baggage lines joined", bag: []string{"a=1", "b=2"}, wantBagLen: 2},
		{name: "bad baggage member dropped", bag: []string{"a=1,=x,b=2"}, wantBagLen: 2, badBag: true, wantErrTarget: ErrBaggage},
		{name: "baggage too large", bag: []string{"a=" + strings.Repeat("x", 8191)}, badBag: true, wantErrTarget: ErrLimit},
		{name: "baggage lines too large together", bag: []string{"a=" + strings.Repeat("x", 5000), "b=" + strings.Repeat("x", 5000)}, badBag: true, wantErrTarget: ErrLimit},
		{name: "181 baggage members", bag: []string{manyMembers(181)}, wantBagLen: 180, badBag: true, wantErrTarget: ErrLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			md := metadata.MD{}
			for k, v := range map[string][]string{"traceparent": tt.tp, "tracestate": tt.ts, "baggage": tt.bag} {
				if v != nil {
					h[http.CanonicalHeaderKey(k)] = v
					md[k] = v
				}
			}
			var p Propagator
			for _, got := range []func() (engine.SpanContext, Baggage){
				func() (engine.SpanContext, Baggage) { return p.ExtractHTTP(h) },
				func() (engine.SpanContext, Baggage) { return p.ExtractGRPC(md) },
			} {
				sc, b := got()
				if sc.IsValid() != tt.wantJoined || sc.TraceState != tt.wantTraceSt || b.Len() != tt.wantBagLen {
					t.Fatalf("got %+v and %d baggage members", sc, b.Len())
				}
			}
			s := p.Stats()
			b2u := func(b bool) uint64 {
				if b {
					return 2
				}
				return 0
			}
			want := Stats{Extracted: 2, Joined: b2u(tt.wantJoined), TraceParentInvalid: b2u(tt.badTP), TraceStateInvalid: b2u(tt.badTS), BaggageInvalid: b2u(tt.badBag)}
			if s != want {
				t.Fatalf("stats %+v, want %+v", s, want)
			}
			_, _, err := ExtractHTTP(h)
			if (err != nil) != (tt.wantErrTarget != nil) || (err != nil && !errors.Is(err, tt.wantErrTarget)) {
				t.Fatalf("error %v, want one wrapping %v", err, tt.wantErrTarget)
			}
		})
	}
}

func manyMembers(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "k%d=v", i)
	}
	return b.String()
}

// TestStartRunFromCarrier checks that a run started from a carrier joins
// the caller's trace and that a node hands out its own span as parent.
func TestStartRunFromCarrier(t *testing.T) {
	sink := &engine.MemorySink{}
	e, err := engine.New(engine.WithSink(sink))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	var p Propagator
	h := http.Header{}
	h.Set("traceparent", tpValid)
	h.Set("tracestate", tsValid)
	h.Set("baggage", bgValid)
	run, b, err := p.StartRunFromHTTP(e, h, engine.RunInfo{FlowID: "f"})
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := b.Get("serverNode"); !ok || m.Value() != "DF 28" {
		t.Fatalf("baggage %q", b.String())
	}
	n := run.StartNode("tool:1", "tool", "call")
	out := http.Header{}
	InjectHTTP(out, n.SpanContext(), b)
	md := metadata.MD{}
	InjectGRPC(md, n.SpanContext(), b)
	nodeSC := n.SpanContext()
	n.End()

	for _, sc := range []engine.SpanContext{mustExtractHTTP(t, out), mustExtractGRPC(t, md)} {
		if sc != nodeSC {
			t.Fatalf("carrier holds %+v, want the node's %+v", sc, nodeSC)
		}
	}
	if out.Get("baggage") != bgValid {
		t.Fatalf("baggage forwarded as %q", out.Get("baggage"))
	}

	// A gRPC server's incoming context.
	ctx := metadata.NewIncomingContext(context.Background(), md)
	run2, _, err := p.StartRunFromGRPC(ctx, e, engine.RunInfo{FlowID: "g"})
	if err != nil {
		t.Fatal(err)
	}
	run2SC := run2.SpanContext()
	run2.End(0, "")
	// A bad carrier starts a new trace and reports the error.
	bad := http.Header{"Traceparent": {"garbage"}, "Tracestate": {tsValid}}
	run3, _, err := p.StartRunFromHTTP(e, bad, engine.RunInfo{FlowID: "h"})
	if !errors.Is(err, ErrTraceParent) {
		t.Fatalf("error %v", err)
	}
	if ps := p.Stats(); ps.Extracted != 3 || ps.Joined != 2 || ps.TraceParentInvalid != 1 {
		t.Fatalf("propagation stats %+v", ps)
	}
	run3.End(0, "")
	run.End(0, "")
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}

	runs := map[string]encode.Run{}
	for _, r := range sink.Runs() {
		runs[r.FlowID] = r
	}
	parent := mustExtractHTTP(t, h)
	if r := runs["f"]; r.TraceID != parent.TraceID || r.ParentSpanID != parent.SpanID || r.TraceState != tsValid {
		t.Fatalf("run f did not join the caller: %+v", r)
	}
	if r := runs["g"]; r.TraceID != parent.TraceID || r.ParentSpanID != nodeSC.SpanID || r.SpanID != run2SC.SpanID {
		t.Fatalf("run g is not the node's child: %+v", r)
	}
	if r := runs["h"]; r.TraceID == parent.TraceID || !r.ParentSpanID.IsZero() || r.TraceState != "" {
		t.Fatalf("run h should start a new trace: %+v", r)
	}
}

func mustExtractHTTP(t *testing.T, h http.Header) engine.SpanContext {
	t.Helper()
	sc, _, err := ExtractHTTP(h)
	if err != nil || !sc.IsValid() {
		t.Fatalf("extract %v: %+v, %v", h, sc, err)
	}
	return sc
}

func mustExtractGRPC(t *testing.T, md metadata.MD) engine.SpanContext {
	t.Helper()
	sc, _, err := ExtractGRPC(md)
	if err != nil || !sc.IsValid() {
		t.Fatalf("extract %v: %+v, %v", md, sc, err)
	}
	return sc
}

// TestOutgoingGRPC checks that the outgoing metadata already in ctx is
// kept and not modified.
func TestOutgoingGRPC(t *testing.T) {
	orig := metadata.Pairs("x-user", "u1")
	ctx := metadata.NewOutgoingContext(context.Background(), orig)
	sc := mustExtractHTTP(t, http.Header{"Traceparent": {tpValid}})
	ctx = OutgoingGRPC(ctx, sc, Baggage{})
	md, _ := metadata.FromOutgoingContext(ctx)
	if md.Get("x-user")[0] != "u1" || md.Get("traceparent")[0] != tpValid {
		t.Fatalf("outgoing metadata %v", md)
	}
	if len(orig.Get("traceparent")) != 0 {
		t.Fatal("the caller's metadata was modified")
	}
}

// TestPropagationAllocs pins the allocation budgets: extraction allocates
// nothing on the common path; injection allocates each header's value and
// map entry.
func TestPropagationAllocs(t *testing.T) {
	h := http.Header{"Traceparent": {tpValid}, "Tracestate": {tsValid}, "Baggage": {bgValid}}
	md := metadata.MD{"traceparent": {tpValid}, "tracestate": {tsValid}, "baggage": {bgValid}}
	badH := http.Header{"Traceparent": {"00-zz"}, "Tracestate": {tsValid}, "Baggage": {"a=1,=,b"}}
	twoLines := http.Header{"Traceparent": {tpValid}, "Tracestate": {"a=1", "b=2"}}
	var p Propagator
	tc, bag, none := New(FormatTraceContext), New(FormatBaggage), New(0)
	sc, b, _ := ExtractHTTP(h)
	out := http.Header{}
	outMD := metadata.MD{}
	for _, tt := range []struct {
		name string
		n    float64
		f    func()
	}{
		{"ExtractHTTP", 0, func() { ExtractHTTP(h) }},
		{"ExtractGRPC", 0, func() { ExtractGRPC(md) }},
		{"Propagator.ExtractHTTP", 0, func() { p.ExtractHTTP(h) }},
		{"Propagator.ExtractHTTP/malformed", 0, func() { p.ExtractHTTP(badH) }},
		// Joining the lines is the one allocation.
		{"ExtractHTTP/two-tracestate-lines", 1, func() { ExtractHTTP(twoLines) }},
		// The traceparent string and one []string per header written.
		{"InjectHTTP", 4, func() { InjectHTTP(out, sc, b) }},
		{"InjectGRPC", 4, func() { InjectGRPC(outMD, sc, b) }},
		{"InjectHTTP/no-tracestate-no-baggage", 2, func() { InjectHTTP(out, engine.SpanContext{TraceID: sc.TraceID, SpanID: sc.SpanID}, Baggage{}) }},
		// A Propagator of fewer formats keeps the budgets: it writes fewer headers.
		{"Propagator.InjectHTTP", 4, func() { p.InjectHTTP(out, sc, b) }},
		{"tracecontext/ExtractHTTP", 0, func() { tc.ExtractHTTP(h) }},
		{"baggage/ExtractGRPC", 0, func() { bag.ExtractGRPC(md) }},
		{"none/ExtractHTTP", 0, func() { none.ExtractHTTP(h) }},
		{"tracecontext/InjectHTTP", 3, func() { tc.InjectHTTP(out, sc, b) }},
		{"baggage/InjectGRPC", 1, func() { bag.InjectGRPC(outMD, sc, b) }},
		{"none/InjectHTTP", 0, func() { none.InjectHTTP(out, sc, b) }},
	} {
		t.Run(tt.name, func(t *testing.T) { testkit.WantAllocs(t, tt.n, tt.f) })
	}
}

func BenchmarkPropagation(b *testing.B) {
	h := http.Header{"Traceparent": {tpValid}, "Tracestate": {tsValid}, "Baggage": {bgValid}}
	sc, bag, _ := ExtractHTTP(h)
	b.Run("ExtractHTTP/flowtel", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ExtractHTTP(h)
		}
	})
	b.Run("ExtractHTTP/otel", func(b *testing.B) {
		b.ReportAllocs()
		c := otelpropagation.HeaderCarrier(h)
		for b.Loop() {
			otelProp.Extract(context.Background(), c)
		}
	})
	b.Run("InjectHTTP/flowtel", func(b *testing.B) {
		b.ReportAllocs()
		out := http.Header{}
		for b.Loop() {
			InjectHTTP(out, sc, bag)
		}
	})
	b.Run("InjectHTTP/otel", func(b *testing.B) {
		b.ReportAllocs()
		ctx := otelProp.Extract(context.Background(), otelpropagation.HeaderCarrier(h))
		out := otelpropagation.HeaderCarrier(http.Header{})
		for b.Loop() {
			otelProp.Inject(ctx, out)
		}
	})
}

// TestStartRunFromPackage checks the package functions, which return the
// error instead of counting it.
func TestStartRunFromPackage(t *testing.T) {
	sink := &engine.MemorySink{}
	e, err := engine.New(engine.WithSink(sink))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	h := http.Header{"Traceparent": {tpValid}}
	run, _, err := StartRunFromHTTP(e, h, engine.RunInfo{FlowID: "http"})
	if err != nil || run.SpanContext().TraceID != mustExtractHTTP(t, h).TraceID {
		t.Fatalf("HTTP: %+v, %v", run.SpanContext(), err)
	}
	run.End(0, "")
	md := metadata.MD{"traceparent": {"garbage"}}
	run, _, err = StartRunFromGRPC(metadata.NewIncomingContext(context.Background(), md), e, engine.RunInfo{FlowID: "grpc"})
	if !errors.Is(err, ErrTraceParent) || !run.IsRecording() {
		t.Fatalf("gRPC: recording %v, %v", run.IsRecording(), err)
	}
	run.End(0, "")
}
