package otelbridge

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
)

// TestBridgeRunStatus ends bridged run spans with each status and "code"
// attribute: SetStatus(codes.Error) makes the run span ERROR with its
// description even when a "code" attribute of 0 says the run succeeded
// (it was exported unset: the status the instrumentation set was lost),
// Ok after Error stays OK, and a non-zero code without a status is ERROR.
func TestBridgeRunStatus(t *testing.T) {
	e, sink := newTestEngine(t)
	tr := NewTracerProvider(e).Tracer("t")
	cases := []struct {
		name   string
		code   []int64
		status []codes.Code
		want   encode.StatusCode
		msg    string
	}{
		{"error code 0", []int64{0}, []codes.Code{codes.Error}, encode.StatusError, "failed"},
		{"error", nil, []codes.Code{codes.Error}, encode.StatusError, "failed"},
		{"error then ok", nil, []codes.Code{codes.Error, codes.Ok}, encode.StatusOK, ""},
		{"ok then error", nil, []codes.Code{codes.Ok, codes.Error}, encode.StatusOK, ""},
		{"code 3", []int64{3}, nil, encode.StatusError, ""},
		{"unset", nil, nil, encode.StatusUnset, ""},
	}
	for _, c := range cases {
		var opts []trace.SpanStartOption
		for _, code := range c.code {
			opts = append(opts, trace.WithAttributes(attribute.Int64("code", code)))
		}
		_, s := tr.Start(context.Background(), c.name, opts...)
		for _, st := range c.status {
			s.SetStatus(st, "failed")
		}
		s.End()
	}
	flush(t, e)
	got := map[string]encode.Run{}
	for _, r := range sink.Runs() {
		got[r.FlowID] = r
	}
	for _, c := range cases {
		r, ok := got[c.name]
		if !ok {
			t.Errorf("run %q missing", c.name)
			continue
		}
		if r.Status != c.want || r.StatusMessage != c.msg {
			t.Errorf("run %q: status %v %q, want %v %q", c.name, r.Status, r.StatusMessage, c.want, c.msg)
		}
	}
}

// TestBridgeRunStatusOkWithCode ends bridged run spans given
// SetStatus(codes.Ok) with a non-zero "code" attribute and decodes what
// otlp's sink sends to a real receiver with the official types: the run
// span is OK, as OpenTelemetry makes a status set Ok by the
// instrumentation final, and keeps its code. It was exported ERROR: the
// pipeline derived the status from the code. Without a status the code
// still makes the run ERROR.
func TestBridgeRunStatusOkWithCode(t *testing.T) {
	rc, tp, shutdown := bridgeOverOTLP(t)
	tr := tp.Tracer("t")
	cases := []struct {
		name string
		ok   []codes.Code
		want tracepb.Status_StatusCode
	}{
		{"ok code 3", []codes.Code{codes.Ok}, tracepb.Status_STATUS_CODE_OK},
		{"ok then error code 3", []codes.Code{codes.Ok, codes.Error}, tracepb.Status_STATUS_CODE_OK},
		{"error then ok code 3", []codes.Code{codes.Error, codes.Ok}, tracepb.Status_STATUS_CODE_OK},
		{"code 3", nil, tracepb.Status_STATUS_CODE_ERROR},
	}
	for _, c := range cases {
		_, s := tr.Start(context.Background(), c.name, trace.WithAttributes(attribute.Int64("code", 3)))
		for _, st := range c.ok {
			s.SetStatus(st, "failed")
		}
		s.End()
	}
	shutdown()
	got := map[string]*tracepb.Span{}
	for _, sp := range receivedSpans(rc) {
		got[sp.Name] = sp
	}
	for _, c := range cases {
		sp, ok := got["run:"+c.name]
		if !ok {
			t.Errorf("run %q missing (got %d spans)", c.name, len(got))
			continue
		}
		if sp.GetStatus().GetCode() != c.want || (c.want == tracepb.Status_STATUS_CODE_OK && sp.GetStatus().GetMessage() != "") {
			t.Errorf("run %q: status %v, want %v", c.name, sp.GetStatus(), c.want)
		}
		code := ""
		for _, kv := range sp.Attributes {
			if kv.Key == "code" {
				code = anyString(kv.Value)
			}
		}
		if code != "3" {
			t.Errorf("run %q: code %q, want 3", c.name, code)
		}
	}
}

