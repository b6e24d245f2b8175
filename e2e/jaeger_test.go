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
// Jaeger v2 and reads every trace back through Jaeger's query API.
func TestJaeger(t *testing.T) {
	query := env("FLOWTEL_JAEGER_QUERY", "http://127.0.0.1:16686")
	defer http.DefaultClient.CloseIdleConnections()
	if _, err := http.Get(query + "/api/services"); err != nil {
		t.Fatalf("Jaeger query API not reachable at %s (start it with scripts/e2e.sh): %v", query, err)
	}
	const runs, nodes = 20, 5
	for _, c := range []struct{ proto, endpoint string }{
		{"grpc", env("FLOWTEL_JAEGER_GRPC", "127.0.0.1:4317")},
		{"http/protobuf", env("FLOWTEL_JAEGER_HTTP", "http://127.0.0.1:4318")},
	} {
		t.Run(c.proto, func(t *testing.T) {
			service := fmt.Sprintf("flowtel-e2e-%s-%d", map[string]string{"grpc": "grpc", "http/protobuf": "http"}[c.proto], time.Now().UnixNano())
			e, err := otlp.New(export.Config{Protocol: c.proto, Endpoint: c.endpoint, Insecure: true},
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
			// Jaeger takes no OTLP logs: each run's trace log is refused
			// (Unimplemented, 404) and counted dropped, which Shutdown
			// reports with export.ErrDropped. Every span must arrive.
			if err := e.Shutdown(ctx); err != nil && !errors.Is(err, export.ErrDropped) {
				t.Fatal(err)
			}
			s := e.Stats()
			xs, _ := otlp.ExporterStats(e)
			if s.Exported != runs*(nodes+1) || xs.Signals[export.Traces].Exported != s.Exported || xs.Signals[export.Traces].Dropped != 0 {
				t.Fatalf("engine %+v exporter %+v", s, xs.Signals[export.Traces])
			}
			if l := xs.Signals[export.Logs]; l.Exported+l.Dropped != runs {
				t.Fatalf("run logs: %d exported + %d dropped, want %d", l.Exported, l.Dropped, runs)
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
