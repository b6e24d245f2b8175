package otelbridge

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// reentrantErr is an error whose Error method calls back into the span
// it is recorded on, as an error that logs through the span may; end
// makes it end the span too.
type reentrantErr struct {
	span      trace.Span
	end       bool
	recording *bool
}

func (e reentrantErr) Error() string {
	*e.recording = e.span.IsRecording()
	e.span.SetAttributes(attribute.Bool("from_error", true))
	if e.end {
		e.span.End()
	}
	return "reentrant"
}

// TestBridgeErrorMethodReentersSpan: RecordError, and End while
// panicking, called the error's Error method (fmt.Sprint for a panic
// value) holding the span's mutex, so an Error that calls the same span
// (IsRecording, SetAttributes, End) deadlocked. The message is now built
// before the lock is taken, as OpenTelemetry's SDK calls Error outside its
// lock: no call hangs, and each span has its exception, of the error's
// type, over otlp's sink, a real receiver and the official decoder.
func TestBridgeErrorMethodReentersSpan(t *testing.T) {
	rc, tp, shutdown := bridgeOverOTLP(t)
	tr := tp.Tracer("t")
	ctx, root := tr.Start(context.Background(), "flow")
	_, n := tr.Start(ctx, "node")
	_, ended := tr.Start(ctx, "ended-by-error")
	pctx, proot := tr.Start(context.Background(), "panicking")
	_, pn := tr.Start(pctx, "panicking-node")
	var recording [5]bool
	hung := false
	for what, calls := range map[string]func(){
		"RecordError": func() {
			root.RecordError(reentrantErr{span: root, recording: &recording[0]})
			n.RecordError(reentrantErr{span: n, recording: &recording[1]})
			ended.RecordError(reentrantErr{span: ended, end: true, recording: &recording[2]})
			n.End()
			root.End()
		},
		"End while panicking": func() {
			endWhilePanicking(pn, reentrantErr{span: pn, recording: &recording[3]}, false)
			endWhilePanicking(proot, reentrantErr{span: proot, recording: &recording[4]}, false)
		},
	} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			calls()
		}()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Errorf("%s hung: the error's Error method called back into the span under its mutex", what)
			hung = true
		}
	}
	if hung {
		return
	}
	for i, r := range recording {
		if !r {
			t.Errorf("call %d: the span did not record while its error was written", i)
		}
	}
	if ended.IsRecording() {
		t.Error("the span its error ended still records")
	}
	shutdown()
	const typ = "github.com/flowtel/flowtel/otelbridge.reentrantErr"
	want := map[string]int{"run:flow": 1, "run_node:node": 1, "run:panicking": 1, "run_node:panicking-node": 1}
	for _, sp := range receivedSpans(rc) {
		for _, ev := range sp.Events {
			a := stringAttrs(ev.Attributes)
			if ev.Name != "exception" || a["exception.message"] != "reentrant" {
				continue
			}
			if a["exception.type"] != typ {
				t.Errorf("span %q: exception.type %q, want %q", sp.Name, a["exception.type"], typ)
			}
			want[sp.Name]--
		}
	}
	for name, left := range want {
		if left != 0 {
			t.Errorf("span %q: %d exception events missing", name, left)
		}
	}
}
