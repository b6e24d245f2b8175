package propagation

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/flowtel/flowtel/engine"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
)

// TestParseFormats checks OTEL_PROPAGATORS as the SDK environment
// specification reads it, then lists built at random: a name outside
// tracecontext, baggage and none is ignored and reported, not refused;
// none anywhere is no propagation (as Go's autoprop and Python's SDK
// read it), the other names reported as ignored; a list naming no format
// and no none is the default, both. The Formats returned always stand:
// the error only says what was ignored, for a caller who wants to refuse.
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
	for s, want := range map[string]Formats{
		"b3": FormatsAll, "jaeger": FormatsAll, "xray,ottrace": FormatsAll, "b3multi": FormatsAll, "w3c": FormatsAll,
		"tracecontext,b3": FormatTraceContext, "B3, baggage": FormatBaggage, "trace-context": FormatsAll,
		"tracecontext baggage": FormatsAll, "tracecontext;baggage": FormatsAll,
		"none,tracecontext": 0, "baggage,NONE": 0, "b3,none": 0,
	} {
		got, err := ParseFormats(s)
		if got != want || !errors.Is(err, ErrPropagators) {
			t.Errorf("ParseFormats(%q) = %b, %v; want %b and ErrPropagators", s, got, err, want)
		}
	}

	names := []string{"tracecontext", "baggage", "none", "", "b3", "b3multi", "jaeger", "xray", "trace context", "tracecontex"}
	rng := rand.New(rand.NewPCG(16, 16))
	for range 20000 {
		var items []string
		var named Formats
		none, unknown := false, false
		for range 1 + rng.IntN(5) {
			n := names[rng.IntN(len(names))]
			switch n {
			case "tracecontext":
				named |= FormatTraceContext
			case "baggage":
				named |= FormatBaggage
			case "none":
				none = true
			case "":
			default:
				unknown = true
			}
			items = append(items, randSpace(rng)+randCase(rng, n)+randSpace(rng))
		}
		want, ignored := named, unknown
		switch {
		case none:
			want, ignored = 0, unknown || named != 0
		case named == 0:
			want = FormatsAll
		}
		s := strings.Join(items, ",")
		got, err := ParseFormats(s)
		if got != want || errors.Is(err, ErrPropagators) != ignored || (err == nil) == ignored {
			t.Fatalf("ParseFormats(%q) = %b, %v; want %b, ignored names reported: %v", s, got, err, want, ignored)
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

// captureSlog sends the default slog logger's records to a buffer until
// the test ends (FromEnv logs on the test's goroutine).
func captureSlog(t *testing.T) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	return &buf
}

// TestFromEnv: FromEnv's Propagator speaks what OTEL_PROPAGATORS names
// by the specification: unset, both; a name flowtel does not speak is
// ignored with one slog warning (not one per call), the service starts.
func TestFromEnv(t *testing.T) {
	logs := captureSlog(t)
	for v, want := range map[string]Formats{"": FormatsAll, "tracecontext": FormatTraceContext, "Baggage": FormatBaggage, "none": 0} {
		t.Setenv("OTEL_PROPAGATORS", v)
		if p := FromEnv(); p.Formats() != want {
			t.Errorf("OTEL_PROPAGATORS=%q: %b, want %b", v, p.Formats(), want)
		}
	}
	if logs.String() != "" {
		t.Errorf("a valid value warned: %s", logs)
	}
	t.Setenv("OTEL_PROPAGATORS", "b3,tracecontext")
	for range 3 {
		if p := FromEnv(); p.Formats() != FormatTraceContext {
			t.Errorf("OTEL_PROPAGATORS=b3,tracecontext: %b, want tracecontext", p.Formats())
		}
	}
	out := logs.String()
	if n := strings.Count(out, "level=WARN"); n != 1 || !strings.Contains(out, "OTEL_PROPAGATORS") || !strings.Contains(out, "b3") {
		t.Errorf("want one warning naming OTEL_PROPAGATORS and b3, got %d:\n%s", n, out)
	}
	var zero Propagator
	var nilP *Propagator
	if zero.Formats() != FormatsAll || nilP.Formats() != FormatsAll || New(FormatsAll).Formats() != FormatsAll {
		t.Error("the zero, nil or New(FormatsAll) Propagator does not speak both formats")
	}
}

// TestFromEnvHostileWarning: the warning quotes what the variable holds,
// which the operator's environment (or whoever wrote it) controls: a
// terminal escape, a new line or megabytes must not reach the log as
// they are. The line is bounded and holds no control byte.
func TestFromEnvHostileWarning(t *testing.T) {
	logs := captureSlog(t)
	v := "\x1b[2J\x1b[31mevil\nlevel=ERROR msg=forged," + strings.Repeat("x", 1<<20) + ",\xff\xfe," + strings.Repeat("b3,", 1000) + "baggage"
	t.Setenv("OTEL_PROPAGATORS", v)
	if p := FromEnv(); p.Formats() != FormatBaggage {
		t.Errorf("Formats %b, want baggage", p.Formats())
	}
	out := logs.String()
	if strings.Count(out, "\n") != 1 || strings.Count(out, "level=WARN") != 1 {
		t.Errorf("the warning is not one line:\n%q", out)
	}
	if len(out) > 1024 {
		t.Errorf("the warning is %d bytes, want at most 1024", len(out))
	}
	for _, c := range strings.TrimSuffix(out, "\n") {
		if c < 0x20 || c == 0x7f || c == utf8.RuneError {
			t.Fatalf("the warning holds %U:\n%q", c, out)
		}
	}
	if !strings.Contains(out, "evil") || !strings.Contains(out, "more") {
		t.Errorf("the warning does not name what was ignored:\n%s", out)
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

// TestParseFormatsIgnoredCountedOnce: the report of ignored names counts
// each name once, as the list's reading does (any case, a name given twice
// counted once), and tells apart names that share their first 32 bytes
// (the part quoted). It said "and 5 more" for one name given five times
// past the three quoted, and nothing more for a fourth name quoted as the
// first's cut.
func TestParseFormatsIgnoredCountedOnce(t *testing.T) {
	long := strings.Repeat("p", 40)
	for _, c := range []struct{ in, want, not string }{
		{"a,b,c,d,d,D,d,d", "and 1 more", "and 5 more"},
		{"b3,B3,jaeger,xray,ottrace", `"b3", "jaeger", "xray" and 1 more`, "B3"},
		{long + "1," + long + "2", `"` + long[:32] + `"..., "` + long[:32] + `"...;`, ""},
		{"a,b,c", `"a", "b", "c"; propagating`, "more"},
	} {
		f, err := ParseFormats(c.in)
		if f != FormatsAll || err == nil {
			t.Errorf("ParseFormats(%q) = %v, %v, want both and a report", c.in, f, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, c.want) || (c.not != "" && strings.Contains(msg, c.not)) {
			t.Errorf("ParseFormats(%q): %s\nwant %q in it, not %q", c.in, msg, c.want, c.not)
		}
	}
}

// TestNewUndefinedFormats: New reads a Formats with bits no format has as
// ParseFormats reads an OTEL_PROPAGATORS name it does not know: the bits
// are ignored, and a value with no defined bit left is the default, both
// (not a Propagator that silently speaks nothing). One slog warning per
// distinct value names them; defined values do not warn.
func TestNewUndefinedFormats(t *testing.T) {
	resetWarnedFormats() // each value warns once a process
	t.Cleanup(resetWarnedFormats)
	logs := captureSlog(t)
	for f := range Formats(FormatsAll + 1) {
		if got := New(f).Formats(); got != f {
			t.Errorf("New(%b).Formats() = %b", f, got)
		}
	}
	if logs.String() != "" {
		t.Fatalf("a defined Formats warned: %s", logs)
	}
	for i := FormatsAll + 1; i != 0; i++ {
		f := Formats(i)
		want := f & FormatsAll
		if want == 0 {
			want = FormatsAll
		}
		logs.Reset()
		for range 2 {
			if got := New(f).Formats(); got != want {
				t.Fatalf("New(%b).Formats() = %b, want %b", f, got, want)
			}
		}
		if n := strings.Count(logs.String(), "level=WARN"); n != 1 || !strings.Contains(logs.String(), "undefined") {
			t.Fatalf("New(%b) twice logged %d warnings, want 1 naming the undefined bits: %s", f, n, logs)
		}
	}
}
