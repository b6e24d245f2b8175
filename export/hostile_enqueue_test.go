package export

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/valyala/bytebufferpool"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/flowtel/flowtel/internal/otlptest"
)

// noPanic runs f and returns its panic as an error.
func noPanic(f func()) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	f()
	return nil
}

// TestEnqueueHostileArgs: what a caller of Enqueue and EnqueueParts may
// get wrong is refused without a panic, and the counts stay whole
// (Enqueued == Exported + Rejected + Dropped + InFlight, nothing wrapped
// below zero): an invalid signal (panicked) is refused, its buffers
// released, and said to the error handler; parts whose lists differ in
// length (panicked) and a nil buffer (panicked on its bytes) are dropped,
// their items counted as not a well-formed request (DropTooLarge), and
// said; a negative item count counts as zero (it wrapped Enqueued and
// Rejected to 2^64 less a few). The good batch after them is delivered.
func TestEnqueueHostileArgs(t *testing.T) {
	rc := otlptest.StartKeeping(t, otlptest.GRPC)
	e, log := newLogged(t, testConfig(otlptest.GRPC, rc.Endpoint()))
	span := &tracepb.Span{Name: "a", TraceId: make([]byte, 16), SpanId: make([]byte, 8)}
	raw, err := proto.Marshal(&coltrace.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{span, span}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	buf := func() *bytebufferpool.ByteBuffer {
		b := bytebufferpool.Get()
		b.B = append(b.B[:0], raw...)
		return b
	}
	for name, call := range map[string]func() bool{
		"invalid signal":       func() bool { return e.Enqueue(NumSignals, buf(), 2) },
		"parts invalid signal": func() bool { return e.EnqueueParts(Signal(200), []*bytebufferpool.ByteBuffer{buf()}, []int{2}) },
		"parts lengths differ": func() bool { return e.EnqueueParts(Traces, []*bytebufferpool.ByteBuffer{buf()}, []int{2, 3}) },
		"nil buffer":           func() bool { return e.Enqueue(Traces, nil, 4) },
		"parts with a nil":     func() bool { return e.EnqueueParts(Traces, []*bytebufferpool.ByteBuffer{nil, nil}, []int{1, 2}) },
		"negative items":       func() bool { e.Enqueue(Traces, buf(), -5); return false },
		"parts, negative items": func() bool {
			e.EnqueueParts(Traces, []*bytebufferpool.ByteBuffer{buf(), buf()}, []int{-1, -3})
			return false
		},
		"negative on a nil buf":  func() bool { return e.Enqueue(Traces, nil, -7) },
		"parts, negative, split": func() bool { return e.EnqueueParts(Logs, []*bytebufferpool.ByteBuffer{nil}, []int{-2}) },
	} {
		var took bool
		if err := noPanic(func() { took = call() }); err != nil || took {
			t.Errorf("%s: %v, took %v", name, err, took)
		}
	}
	if !e.Enqueue(Traces, buf(), 2) {
		t.Fatal("the good batch was dropped")
	}
	s := flushChecked(t, e)
	st := s.Signals[Traces]
	if st.Enqueued != 5+4+3+2 || st.DroppedBy[DropTooLarge] != 5+4+3 || st.Exported != 2 || st.Rejected != 0 {
		t.Errorf("traces %+v: want 14 enqueued (a negative counts as 0), 12 dropped as not a request, 2 exported", st)
	}
	if n := len(log.all()); n < 3 {
		t.Errorf("%d errors reported, want the refused calls said: %v", n, log.all())
	}
	shutdown(t, e)
}

// TestNilExporter: a nil *Exporter's methods neither panic nor take
// anything: Enqueue and EnqueueParts return false (the buffers go back to
// the pool), ForceFlush and Shutdown return ErrNotStarted, Stats and
// MaxRequestBytes are zero. A nil context given to ForceFlush or Shutdown
// is context.Background() (it panicked).
func TestNilExporter(t *testing.T) {
	var e *Exporter
	for name, call := range map[string]func() error{
		"Enqueue": func() error {
			if e.Enqueue(Traces, bytebufferpool.Get(), 1) {
				return errors.New("took a batch")
			}
			return ErrNotStarted
		},
		"EnqueueParts": func() error {
			if e.EnqueueParts(Traces, []*bytebufferpool.ByteBuffer{bytebufferpool.Get()}, []int{1}) {
				return errors.New("took parts")
			}
			return ErrNotStarted
		},
		"ForceFlush": func() error { return e.ForceFlush(context.Background()) },
		"Shutdown":   func() error { return e.Shutdown(context.Background()) },
		"Stats": func() error {
			if e.Stats() != (Stats{}) || e.MaxRequestBytes() != 0 {
				return errors.New("not zero")
			}
			return ErrNotStarted
		},
	} {
		var got error
		if err := noPanic(func() { got = call() }); err != nil || !errors.Is(got, ErrNotStarted) {
			t.Errorf("%s on a nil Exporter: %v %v", name, err, got)
		}
	}
	rc := otlptest.StartKeeping(t, otlptest.GRPC)
	live, err := New(testConfig(otlptest.GRPC, rc.Endpoint()))
	if err != nil {
		t.Fatal(err)
	}
	//lint:ignore SA1012 the nil context is what this test gives
	if err := noPanic(func() { _ = live.ForceFlush(nil) }); err != nil {
		t.Errorf("ForceFlush(nil): %v", err)
	}
	//lint:ignore SA1012 the nil context is what this test gives
	if err := noPanic(func() { _ = live.Shutdown(nil) }); err != nil {
		t.Errorf("Shutdown(nil): %v", err)
	}
}
