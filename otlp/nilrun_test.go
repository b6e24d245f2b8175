package otlp

import (
	"context"
	"fmt"
	"testing"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
)

// TestSinkNilRunOrNode: a batch given to Export or ExportLogs directly
// that holds a nil run, or a run with a nil node, is refused whole with an
// error naming it, and what the receiver gets stays consistent (nothing
// of the refused batch); it panicked in the encoder.
func TestSinkNilRunOrNode(t *testing.T) {
	rc := otlptest.StartKeeping(t, otlptest.GRPC)
	exp, err := export.New(export.Config{Endpoint: rc.Endpoint(), Insecure: true, Protocol: "grpc", Release: encode.PutBuffer})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSink(exp, encode.Resource{ServiceName: "svc"}, true)
	if err != nil {
		t.Fatal(err)
	}
	ok := &encode.Run{TraceID: encode.TraceID{1}, SpanID: encode.SpanID{1}, Nodes: []*encode.Node{{SpanID: encode.SpanID{2}}}}
	for name, call := range map[string]func() error{
		"Export nil run":      func() error { return s.Export([]*encode.Run{ok, nil}) },
		"Export nil node":     func() error { return s.Export([]*encode.Run{ok, {Nodes: []*encode.Node{{}, nil}}}) },
		"ExportLogs nil run":  func() error { return s.ExportLogs([]*encode.Run{nil, ok}) },
		"ExportLogs nil node": func() error { return s.ExportLogs([]*encode.Run{{Nodes: []*encode.Node{nil}}}) },
	} {
		err := func() (err error) {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("panic: %v", p)
				}
			}()
			return call()
		}()
		if err == nil || len(err.Error()) > 200 || err.Error()[:5] == "panic" {
			t.Errorf("%s: %v, want an error", name, err)
		}
	}
	if err := s.Export([]*encode.Run{ok}); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := exp.Stats().Signals[export.Traces]; st.Exported != 2 || st.Dropped != 0 {
		t.Errorf("traces %+v: want the one good batch's 2 spans", st)
	}
}
