package otlp

import (
	"context"
	"testing"

	"github.com/flowtel/flowtel/engine"
)

// TestNewFromEnvDisabledRunLogAlways: with export off (OTLP_ENABLE=false),
// a tail policy with RunLogAlways, which an engine exporting over OTLP
// takes, made NewFromEnv fail: the off sink takes no run logs, and New
// refused the policy for it. Turning export off by the environment must
// not stop a program that starts with it on; nothing is sent, every run
// is sampled out and counted so.
func TestNewFromEnvDisabledRunLogAlways(t *testing.T) {
	policy := engine.WithTailSampling(engine.TailPolicy{KeepErrors: true, RunLogAlways: true})
	on, err := newFromLookup(lookupMap(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_METRICS_EXPORTER": "none"}), policy)
	if err != nil {
		t.Fatalf("export on: %v", err)
	}
	if err := on.Shutdown(context.Background()); err != nil { // nothing ran: nothing to send
		t.Fatal(err)
	}

	e, err := newFromLookup(lookupMap(map[string]string{"OTLP_ENABLE": "false"}), policy)
	if err != nil {
		t.Fatalf("export off: %v, want the engine export on gives", err)
	}
	e.StartRun(engine.RunInfo{FlowID: "f"}).End(1, "failed")
	e.StartRun(engine.RunInfo{FlowID: "f"}).End(0, "")
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := e.Stats(); s.Accepted != 2 || s.SampledOut != 2 || s.Dropped != 0 || s.SinkErrors != 0 || s.RunLogsDropped != 0 {
		t.Errorf("stats %+v, want both runs sampled out, nothing dropped", s)
	}
}
