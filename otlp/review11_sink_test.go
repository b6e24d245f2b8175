package otlp

import (
	"errors"
	"testing"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
)

// TestNewSinkOwnPieces: a sink made by NewSink (the porting guide's way
// to share one exporter) had two holes New did not. With its logs off it
// is still an engine.LogSink, so TailPolicy.RunLogAlways was taken and
// the run logs of the runs sampled out went to an ExportLogs that sends
// nothing and counts nothing; New now refuses the pair. And a resource
// without a service name went out as service.name "" while the engine's
// resource, which the metrics carry, said engine.DefaultServiceName.
func TestNewSinkOwnPieces(t *testing.T) {
	rc := otlptest.StartKeeping(t, export.ProtocolGRPC)
	exp, err := export.New(export.Config{Endpoint: rc.Endpoint(), Release: encode.PutBuffer})
	if err != nil {
		t.Fatal(err)
	}
	spansOnly, err := NewSink(exp, encode.Resource{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if spansOnly.TakesLogs() {
		t.Fatal("NewSink(logs false).TakesLogs() = true")
	}
	p := engine.TailPolicy{Ratio: 0.5, RunLogAlways: true}
	if e, err := engine.New(engine.WithSink(spansOnly), engine.WithTailSampling(p)); !errors.Is(err, engine.ErrInvalidSampler) {
		if e != nil {
			e.Shutdown(t.Context())
		}
		t.Fatalf("engine.New(a sink with its logs off, RunLogAlways) = %v, want ErrInvalidSampler", err)
	}
	e, err := engine.New(engine.WithSink(spansOnly))
	if err != nil {
		t.Fatal(err)
	}
	r := e.StartRun(engine.RunInfo{FlowID: "f", AppID: "a"})
	r.StartNode("a:1", "a", "a").End()
	r.End(0, "")
	if err := e.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(rc.Traces()) == 0 {
		t.Fatal("no trace request received")
	}
	for _, req := range rc.Traces() {
		for _, rs := range req.ResourceSpans {
			got, _ := wireServiceName(rs.Resource)
			if got != e.Resource().ServiceName || got != engine.DefaultServiceName {
				t.Errorf("service.name %q on the wire, the engine's resource says %q", got, e.Resource().ServiceName)
			}
		}
	}
	withLogs, err := NewSink(exp, encode.Resource{}, true)
	if err != nil {
		t.Fatal(err)
	}
	if !withLogs.TakesLogs() || !(*Sink)(nil).TakesLogs() || !new(Sink).TakesLogs() {
		t.Error("TakesLogs: want true for NewSink(logs true) and for a nil or zero Sink, whose ExportLogs fails and is counted")
	}
}
