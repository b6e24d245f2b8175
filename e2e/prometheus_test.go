//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowtel/flowtel/deploy/grafana/queries"
	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/genai"
	"github.com/flowtel/flowtel/otlp"
	"github.com/flowtel/flowtel/promhttp"
)

// The Prometheus jobs of the two ingestion paths: scripts/e2e-prometheus.sh
// scrapes promhttp.Handler as job flowtel_scrape, and the collector's
// remote write labels series with job = the resource's service.name.
const (
	scrapeJob   = "flowtel_scrape"
	serviceName = "flowtel-e2e"
)

// TestPrometheus runs an engine made by otlp.New that sends OTLP metrics to
// the real OpenTelemetry Collector (which remote-writes them into real
// Prometheus) and serves promhttp.Handler on the port Prometheus scrapes;
// generates a short realistic load (several node types, some failures,
// some failed runs); then checks that every dashboard and alert
// expression returns data on both paths, and that the alert rules
// evaluate without error. Start everything with scripts/e2e-prometheus.sh.
func TestPrometheus(t *testing.T) {
	prom := env("FLOWTEL_PROM_URL", "http://127.0.0.1:9090")
	otlpAddr := env("FLOWTEL_OTLP_GRPC", "127.0.0.1:4317")
	addr := env("FLOWTEL_METRICS_ADDR", "127.0.0.1:9464")
	load := 20 * time.Second
	if d, err := time.ParseDuration(env("FLOWTEL_E2E_LOAD", "20s")); err == nil {
		load = d
	}
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	if resp, err := client.Get(prom + "/-/ready"); err != nil {
		t.Fatalf("Prometheus not reachable at %s (run scripts/e2e-prometheus.sh): %v", prom, err)
	} else {
		resp.Body.Close()
	}

	e, err := otlp.New(export.Config{Endpoint: otlpAddr, Insecure: true},
		engine.WithResource(encode.Resource{ServiceName: serviceName, ServiceInstanceID: "e2e-1", HostIP: "127.0.0.1"}),
		engine.WithMetrics(engine.MetricsConfig{Interval: time.Second, DC: "e2e", ServerName: "agent-builder"}))
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.Handler(e))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(lis)
	defer srv.Close()

	runs := generate(e, load)
	t.Logf("%d runs in %v", runs, load)

	qs, _, err := queries.Dashboard("..")
	if err != nil {
		t.Fatal(err)
	}
	as, err := queries.Alerts("..")
	if err != nil {
		t.Fatal(err)
	}
	qs = append(qs, as...)
	paths := []struct{ name, matcher string }{
		{"scrape", `job="` + scrapeJob + `"`},
		{"remote-write", `job="` + serviceName + `"`},
	}
	if job := os.Getenv("FLOWTEL_LOADGEN_JOB"); job != "" {
		// The load generator's own /metrics, scraped while it runs.
		paths = append(paths, struct{ name, matcher string }{"load generator scrape", `job="` + job + `"`})
	}
	// Poll (bounded) until every expression has data on both paths: the
	// last export, remote write and scrape take a few seconds to land.
	var missing []string
	deadline := time.Now().Add(90 * time.Second)
	for {
		missing = missing[:0]
		for _, p := range paths {
			for _, q := range qs {
				expr := queries.Prepare(q.Expr, p.matcher)
				ok, err := queries.HasData(context.Background(), client, prom, expr)
				if err != nil {
					t.Fatalf("%s, %s: %v", p.name, q.Source, err)
				}
				if !ok {
					missing = append(missing, fmt.Sprintf("%s: %s: %s", p.name, q.Source, expr))
				}
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Second)
	}
	for _, m := range missing {
		t.Errorf("no data: %s", m)
	}
	if len(missing) == 0 {
		for _, p := range paths {
			t.Logf("%d expressions return data on the %s path (%s)", len(qs), p.name, p.matcher)
		}
	}
	// The job matcher really selects a path: an unknown job has no data.
	if ok, err := queries.HasData(context.Background(), client, prom, queries.Prepare(qs[0].Expr, `job="no-such-job"`)); err != nil || ok {
		t.Errorf("a query of an unknown job: data %v, error %v", ok, err)
	}
	checkRules(t, client, prom)

	bs := e.Bottlenecks()
	if len(bs) == 0 || bs[0].LatencyRank != 1 {
		t.Errorf("bottlenecks: %+v", bs)
	}
	for _, b := range bs {
		t.Logf("bottleneck %-10s n=%-6d errors=%-5d p50=%-7d p99=%-7d µs rank by p99 %d, by errors %d",
			b.NodeType, b.Count, b.Errors, b.P50, b.P99, b.LatencyRank, b.ErrorRank)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	xs, _ := otlp.ExporterStats(e)
	if m := xs.Signals[export.Metrics]; m.Exported == 0 || m.Dropped != 0 {
		t.Errorf("metrics export: %+v", m)
	}
}

// generate runs workflow runs from 4 workers for d: start, llm (a few ms,
// streaming), plugin (fails 10 % of the time), code, an if-else, end;
// about 5 % of the runs end with return code 10001.
func generate(e *engine.Engine, d time.Duration) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	stop := time.Now().Add(d)
	for w := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 99))
			n := 0
			for time.Now().Before(stop) {
				app := fmt.Sprint("app-", r.IntN(3))
				run := e.StartRun(engine.RunInfo{AppID: app, FlowID: fmt.Sprint("flow-", r.IntN(2)), UID: "u", ChatID: "c"})
				step := func(typ string, sleep time.Duration, fail bool, attrs ...engine.Attr) engine.Node {
					node := run.StartNode(typ+":1", typ, typ)
					node.SetAttributes(attrs...)
					time.Sleep(sleep)
					if fail {
						node.RecordError(errors.New(typ + " failed"))
					}
					return node
				}
				step("start", 0, false).End()
				// A streamed LLM call and a tool with the GenAI
				// attributes: the GenAI families and panels.
				llm := step("llm", time.Duration(2+r.IntN(6))*time.Millisecond, false, genai.OperationName(genai.OpChat),
					genai.ProviderName("iflytek"), genai.RequestModel(fmt.Sprint("spark-", r.IntN(2))))
				llm.FirstTokenCost(time.Millisecond)
				for range 3 {
					llm.Chunk()
				}
				llm.Usage(engine.Usage{PromptTokens: int64(100 + r.IntN(400)), CompletionTokens: int64(10 + r.IntN(90))})
				llm.End()
				step("plugin", time.Millisecond, r.IntN(10) == 0, genai.OperationName(genai.OpExecuteTool), genai.ToolName("weather")).End()
				step("code", 0, false).End()
				step("if-else", 0, false).End()
				step("end", 0, false).End()
				code := 0
				if r.IntN(20) == 0 {
					code = 10001
				}
				run.End(code, "")
				n++
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()
	return total
}

// checkRules asks Prometheus for its rules: all eight alerts are loaded
// and none failed to evaluate.
func checkRules(t *testing.T, client *http.Client, prom string) {
	t.Helper()
	resp, err := client.Get(prom + "/api/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name      string `json:"name"`
					Health    string `json:"health"`
					LastError string `json:"lastError"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range out.Data.Groups {
		for _, r := range g.Rules {
			names = append(names, r.Name)
			if r.Health != "ok" {
				t.Errorf("rule %s: health %q %s", r.Name, r.Health, r.LastError)
			}
		}
	}
	if len(names) != 8 {
		t.Errorf("rules loaded: %s", strings.Join(names, ", "))
	}
}
