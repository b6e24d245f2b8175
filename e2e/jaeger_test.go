//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/jaegerapi"
	"github.com/flowtel/flowtel/otlp"
)

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// TestJaeger sends N runs over OTLP/gRPC and N over OTLP/HTTP to a real
// Jaeger v2 and reads every trace back through Jaeger's query API. Jaeger
// has no OTLP logs service: the engines turn the run logs off
// (export.Config.NoLogs, as a Jaeger user would), but for one, which
// leaves them on and takes Shutdown's export.ErrDropped for the run logs
// Jaeger refuses.
func TestJaeger(t *testing.T) {
	query := env("FLOWTEL_JAEGER_QUERY", "http://127.0.0.1:16686")
	defer http.DefaultClient.CloseIdleConnections()
	if _, err := http.Get(query + "/api/services"); err != nil {
		t.Fatalf("Jaeger query API not reachable at %s (start it with scripts/e2e.sh): %v", query, err)
	}
	const runs, nodes = 20, 5
	grpc, http := env("FLOWTEL_JAEGER_GRPC", "127.0.0.1:4317"), env("FLOWTEL_JAEGER_HTTP", "http://127.0.0.1:4318")
	for _, c := range []struct {
		proto, endpoint string
		logs            bool
	}{
		{"grpc", grpc, false},
		{"http/protobuf", http, false},
		{"grpc", grpc, true},
	} {
		name := map[string]string{"grpc": "grpc", "http/protobuf": "http"}[c.proto]
		if c.logs {
			name += "-logs"
		}
		t.Run(name, func(t *testing.T) {
			service := fmt.Sprintf("flowtel-e2e-%s-%d", name, time.Now().UnixNano())
			e, err := otlp.New(export.Config{Protocol: c.proto, Endpoint: c.endpoint, Insecure: true, NoLogs: !c.logs},
				engine.WithResource(encode.Resource{ServiceName: service, HostIP: "127.0.0.1"}),
				engine.WithBatch(64, 20*time.Millisecond),
				engine.WithMetrics(engine.MetricsConfig{NoExport: true})) // Jaeger takes no OTLP metrics
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < runs; i++ {
				run := e.StartRun(engine.RunInfo{FlowID: "flow-e2e", AppID: "app", UID: "user", ChatID: "chat", SID: "sid-" + strconv.Itoa(i)})
				for k := 0; k < nodes; k++ {
					n := run.StartNode(fmt.Sprintf("llm:%d", k), "llm", "LLM")
					n.Input(engine.String("query", "hello"))
					n.Info("calling the model")
					n.Usage(engine.Usage{PromptTokens: 3, CompletionTokens: 4, TotalTokens: 7})
					if k == nodes-1 && i%2 == 0 {
						n.RecordError(fmt.Errorf("tool failed"))
						continue
					}
					n.End()
				}
				run.End(0, "success")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			// Jaeger takes no OTLP logs. Turned off, the run logs are
			// counted sampled out and Shutdown reports nothing; left on,
			// each is refused (Unimplemented) and counted dropped, which
			// Shutdown reports with export.ErrDropped. Every span must
			// arrive either way.
			err = e.Shutdown(ctx)
			s := e.Stats()
			xs, _ := otlp.ExporterStats(e)
			sink, _ := otlp.OTLPSink(e)
			l := xs.Signals[export.Logs]
			switch {
			case !c.logs && err != nil:
				t.Fatalf("logs off: Shutdown = %v, want nil", err)
			case !c.logs && (l.Enqueued != 0 || sink.RunLogsSampledOut() != runs):
				t.Fatalf("logs off: %d run logs sampled out, exporter %+v, want %d sampled out, none sent", sink.RunLogsSampledOut(), l, runs)
			case c.logs && !errors.Is(err, export.ErrDropped):
				t.Fatalf("logs on: Shutdown = %v, want export.ErrDropped for the run logs Jaeger refuses", err)
			case c.logs && (l.Dropped != runs || sink.RunLogsSampledOut() != 0):
				t.Fatalf("logs on: exporter %+v, %d sampled out, want the %d run logs dropped", l, sink.RunLogsSampledOut(), runs)
			}
			if s.Exported != runs*(nodes+1) || s.Dropped != 0 || xs.Signals[export.Traces].Exported != s.Exported || xs.Signals[export.Traces].Dropped != 0 {
				t.Fatalf("engine %+v exporter %+v", s, xs.Signals[export.Traces])
			}

			var traces []jaegerapi.Trace
			deadline := time.Now().Add(30 * time.Second)
			for time.Now().Before(deadline) {
				traces = fetch(t, query, service, runs)
				if len(traces) == runs && allSpans(traces, nodes+1) {
					break
				}
				time.Sleep(300 * time.Millisecond)
			}
			if len(traces) != runs {
				t.Fatalf("Jaeger has %d traces for %s, want %d", len(traces), service, runs)
			}
			errorsSeen := 0
			for _, tr := range traces {
				if len(tr.Spans) != nodes+1 {
					t.Fatalf("trace %s has %d spans, want %d", tr.TraceID, len(tr.Spans), nodes+1)
				}
				var root string
				for _, sp := range tr.Spans {
					if len(sp.References) == 0 {
						root = sp.SpanID
					}
				}
				for _, sp := range tr.Spans {
					tags := map[string]any{}
					for _, tg := range sp.Tags {
						tags[tg.Key] = tg.Value
					}
					for _, k := range []string{"sid", "app_id", "uid", "chat_id", "span_version"} {
						if _, ok := tags[k]; !ok {
							t.Errorf("span %s lacks tag %s: %v", sp.OperationName, k, tags)
						}
					}
					if sp.SpanID == root {
						if sp.OperationName != "run:flow-e2e" {
							t.Errorf("root span named %q", sp.OperationName)
						}
						continue
					}
					if len(sp.References) != 1 || sp.References[0].RefType != "CHILD_OF" || sp.References[0].SpanID != root {
						t.Errorf("node span %s does not point to the root: %+v", sp.OperationName, sp.References)
					}
					if tags["node_type"] != "llm" || tags["gen_ai.usage.input_tokens"] == nil {
						t.Errorf("node span tags %v", tags)
					}
					if len(sp.Logs) == 0 {
						t.Errorf("node span %s has no events", sp.OperationName)
					}
					if tags["otel.status_code"] == "ERROR" {
						errorsSeen++
					}
				}
			}
			if errorsSeen != runs/2 {
				t.Errorf("%d error spans in Jaeger, want %d", errorsSeen, runs/2)
			}
		})
	}
}

func fetch(t *testing.T, query, service string, limit int) []jaegerapi.Trace {
	t.Helper()
	traces, err := jaegerapi.Traces(query, service, limit*2)
	if err != nil {
		t.Fatal(err)
	}
	return traces
}

func allSpans(traces []jaegerapi.Trace, n int) bool {
	for _, tr := range traces {
		if len(tr.Spans) != n {
			return false
		}
	}
	return true
}
