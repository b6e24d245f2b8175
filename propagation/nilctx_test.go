package propagation

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"

	"github.com/flowtel/flowtel/engine"
)

// TestNilContext gives the gRPC functions a nil context, as a caller that
// forgot one does: no incoming metadata, and an outgoing context made from
// context.Background(). Each panicked (a nil pointer dereference in
// metadata.FromIncomingContext and FromOutgoingContext).
func TestNilContext(t *testing.T) {
	e, err := engine.New()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	var nilCtx context.Context
	run, b, err := StartRunFromGRPC(nilCtx, e, engine.RunInfo{})
	if err != nil || b.Len() != 0 || !run.SpanContext().IsValid() {
		t.Fatalf("StartRunFromGRPC(nil): %+v %v %v", run.SpanContext(), b, err)
	}
	run.End(0, "")
	var p Propagator
	if sc, _ := p.ExtractIncomingGRPC(nilCtx); sc.IsValid() {
		t.Fatalf("ExtractIncomingGRPC(nil): %+v", sc)
	}
	run2, _, _ := p.StartRunFromGRPC(nilCtx, e, engine.RunInfo{})
	sc := run2.SpanContext()
	run2.End(0, "")
	if st := p.Stats(); st.Extracted != 2 || st.Joined != 0 {
		t.Fatalf("stats %+v", st)
	}
	md, ok := metadata.FromOutgoingContext(OutgoingGRPC(nilCtx, sc, Baggage{}))
	if !ok || len(md[mdTraceParent]) != 1 {
		t.Fatalf("OutgoingGRPC(nil): %v", md)
	}
}

// TestNilEngine gives every StartRunFrom variant a nil *engine.Engine: each
// panicked (a nil pointer dereference in Engine.StartRun). Each returns a
// no-op Run, as the zero Engine's refused runs are, with the baggage and
// the header error as for a real engine.
func TestNilEngine(t *testing.T) {
	h := http.Header{}
	h.Set(headerTraceParent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	h.Set(headerBaggage, "k=v")
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(mdTraceParent, "garbage", mdBaggage, "k=v"))
	var p Propagator
	var nilEngine *engine.Engine
	for name, start := range map[string]func() (engine.Run, Baggage, error){
		"StartRunFromHTTP":            func() (engine.Run, Baggage, error) { return StartRunFromHTTP(nilEngine, h, engine.RunInfo{}) },
		"StartRunFromGRPC":            func() (engine.Run, Baggage, error) { return StartRunFromGRPC(ctx, nilEngine, engine.RunInfo{}) },
		"Propagator.StartRunFromHTTP": func() (engine.Run, Baggage, error) { return p.StartRunFromHTTP(nilEngine, h, engine.RunInfo{}) },
		"Propagator.StartRunFromGRPC": func() (engine.Run, Baggage, error) { return p.StartRunFromGRPC(ctx, nilEngine, engine.RunInfo{}) },
	} {
		run, b, err := start()
		if run.SpanContext().IsValid() {
			t.Errorf("%s: run has a span context %+v", name, run.SpanContext())
		}
		if b.Len() != 1 {
			t.Errorf("%s: baggage %v", name, b)
		}
		if wantErr := strings.Contains(name, "GRPC"); (err != nil) != wantErr {
			t.Errorf("%s: err %v", name, err)
		}
		run.StartNode("n", "tool", "n").End()
		run.End(0, "")
	}
	if st := p.Stats(); st.Extracted != 2 || st.Joined != 1 || st.TraceParentInvalid != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestNilPropagator calls every method of a nil *Propagator, as a server
// whose Propagator field was left nil does: each works as the package
// function does and counts nothing (each that counts panicked with a nil
// pointer dereference, where the zero Propagator was ready).
func TestNilPropagator(t *testing.T) {
	e, err := engine.New()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	var p *Propagator
	h := http.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}, "Tracestate": {"a=1"}}
	md := metadata.MD{"traceparent": h["Traceparent"], "tracestate": {"=bad"}}
	if sc, _ := p.ExtractHTTP(h); !sc.IsValid() || sc.TraceState != "a=1" {
		t.Fatalf("ExtractHTTP: %+v", sc)
	}
	if sc, _ := p.ExtractGRPC(md); !sc.IsValid() || sc.TraceState != "" {
		t.Fatalf("ExtractGRPC: %+v", sc)
	}
	if sc, _ := p.ExtractIncomingGRPC(metadata.NewIncomingContext(context.Background(), md)); !sc.IsValid() {
		t.Fatalf("ExtractIncomingGRPC: %+v", sc)
	}
	run, _, err := p.StartRunFromHTTP(e, h, engine.RunInfo{})
	if err != nil || run.SpanContext().TraceID[0] != 0x4b || !run.IsRecording() {
		t.Fatalf("StartRunFromHTTP: %v", err)
	}
	run.End(0, "")
	run, _, err = p.StartRunFromGRPC(metadata.NewIncomingContext(context.Background(), md), e, engine.RunInfo{})
	if !errors.Is(err, ErrTraceState) || !run.IsRecording() {
		t.Fatalf("StartRunFromGRPC: %v", err)
	}
	run.End(0, "")
	if st := p.Stats(); st != (Stats{}) {
		t.Fatalf("Stats: %+v", st)
	}
}

// TestInjectNilCarrier: InjectHTTP and InjectGRPC on a nil carrier write
// nothing, where the first write into the nil map panicked.
func TestInjectNilCarrier(t *testing.T) {
	sc, _, err := ExtractHTTP(http.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}})
	if err != nil || !sc.IsValid() {
		t.Fatal(err)
	}
	b, _ := ParseBaggage("k=v")
	InjectHTTP(nil, sc, b)
	InjectGRPC(nil, sc, b)
}
