package propagation

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/flowtel/flowtel/engine"
)

// TestParseFormats checks OTEL_PROPAGATORS as the SDK environment
// specification reads it, then lists built at random against the
// accepted and refused sets: a name outside tracecontext, baggage and
// none, or none beside a format, is refused; otherwise the formats named,
// both when none is named.
func TestParseFormats(t *testing.T) {
	for s, want := range map[string]Formats{
		"":                                FormatsAll,
		"  ":                              FormatsAll,
		",":                               FormatsAll,
		"tracecontext,baggage":            FormatsAll,
		"baggage, TraceContext":           FormatsAll,
		"tracecontext":                    FormatTraceContext,
		" TRACECONTEXT ,tracecontext":     FormatTraceContext,
		"baggage":                         FormatBaggage,
		"Baggage,,baggage,":               FormatBaggage,
		"none":                            0,
		" None ,none":                     0,
		"\ttracecontext\t,\tbaggage\t":    FormatsAll,
		"tracecontext,baggage,baggage,  ": FormatsAll,
	} {
		if got, err := ParseFormats(s); err != nil || got != want {
			t.Errorf("ParseFormats(%q) = %b, %v; want %b", s, got, err, want)
		}
	}
	for _, s := range []string{"b3", "tracecontext,b3", "jaeger", "xray", "ottrace", "b3multi", "trace-context",
		"tracecontext baggage", "tracecontext;baggage", "none,tracecontext", "baggage,NONE", "w3c"} {
		if _, err := ParseFormats(s); !errors.Is(err, ErrPropagators) {
			t.Errorf("ParseFormats(%q): %v, want ErrPropagators", s, err)
		}
	}

	names := []string{"tracecontext", "baggage", "none", "", "b3", "b3multi", "jaeger", "xray", "trace context", "tracecontex"}
	rng := rand.New(rand.NewPCG(16, 16))
	for range 20000 {
		var items []string
		var want Formats
		none, refused := false, false
		for range 1 + rng.IntN(5) {
			n := names[rng.IntN(len(names))]
			switch n {
			case "tracecontext":
				want |= FormatTraceContext
			case "baggage":
				want |= FormatBaggage
			case "none":
				none = true
			case "":
			default:
				refused = true
			}
			items = append(items, randSpace(rng)+randCase(rng, n)+randSpace(rng))
		}
		switch {
		case none && want != 0:
			refused = true
		case none:
		case want == 0:
			want = FormatsAll
		}
		s := strings.Join(items, ",")
		got, err := ParseFormats(s)
		if refused {
			if !errors.Is(err, ErrPropagators) {
				t.Fatalf("ParseFormats(%q) = %b, %v; want refused", s, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Fatalf("ParseFormats(%q) = %b, %v; want %b", s, got, err, want)
		}
	}
}

func randSpace(rng *rand.Rand) string { return [...]string{"", "", " ", "\t", "  "}[rng.IntN(5)] }

func randCase(rng *rand.Rand, s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' && rng.IntN(3) == 0 {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// TestFromEnv: FromEnv's Propagator speaks what OTEL_PROPAGATORS names;
// unset, both; a refused value is an error naming the variable.
func TestFromEnv(t *testing.T) {
	for v, want := range map[string]Formats{"": FormatsAll, "tracecontext": FormatTraceContext, "Baggage": FormatBaggage, "none": 0} {
		t.Setenv("OTEL_PROPAGATORS", v)
		p, err := FromEnv()
		if err != nil || p.Formats() != want {
			t.Errorf("OTEL_PROPAGATORS=%q: %v, %v; want %b", v, p.Formats(), err, want)
		}
	}
	t.Setenv("OTEL_PROPAGATORS", "b3")
	if _, err := FromEnv(); !errors.Is(err, ErrPropagators) || !strings.Contains(err.Error(), "OTEL_PROPAGATORS") {
		t.Errorf("OTEL_PROPAGATORS=b3: %v", err)
	}
	var zero Propagator
	var nilP *Propagator
	if zero.Formats() != FormatsAll || nilP.Formats() != FormatsAll || New(FormatsAll).Formats() != FormatsAll {
		t.Error("the zero, nil or New(FormatsAll) Propagator does not speak both formats")
	}
}

// formatCase is one Propagator under test and the formats it should speak.
type formatCase struct {
	name string
	p    *Propagator
	tc   bool // speaks tracecontext
	bag  bool // speaks baggage
}

func formatCases() []formatCase {
	return []formatCase{
		{"zero", &Propagator{}, true, true},
		{"tracecontext", New(FormatTraceContext), true, false},
		{"baggage", New(FormatBaggage), false, true},
		{"none", New(0), false, false},
	}
}

// carrierSC returns the span the tests propagate and its baggage.
func carrierSC(t *testing.T) (engine.SpanContext, Baggage) {
	t.Helper()
	sc, b, err := ExtractHTTP(http.Header{"Traceparent": {tpValid}, "Tracestate": {tsValid}, "Baggage": {bgValid}})
	if err != nil {
		t.Fatal(err)
	}
	return sc, b
}

// formatSetup returns an engine for the servers' runs, shut down at the
// test's end, and the span and baggage the clients send.
func formatSetup(t *testing.T) (*engine.Engine, engine.SpanContext, Baggage) {
	t.Helper()
	e, err := engine.New(engine.WithSink(&engine.MemorySink{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Shutdown(context.Background()) })
	sc, b := carrierSC(t)
	return e, sc, b
}

// checkReceived checks the headers a server received from a client that
// injected with c.p over stale ones: only the formats c speaks are there,
// and none of the stale values.
func checkReceived(t *testing.T, c formatCase, get func(string) []string) {
	t.Helper()
	tp, ts, bag := get("traceparent"), get("tracestate"), get("baggage")
	wantTP := []string(nil)
	wantTS := []string(nil)
	if c.tc {
		wantTP, wantTS = []string{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}, []string{tsValid}
	}
	wantBag := []string(nil)
	if c.bag {
		wantBag = []string{bgValid}
	}
	if strings.Join(tp, "|") != strings.Join(wantTP, "|") || strings.Join(ts, "|") != strings.Join(wantTS, "|") ||
		strings.Join(bag, "|") != strings.Join(wantBag, "|") {
		t.Errorf("%s: received traceparent %q tracestate %q baggage %q; want %q %q %q", c.name, tp, ts, bag, wantTP, wantTS, wantBag)
	}
}

// checkExtracted checks what c.p extracted from a carrier holding all
// three headers (the baggage with one malformed member): a format it does
// not speak is neither read nor counted.
func checkExtracted(t *testing.T, c formatCase, runSC, sc engine.SpanContext, b Baggage) {
	t.Helper()
	parent, _ := carrierSC(t)
	if got := sc == parent; got != c.tc {
		t.Errorf("%s: extracted %+v", c.name, sc)
	}
	if joined := runSC.TraceID == parent.TraceID; joined != c.tc {
		t.Errorf("%s: run joined the caller's trace: %v", c.name, joined)
	}
	if m, ok := b.Get("userId"); ok != c.bag || (ok && m.Value() != "alice") {
		t.Errorf("%s: extracted baggage %q", c.name, b.String())
	}
	st := c.p.Stats()
	want := Stats{Extracted: 2}
	if c.tc {
		want.Joined = 2
	}
	if c.bag {
		want.BaggageInvalid = 2
	}
	if st != want {
		t.Errorf("%s: stats %+v, want %+v", c.name, st, want)
	}
}

// fullCarrier is what a caller speaking both formats sends, its baggage
// with a malformed member that a Propagator speaking baggage counts.
var fullCarrier = map[string]string{"traceparent": tpValid, "tracestate": tsValid, "baggage": bgValid + ",=bad"}

// TestFormatsHTTP sends requests to a loopback HTTP server: one injected
// by the Propagator over stale headers (the server sees only its
// formats), one holding all three headers (the Propagator reads only its
// formats, with Extract and StartRunFromHTTP).
func TestFormatsHTTP(t *testing.T) {
	e, sc, b := formatSetup(t)
	for _, c := range formatCases() {
		var got http.Header
		var runSC, xsc engine.SpanContext
		var xb Baggage
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/inject" {
				got = r.Header.Clone()
				return
			}
			xsc, xb = c.p.ExtractHTTP(r.Header)
			run, _, _ := c.p.StartRunFromHTTP(e, r.Header, engine.RunInfo{FlowID: c.name})
			runSC = run.SpanContext() // before End: an ended run's handle reads zero
			run.End(0, "")
		}))
		req, err := http.NewRequest("GET", srv.URL+"/inject", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
		req.Header.Set("tracestate", "stale=1")
		req.Header.Set("baggage", "stale=1")
		c.p.InjectHTTP(req.Header, sc, b)
		send(t, req)
		req, err = http.NewRequest("GET", srv.URL+"/extract", nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range fullCarrier {
			req.Header.Set(k, v)
		}
		send(t, req)
		srv.Close()
		checkReceived(t, c, got.Values)
		checkExtracted(t, c, runSC, xsc, xb)
	}
}

func send(t *testing.T, req *http.Request) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
}

// healthServer records the incoming metadata of a Check and what its
// Propagator extracted from it.
type healthServer struct {
	healthpb.UnimplementedHealthServer
	p   *Propagator
	e   *engine.Engine
	md  metadata.MD
	run engine.SpanContext
	sc  engine.SpanContext
	bag Baggage
}

func (s *healthServer) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if len(md.Get("x-call")) > 0 && md.Get("x-call")[0] == "inject" {
		s.md = md.Copy()
	} else {
		s.sc, s.bag = s.p.ExtractIncomingGRPC(ctx)
		run, _, _ := s.p.StartRunFromGRPC(ctx, s.e, engine.RunInfo{FlowID: "grpc"})
		s.run = run.SpanContext()
		run.End(0, "")
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

// TestFormatsGRPC is TestFormatsHTTP over a loopback gRPC server, the
// client injecting with OutgoingGRPC over a parent's outgoing metadata.
func TestFormatsGRPC(t *testing.T) {
	e, sc, b := formatSetup(t)
	for _, c := range formatCases() {
		hs := &healthServer{p: c.p, e: e}
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := grpc.NewServer()
		healthpb.RegisterHealthServer(srv, hs)
		go srv.Serve(lis)
		conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		client := healthpb.NewHealthClient(conn)
		stale := metadata.Pairs("x-call", "inject", "traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
			"tracestate", "stale=1", "baggage", "stale=1")
		ctx := c.p.OutgoingGRPC(metadata.NewOutgoingContext(context.Background(), stale), sc, b)
		if _, err := client.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatal(err)
		}
		full := metadata.MD{}
		for k, v := range fullCarrier {
			full.Set(k, v)
		}
		if _, err := client.Check(metadata.NewOutgoingContext(context.Background(), full), &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatal(err)
		}
		conn.Close()
		srv.Stop()
		checkReceived(t, c, hs.md.Get)
		checkExtracted(t, c, hs.run, hs.sc, hs.bag)
	}
}

// TestZeroPropagatorUnchanged: the zero, nil and New(FormatsAll)
// Propagators inject what the package functions do, for random spans.
func TestZeroPropagatorUnchanged(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 16))
	var nilP *Propagator
	for range 200 {
		sc := randSpanContext(rng)
		keys, values := randBaggage(rng)
		b := insertAll(t, keys, values)
		want := http.Header{}
		InjectHTTP(want, sc, b)
		wantMD := metadata.MD{}
		InjectGRPC(wantMD, sc, b)
		for _, p := range []*Propagator{{}, nilP, New(FormatsAll)} {
			h := http.Header{}
			p.InjectHTTP(h, sc, b)
			md := metadata.MD{}
			p.InjectGRPC(md, sc, b)
			if !sameMap(h, want) || !sameMap(md, wantMD) {
				t.Fatalf("Propagator %p injected %q and %q, the package %q and %q", p, h, md, want, wantMD)
			}
			xsc, xb := p.ExtractHTTP(h)
			if psc, pb, _ := ExtractHTTP(h); xsc != psc || xb.String() != pb.String() {
				t.Fatalf("Propagator extracted %+v %q, the package %+v %q", xsc, xb.String(), psc, pb.String())
			}
		}
	}
}

func sameMap(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, "\n") != strings.Join(b[k], "\n") || len(v) != len(b[k]) {
			return false
		}
	}
	return true
}
