package propagation

import (
	"context"
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
