package otlp

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
)

// TestNilSink: every method of a nil *Sink, called directly (engine.New
// refuses one, a caller's own export loop need not), returns an error
// wrapping export.ErrNotStarted or a zero value, and never panics: each
// dereferenced the nil receiver. A metrics request it is given goes back
// to the pool.
func TestNilSink(t *testing.T) {
	var s *Sink
	runs := []*encode.Run{{Nodes: []*encode.Node{{}}}}
	for name, call := range map[string]func() error{
		"Export":     func() error { return s.Export(runs) },
		"ExportLogs": func() error { return s.ExportLogs(runs) },
		"ForceFlush": func() error { return s.ForceFlush(context.Background()) },
		"Shutdown":   func() error { return s.Shutdown(context.Background()) },
	} {
		err := func() (err error) {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("panic: %v", p)
				}
			}()
			return call()
		}()
		if !errors.Is(err, export.ErrNotStarted) {
			t.Errorf("%s on a nil Sink: %v, want an error wrapping export.ErrNotStarted", name, err)
		}
	}
	for name, call := range map[string]func(){
		"SetOffloader":  func() { s.SetOffloader(nil) },
		"ExportMetrics": func() { s.ExportMetrics(encode.GetBuffer(), 3) },
		"AppendMetrics": func() {
			if ms := s.AppendMetrics(nil, engine.MetricsWindow{}); len(ms) != 0 {
				t.Errorf("AppendMetrics on a nil Sink: %d families", len(ms))
			}
		},
		"SinkStats": func() {
			if s.SinkStats() != (engine.SinkStats{}) {
				t.Error("SinkStats on a nil Sink is not zero")
			}
		},
		"MemoryBytes": func() {
			if s.MemoryBytes() != 0 {
				t.Error("MemoryBytes on a nil Sink is not zero")
			}
		},
		"Offloader": func() {
			if s.Offloader() != nil {
				t.Error("Offloader on a nil Sink is not nil")
			}
		},
		"Exporter": func() {
			if s.Exporter() != nil {
				t.Error("Exporter on a nil Sink is not nil")
			}
		},
		"EncoderStats": func() {
			if s.EncoderStats() != (encode.EncoderStats{}) {
				t.Error("EncoderStats on a nil Sink is not zero")
			}
		},
		"String": func() { _ = fmt.Sprintf("%v %+v %#v", s, s, s) },
	} {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s on a nil Sink panicked: %v", name, p)
				}
			}()
			call()
		}()
	}
}

// TestZeroSinkShutdownClosesOffloader: Shutdown of a zero Sink given an
// offloader (SetOffloader) closes it, as a Sink made by NewSink does: it
// returned ErrNotStarted at once and left the offloader's workers running.
func TestZeroSinkShutdownClosesOffloader(t *testing.T) {
	store, err := encode.NewFSStore(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	o := encode.NewOffloader(store, encode.OffloadConfig{})
	var s Sink
	s.SetOffloader(o)
	if err := s.Shutdown(context.Background()); !errors.Is(err, export.ErrNotStarted) {
		t.Errorf("Shutdown: %v, want export.ErrNotStarted", err)
	}
	big := make([]byte, encode.DefaultOffloadThreshold)
	for i := range big {
		big[i] = 'a'
	}
	encode.AppendRunLogWith(nil, &encode.Run{Answer: string(big)}, o)
	if st := o.Stats(); st.Closed != 1 {
		t.Errorf("after the zero Sink's Shutdown the offloader took a value: %+v", st)
		_ = o.Close(context.Background())
	}
}

// TestOTLPSinkNilEngine: OTLPSink and ExporterStats of a nil engine (a
// field left unset) report false, where they dereferenced it; of an
// engine whose sink is a zero Sink, ExporterStats is zero.
func TestOTLPSinkNilEngine(t *testing.T) {
	err := noPanicOTLP(func() {
		if s, ok := OTLPSink(nil); s != nil || ok {
			t.Errorf("OTLPSink(nil) = %v, %v", s, ok)
		}
		if _, ok := ExporterStats(nil); ok {
			t.Error("ExporterStats(nil) reports a sink")
		}
	})
	if err != nil {
		t.Error(err)
	}
	var zero Sink
	e, err := engine.New(engine.WithSink(&zero))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	if err := noPanicOTLP(func() {
		if st, ok := ExporterStats(e); !ok || st != (export.Stats{}) {
			t.Errorf("ExporterStats of a zero Sink's engine: %+v, %v", st, ok)
		}
	}); err != nil {
		t.Error(err)
	}
}

func noPanicOTLP(f func()) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	f()
	return nil
}
