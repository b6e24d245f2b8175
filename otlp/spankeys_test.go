package otlp

import (
	"context"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
)

// TestSpanKeysOnce sets keys twice through the engine's own API (run and
// node SetAttributes, Input, Config, a SetAttributes key equal to a
// prefixed Input key, keys the span conventions write) and reads what a
// real receiver got with the official decoder: every span carries each key
// once, the caller's last value, the conventions' where the span writes
// the key itself, and the conventions' wins count in the span's
// dropped_attributes_count.
func TestSpanKeysOnce(t *testing.T) {
	rc := otlptest.StartKeeping(t, otlptest.GRPC)
	e, err := New(export.Config{Protocol: otlptest.GRPC, Endpoint: rc.Endpoint(), Insecure: true},
		engine.WithBatch(100, 10*time.Millisecond), engine.WithMetrics(engine.MetricsConfig{NoExport: true}))
	if err != nil {
		t.Fatal(err)
	}
	run := e.StartRun(engine.RunInfo{AppID: "app", FlowID: "flow"})
	run.SetAttributes(engine.String("tenant", "a"), engine.String("app_id", "caller"), engine.Int("code", 7))
	run.SetAttributes(engine.String("tenant", "b"), engine.String("bot_id", "kept"))
	nd := run.StartNode("llm:1", "llm", "Answer")
	nd.Input(engine.String("lang", "en"), engine.String("lang", "zh"))
	nd.Config(engine.String("model", "a"), engine.String("model", "b"))
	nd.SetAttributes(engine.String("k", "1"), engine.String("input.lang", "set"), engine.String("node_id", "x"))
	nd.SetAttributes(engine.String("k", "2"), engine.Int("code", 3))
	nd.End()
	run.End(0, "success")
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Replaced: the run's tenant=a, app_id and code; the node's lang=en,
	// its input lang=zh (by SetAttributes' input.lang), model=a, k=1 and
	// node_id.
	if s, ok := OTLPSink(e); !ok || s.EncoderStats().AttrsReplaced != 8 {
		t.Errorf("Sink.EncoderStats().AttrsReplaced = %d, want 8", s.EncoderStats().AttrsReplaced)
	}
	spans := receivedSpans(rc)
	if len(spans) != 2 {
		t.Fatalf("got %d spans, want 2", len(spans))
	}
	str := func(v *commonpb.AnyValue) any {
		if s, ok := v.Value.(*commonpb.AnyValue_StringValue); ok {
			return s.StringValue
		}
		return v.GetIntValue()
	}
	for _, s := range spans {
		got := map[string]any{}
		for _, kv := range s.Attributes {
			if _, dup := got[kv.Key]; dup {
				t.Errorf("span %q: key %q more than once", s.Name, kv.Key)
			}
			got[kv.Key] = str(kv.Value)
		}
		var want map[string]any
		var dropped uint32
		if s.ParentSpanId == nil {
			want = map[string]any{"tenant": "b", "app_id": "app", "code": int64(0), "bot_id": "kept"}
			dropped = 2 // app_id and code
		} else {
			want = map[string]any{"k": "2", "input.lang": "set", "config.model": "b", "node_id": "llm:1", "code": int64(3)}
			dropped = 1 // node_id
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("span %q: %s = %v, want %v", s.Name, k, got[k], v)
			}
		}
		if s.DroppedAttributesCount != dropped {
			t.Errorf("span %q: dropped_attributes_count %d, want %d", s.Name, s.DroppedAttributesCount, dropped)
		}
	}
}
