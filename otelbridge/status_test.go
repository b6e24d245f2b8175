package otelbridge

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowtel/flowtel/encode"
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