// TestBridgeRunOkNotFailed: tail sampling's KeepErrors (and RunView.Failed)
// reads the run's status as exported, so a run the instrumentation set Ok
// is not kept as failed for its non-zero code, and one with the code alone
// is. It was kept as failed while exported OK.
func TestBridgeRunOkNotFailed(t *testing.T) {
	sink := &engine.MemorySink{}
	var failed sync.Map
	e, err := engine.New(engine.WithSink(sink), engine.WithBatch(1, time.Millisecond),
		engine.WithTailSampling(engine.TailPolicy{KeepErrors: true, Decide: func(v engine.RunView) engine.TailDecision {
			failed.Store(v.FlowID(), v.Failed())
			return engine.TailDefault
		}}))
	if err != nil {
		t.Fatal(err)
	}
	tr := NewTracerProvider(e).Tracer("t")
	_, ok := tr.Start(context.Background(), "ok", trace.WithAttributes(attribute.Int64("code", 3)))
	ok.SetStatus(codes.Ok, "")
	ok.End()
	_, bad := tr.Start(context.Background(), "bad", trace.WithAttributes(attribute.Int64("code", 3)))
	bad.End()
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, r := range sink.Runs() {
		kept = append(kept, r.FlowID)
	}
	if len(kept) != 1 || kept[0] != "bad" {
		t.Errorf("runs kept %q, want only bad (failed by its code)", kept)
	}
	for flow, want := range map[string]bool{"ok": false, "bad": true} {
		if got, _ := failed.Load(flow); got != want {
			t.Errorf("RunView.Failed of %s = %v, want %v", flow, got, want)
		}
	}
	if s := e.Stats(); s.RunsSampledOut != 1 {
		t.Errorf("RunsSampledOut %d, want 1", s.RunsSampledOut)
	}
}

// TestBridgeStatusAsSDK: each sequence of SetStatus calls leaves a node
// span with the status and description OpenTelemetry's SDK exports for
// it (its OTLP exporter writes a code the API does not define as unset).
// A code past Ok, which the SDK keeps and lets nothing replace, was
// replaced by a later Error or Ok.
func TestBridgeStatusAsSDK(t *testing.T) {
	bad := codes.Code(7)
	seqs := [][]codes.Code{
		{codes.Error}, {codes.Error, codes.Unset}, {codes.Error, codes.Error}, {codes.Error, codes.Ok},
		{codes.Ok, codes.Error}, {codes.Ok, codes.Unset}, {codes.Unset, codes.Error},
		{bad}, {bad, codes.Error}, {bad, codes.Ok}, {codes.Error, bad}, {codes.Ok, bad, codes.Error},
	}
	exported := func(c codes.Code) encode.StatusCode {
		switch c {
		case codes.Error:
			return encode.StatusError
		case codes.Ok:
			return encode.StatusOK
		}
		return encode.StatusUnset
	}
	e, sink := newTestEngine(t)
	tr := NewTracerProvider(e).Tracer("t")
	ctx, root := tr.Start(context.Background(), "flow")
	want := map[string]sdktrace.Status{}
	for i, seq := range seqs {
		name := fmt.Sprint("seq", i)
		rec := tracetest.NewSpanRecorder()
		sdk := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
		_, ss := sdk.Tracer("t").Start(context.Background(), name)
		_, bs := tr.Start(ctx, name)
		for j, c := range seq {
			desc := fmt.Sprint("d", j)
			ss.SetStatus(c, desc)
			bs.SetStatus(c, desc)
		}
		ss.End()
		bs.End()
		want[name] = rec.Ended()[0].Status()
	}
	root.End()
	flush(t, e)
	runs := sink.Runs()
	if len(runs) != 1 || len(runs[0].Nodes) != len(seqs) {
		t.Fatalf("%d runs, want 1 of %d nodes", len(runs), len(seqs))
	}
	for _, n := range runs[0].Nodes {
		w := want[n.NodeID]
		wmsg := w.Description
		if w.Code != codes.Error {
			wmsg = ""
		}
		if n.Status != exported(w.Code) || n.StatusMessage != wmsg {
			t.Errorf("%s: status %d %q, the SDK's %v %q", n.NodeID, n.Status, n.StatusMessage, w.Code, w.Description)
		}
	}
}
