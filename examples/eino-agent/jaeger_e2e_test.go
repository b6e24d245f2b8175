//go:build e2e

package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/flowtel/flowtel/internal/jaegerapi"
)

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// TestJaegerEino runs the example into a real Jaeger (scripts/e2e.sh
// starts it) and reads every trace back through Jaeger's query API: one
// trace per request, its root span the run, every node a child of it, the
// LLM nodes with their model and usage.
func TestJaegerEino(t *testing.T) {
	query := env("FLOWTEL_JAEGER_QUERY", "http://127.0.0.1:16686")
	grpc := env("FLOWTEL_JAEGER_GRPC", "127.0.0.1:4317")
	defer http.DefaultClient.CloseIdleConnections() // for goleak
	resp, err := http.Get(query + "/api/services")
	if err != nil {
		t.Skipf("no Jaeger at %s: %v", query, err)
	}
	resp.Body.Close()
	service := fmt.Sprintf("eino-agent-e2e-%d", time.Now().UnixNano())
	const n = 8
	var out, errb bytes.Buffer
	if code := run([]string{"-n", fmt.Sprint(n), "-c", "4", "-first-chunk", "5ms", "-per-chunk", "1ms",
		"-retrieve", "1ms", "-tool", "2ms", "-endpoint", grpc, "-service", service, "-logs=false", "-metrics-push=false"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	// With the run logs and the metrics push off nothing is refused: Jaeger
	// has no OTLP logs or metrics service, and every refused run log or
	// metrics push was a dropped batch that flush and shutdown reported.
	if strings.Contains(errb.String(), "dropped") {
		t.Errorf("stderr says something was dropped:\n%s", errb.String())
	}
	// 6 of the 8 questions take the tool path (a root and 10 nodes), 2 the
	// direct one (a root and 5).
	const wantSpans = 6*11 + 2*6
	var traces []jaegerapi.Trace
	for deadline := time.Now().Add(30 * time.Second); ; { // Jaeger indexes asynchronously
		traces = fetch(t, query, service)
		got := 0
		for _, tr := range traces {
			got += len(tr.Spans)
		}
		if len(traces) == n && got == wantSpans {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Jaeger has %d traces with %d spans of %s, want %d with %d", len(traces), got, service, n, wantSpans)
		}
		time.Sleep(500 * time.Millisecond)
	}
	paths := map[string]int{}
	for _, tr := range traces {
		root := ""
		var ops []string
		for _, sp := range tr.Spans {
			if len(sp.References) == 0 {
				if root != "" {
					t.Fatalf("two root spans in a trace")
				}
				root = sp.SpanID
				if sp.OperationName != "run:travel-agent" {
					t.Errorf("root span %q", sp.OperationName)
				}
			}
		}
		ids := map[string]string{} // operation name: span id
		for _, sp := range tr.Spans {
			ids[sp.OperationName] = sp.SpanID
		}
		for _, sp := range tr.Spans {
			if sp.SpanID == root {
				continue
			}
			ops = append(ops, strings.TrimPrefix(sp.OperationName, "run_node:"))
			// The tool runs below its ToolsNode, the nested graph's nodes
			// below its flow node, the others below the run.
			parent := root
			switch sp.OperationName {
			case "run_node:weather":
				parent = ids["run_node:tools"]
			case "run_node:format", "run_node:writer":
				parent = ids["run_node:respond"]
			}
			if sp.References[0].SpanID != parent {
				t.Errorf("%s: parent span %s, want %s", sp.OperationName, sp.References[0].SpanID, parent)
			}
			if sp.OperationName == "run_node:planner" || sp.OperationName == "run_node:writer" {
				tags := map[string]any{}
				for _, tg := range sp.Tags {
					tags[tg.Key] = tg.Value
				}
				if tags["gen_ai.request.model"] == nil || tags["config.model"] == nil || tags["gen_ai.usage.input_tokens"] == nil || tags["node_type"] != "llm" {
					t.Errorf("%s tags: %v", sp.OperationName, tags)
				}
			}
		}
		sort.Strings(ops)
		paths[strings.Join(ops, " ")]++
	}
	want := map[string]int{
		"classify format guide planner profile prompt respond tools weather writer": 6,
		"classify guide planner profile prompt":                                     2,
	}
	for p, c := range want {
		if paths[p] != c {
			t.Errorf("%d traces with nodes %q, want %d (all: %v)", paths[p], p, c, paths)
		}
	}
}

func fetch(t *testing.T, query, service string) []jaegerapi.Trace {
	t.Helper()
	traces, err := jaegerapi.Traces(query, service, 100)
	if err != nil {
		t.Fatal(err)
	}
	return traces
}
