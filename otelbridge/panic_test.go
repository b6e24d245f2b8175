package otelbridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flowtel/flowtel/genai"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// panicKind is a panic value of a named type that is no error.
type panicKind struct{ code int }

// derefErr is an error whose Error dereferences its receiver: a nil
// *derefErr panics in it.
type derefErr struct{ msg string }

func (e *derefErr) Error() string { return e.msg }

// endWhilePanicking panics with v in a function that ends span by
// defer, as a handler instrumented with defer span.End() does, and
// returns what a recover above it gets.
func endWhilePanicking(span trace.Span, v any, stack bool) (got any) {
	defer func() { got = recover() }()
	func() {
		if stack {
			defer span.End(trace.WithStackTrace(true))
		} else {
			defer span.End()
		}
		panic(v)
	}()
	return nil
}

// TestBridgeEndRecordsPanic ends run, node and GenAI spans by defer while
// a panic goes through them, through the bridge (otlp's sink, a real
// receiver, the official decoder) and through OpenTelemetry's SDK: each
// bridged span has the exception event the SDK records, its type and
// message the SDK's, with exception.stacktrace (the panicking frame)
// exactly when End was given trace.WithStackTrace(true), and the panic
// goes on with its value. End ignored the panic: a handler that panicked
// (net/http recovers it) left a span with no trace of it. A nil error
// whose Error panics is written as fmt.Sprint writes it, as the SDK does,
// where calling Error panicked inside End and left the span open.
func TestBridgeEndRecordsPanic(t *testing.T) {
	boundsErr := func() (v any) {
		defer func() { v = recover() }()
		var a []int
		i := 5
		return a[i]
	}()
	values := []any{"kaboom", valueErr{"value error"}, panicKind{7}, 42, boundsErr, (*derefErr)(nil)}
	rec := tracetest.NewSpanRecorder()
	sdk := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	want := map[string]string{} // message -> type, as the SDK writes them
	for _, v := range values {
		_, s := sdk.Tracer("t").Start(context.Background(), "s")
		endWhilePanicking(s, v, false)
	}
	for _, sp := range rec.Ended() {
		for _, ev := range sp.Events() {
			a := map[attribute.Key]string{}
			for _, kv := range ev.Attributes {
				a[kv.Key] = kv.Value.AsString()
			}
			want[a["exception.message"]] = a["exception.type"]
		}
	}
	if len(want) != len(values) {
		t.Fatalf("the SDK recorded %v", want)
	}

	rc, tp, shutdown := bridgeOverOTLP(t)
	tr := tp.Tracer("t")
	type key struct {
		span, msg string
	}
	stack := map[key]bool{} // the exceptions expected, by span name
	for i, v := range values {
		msg := fmt.Sprint(v)
		withStack := i%2 == 0
		name := fmt.Sprintf("p%d", i)
		ctx, root := tr.Start(context.Background(), name+"-run")
		_, n := tr.Start(ctx, name+"-node")
		if got := endWhilePanicking(n, v, withStack); got != v {
			t.Errorf("node: the panic went on with %v, want %v", got, v)
		}
		if got := endWhilePanicking(root, v, !withStack); got != v {
			t.Errorf("run: the panic went on with %v, want %v", got, v)
		}
		_, g := tr.Start(context.Background(), name+"-chat", trace.WithAttributes(attribute.String(genai.KeyOperationName, genai.OpChat)))
		if got := endWhilePanicking(g, v, withStack); got != v {
			t.Errorf("GenAI span: the panic went on with %v, want %v", got, v)
		}
		if n.IsRecording() || root.IsRecording() || g.IsRecording() {
			t.Errorf("%v: a span still records after End", v)
		}
		stack[key{"run_node:" + name + "-node", msg}] = withStack
		stack[key{"run:" + name + "-run", msg}] = !withStack
		stack[key{"run_node:" + name + "-chat", msg}] = withStack
	}
	shutdown()
	seen := 0
	for _, sp := range receivedSpans(rc) {
		for _, ev := range sp.Events {
			if ev.Name != "exception" {
				continue
			}
			a := stringAttrs(ev.Attributes)
			msg := a["exception.message"]
			withStack, ok := stack[key{sp.Name, msg}]
			if !ok {
				t.Errorf("span %q: unexpected exception %v", sp.Name, a)
				continue
			}
			seen++
			if a["exception.type"] != want[msg] {
				t.Errorf("span %q, %q: exception.type %q, the SDK's %q", sp.Name, msg, a["exception.type"], want[msg])
			}
			st, has := a["exception.stacktrace"]
			if has != withStack || has && !strings.Contains(st, "endWhilePanicking") {
				t.Errorf("span %q, %q: exception.stacktrace %v (%d bytes), want %v with the panicking frame", sp.Name, msg, has, len(st), withStack)
			}
		}
	}
	if seen != len(stack) {
		t.Errorf("%d exception events, want %d (one a span)", seen, len(stack))
	}
	if s := tp.Stats(); s.RunsStarted != 2*uint64(len(values)) {
		t.Errorf("stats %+v", s)
	}
}

// TestBridgeRecordErrorPanickingError: RecordError of an error whose
// Error method panics (a nil *derefErr) panics in the caller, as the
// SDK's RecordError does, and leaves the span usable: the run ends and
// Shutdown delivers every span. On a run span the panic left the run's
// writer claim taken, so the engine could never close the run: Shutdown
// ran out its 20 s with the run's spans in flight, their memory held.
func TestBridgeRecordErrorPanickingError(t *testing.T) {
	rc, tp, shutdown := bridgeOverOTLP(t)
	tr := tp.Tracer("t")
	ctx, root := tr.Start(context.Background(), "flow")
	_, n := tr.Start(ctx, "node")
	for _, s := range []trace.Span{root, n} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("RecordError of a panicking error did not panic, as the SDK's does")
				}
			}()
			s.RecordError((*derefErr)(nil))
		}()
		s.RecordError(errors.New("after"))
	}
	n.End()
	root.End()
	shutdown() // fails the test if the spans are not all delivered
	after := 0
	for _, sp := range receivedSpans(rc) {
		for _, ev := range sp.Events {
			if stringAttrs(ev.Attributes)["exception.message"] == "after" {
				after++
			}
		}
	}
	if after != 2 {
		t.Errorf("%d spans carry the exception recorded after the panic, want 2", after)
	}
}

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
