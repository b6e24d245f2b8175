package otlp

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
	"google.golang.org/grpc/codes"
)

// TestNoLogsForJaeger: a receiver without an OTLP logs service, as Jaeger
// is (its gRPC answers Unimplemented), refuses every run trace log, so an
// engine made by New with its logs on reports export.ErrDropped from
// Shutdown. New had no switch to turn them off, and NewFromEnv refused
// OTEL_LOGS_EXPORTER=none alone; export.Config.NoLogs (and
// OTEL_LOGS_EXPORTER=none) now sends traces without them, counting each
// run log not sent as sampled out, none dropped. RunLogAlways with the
// logs off is refused, naming NoLogs.
func TestNoLogsForJaeger(t *testing.T) {
	rc := otlptest.Start(t, otlptest.GRPC, func(c otlptest.Call) otlptest.Reply {
		if c.Signal == otlptest.Logs {
			return otlptest.Reply{Code: codes.Unimplemented, Message: "unknown service opentelemetry.proto.collector.logs.v1.LogsService"}
		}
		return otlptest.Reply{}
	})
	const runs = 3
	send := func(e *engine.Engine) error {
		for range runs {
			r := e.StartRun(engine.RunInfo{FlowID: "f"})
			r.StartNode("llm:1", "llm", "LLM").End()
			r.End(0, "")
		}
		return e.Shutdown(context.Background())
	}
	noPush := engine.WithMetrics(engine.MetricsConfig{NoExport: true}) // Jaeger takes no OTLP metrics either
	cfg := export.Config{Endpoint: rc.Endpoint(), Insecure: true}

	// Logs on: every run log refused, counted dropped and reported.
	e, err := New(cfg, noPush)
	if err != nil {
		t.Fatal(err)
	}
	if err := send(e); !errors.Is(err, export.ErrDropped) {
		t.Fatalf("logs on, Shutdown = %v, want export.ErrDropped for the run logs refused", err)
	}
	if xs, _ := ExporterStats(e); xs.Signals[export.Logs].Dropped != runs {
		t.Fatalf("logs on: %+v, want the %d run logs dropped", xs.Signals[export.Logs], runs)
	}

	// NoLogs, from the Config and from the environment.
	fromEnv, err := export.FromLookup(lookupMap(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + rc.Addr, "OTEL_LOGS_EXPORTER": "none"}))
	if err != nil {
		t.Fatal(err)
	}
	cfg.NoLogs = true
	for name, newEngine := range map[string]func() (*engine.Engine, error){
		"Config.NoLogs": func() (*engine.Engine, error) { return New(cfg, noPush) },
		"OTEL_LOGS_EXPORTER=none, New": func() (*engine.Engine, error) {
			return New(fromEnv, noPush)
		},
		"OTEL_LOGS_EXPORTER=none, NewFromEnv": func() (*engine.Engine, error) {
			return newFromLookup(lookupMap(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + rc.Addr,
				"OTEL_LOGS_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"}))
		},
	} {
		before := rc.Items()
		e, err := newEngine()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := send(e); err != nil {
			t.Fatalf("%s: Shutdown = %v, want nil", name, err)
		}
		s := e.Stats()
		sink, _ := OTLPSink(e)
		got := rc.Items()
		if s.Exported != 2*runs || s.Dropped != 0 || got[otlptest.Traces]-before[otlptest.Traces] != 2*runs || got[otlptest.Logs] != before[otlptest.Logs] {
			t.Errorf("%s: stats %+v, receiver %v then %v, want the %d spans exported, no log sent", name, s, before, got, 2*runs)
		}
		if n := sink.RunLogsSampledOut(); n != runs {
			t.Errorf("%s: RunLogsSampledOut = %d, want %d", name, n, runs)
		}
		if prom := string(e.AppendPrometheus(nil)); !strings.Contains(prom, `flowtel_export_items_total{signal="logs",result="sampled_out"} 3`) {
			t.Errorf("%s: the run logs not sent are not in the exposition:\n%s", name, grepLines(prom, "export_items"))
		}
	}

	p := engine.TailPolicy{Ratio: 0.5, RunLogAlways: true}
	if e, err := New(cfg, noPush, engine.WithTailSampling(p)); !errors.Is(err, engine.ErrInvalidSampler) || !strings.Contains(err.Error(), "NoLogs") {
		if e != nil {
			e.Shutdown(context.Background())
		}
		t.Errorf("NoLogs with RunLogAlways: %v, want ErrInvalidSampler naming NoLogs", err)
	}
	// A sink of the caller's that takes run logs gets them all the same.
	mem := &engine.MemorySink{}
	e, err = New(cfg, noPush, engine.WithTailSampling(engine.TailPolicy{Ratio: 1e-9, RunLogAlways: true}), engine.WithSink(mem))
	if err != nil {
		t.Fatal(err)
	}
	if err := send(e); err != nil {
		t.Fatal(err)
	}
	if len(mem.LogRuns())+len(mem.Runs()) != runs {
		t.Errorf("the caller's sink got %d run logs and %d runs, want %d in all", len(mem.LogRuns()), len(mem.Runs()), runs)
	}
}

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
