package otlp

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
)

// TestNoLogsBadPolicyNotBlamedOnNoLogs: with Config.NoLogs, New names
// NoLogs when it refuses TailPolicy.RunLogAlways for the logs being off.
// A policy refused for a value of its own (Ratio 2) was refused with that
// prefix too, "Config.NoLogs ... turns the run trace logs off, and
// TailPolicy.RunLogAlways exports the log of every run", blaming a setting
// that had nothing to do with it; and so with a sink of the caller's that
// takes the run logs, where NoLogs is no reason at all.
func TestNoLogsBadPolicyNotBlamedOnNoLogs(t *testing.T) {
	rc := otlptest.Start(t, otlptest.GRPC, nil)
	cfg := export.Config{Endpoint: rc.Endpoint(), Insecure: true, NoLogs: true}
	noPush := engine.WithMetrics(engine.MetricsConfig{NoExport: true})
	bad := engine.WithTailSampling(engine.TailPolicy{Ratio: 2, RunLogAlways: true})
	for name, opts := range map[string][]engine.Option{
		"otlp sink":   {noPush, bad},
		"caller sink": {noPush, bad, engine.WithSink(&engine.MemorySink{})},
	} {
		e, err := New(cfg, opts...)
		if e != nil {
			_ = e.Shutdown(context.Background())
		}
		if !errors.Is(err, engine.ErrInvalidSampler) || !strings.Contains(err.Error(), "Ratio") || strings.Contains(err.Error(), "NoLogs") {
			t.Errorf("%s: %v, want ErrInvalidSampler naming Ratio, not NoLogs", name, err)
		}
	}
}
