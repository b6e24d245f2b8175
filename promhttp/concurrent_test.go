package promhttp

import (
	"context"
	"fmt"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/genai"
	"github.com/flowtel/flowtel/internal/otlptest"
	"github.com/flowtel/flowtel/internal/testkit"
	"github.com/flowtel/flowtel/otlp"
)

// TestScrapesWhileRecording scrapes an engine made by otlp.New from two
// goroutines while three record runs (nodes, GenAI calls, cancellations,
// more applications than the limit) and RecordRequest, and the OTLP push
// runs every 10 ms against a real gRPC receiver. Every scrape must be
// well formed, its histograms consistent (buckets cumulative, +Inf equal
// to _count), no counter below its value in the scraper's previous
// scrape; the last scrape must count every request and node. Run it
// under -race.
func TestScrapesWhileRecording(t *testing.T) {
	rc := otlptest.StartKeeping(t, otlptest.GRPC)
	e, err := otlp.New(export.Config{Endpoint: rc.Endpoint(), Insecure: true},
		engine.WithMetrics(engine.MetricsConfig{Interval: engine.MinMetricsInterval, Limit: 16}))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	srv := httptest.NewServer(Handler(e))
	defer srv.Close()

	const recorders, runs = 3, 200
	var done atomic.Bool
	var scrapes, started, nodes atomic.Int64
	var rec, scr sync.WaitGroup
	for w := range recorders {
		rec.Go(func() {
			for i := range runs {
				// Ten runs a scrape: 20 scrapes see the recording.
				for scrapes.Load() < int64(i/10) {
					time.Sleep(time.Millisecond)
				}
				started.Add(1)
				nodes.Add(1)
				run := e.StartRun(engine.RunInfo{AppID: fmt.Sprint("app-", w, "-", i%12), FlowID: "flow"})
				n := run.StartNode("llm:1", "llm", "LLM")
				n.SetAttributes(genai.OperationName(genai.OpChat), genai.RequestModel(fmt.Sprint("m", i%3)))
				n.Usage(engine.Usage{PromptTokens: 10, CompletionTokens: int64(i)})
				n.End()
				if i%4 == 0 {
					nodes.Add(1)
					run.StartNode("c:1", "code", "code").Cancel("stop")
				}
				run.End(i%3, "")
				e.RecordRequest(fmt.Sprint("direct-", i%20), "f", 0, 0)
			}
		})
	}
	for range 2 {
		scr.Go(func() {
			prev := map[string]float64{}
			for n := 0; n == 0 || !done.Load(); n++ {
				_, body := testkit.Get(t, srv.URL+"/metrics")
				checkScrape(t, body, prev)
				scrapes.Add(1)
			}
		})
	}
	rec.Wait()
	done.Store(true)
	scr.Wait()
	t.Logf("%d scrapes while recording %d runs", scrapes.Load(), started.Load())
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, body := testkit.Get(t, srv.URL+"/metrics")
	checkScrape(t, body, map[string]float64{})
	testkit.Promtool(t, body)
	if got, want := familySum(body, "server_request_total"), float64(2*started.Load()); got != want {
		t.Errorf("server_request_total adds up to %v, want %v", got, want)
	}
	if got, want := familySum(body, "flowtel_node_executions_total"), float64(nodes.Load()); got != want {
		t.Errorf("flowtel_node_executions_total adds up to %v, want %v", got, want)
	}
}

// sample splits a sample line into its series (name and labels) and value.
var sample = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$`)

// leLabel matches the le label of a bucket line, and what follows it.
var leLabel = regexp.MustCompile(`,?le="([^"]*)"`)

// checkScrape holds body to the text format's grammar and a histogram's
// rules, and its counters to prev (series to value, updated).
func checkScrape(t *testing.T, body []byte, prev map[string]float64) {
	t.Helper()
	types := map[string]string{}
	var lastBucket float64
	var lastSeries string
	for _, line := range strings.Split(strings.TrimSuffix(string(body), "\n"), "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			types[f[2]] = f[3]
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		m := sample.FindStringSubmatch(line)
		if m == nil || !sampleLine.MatchString(line) {
			t.Errorf("invalid line %q", line)
			continue
		}
		name, labels := m[1], m[2]
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Errorf("line %q: %v", line, err)
			continue
		}
		switch {
		case types[name] == "counter":
			if p, ok := prev[line[:len(name)+len(labels)]]; ok && v < p {
				t.Errorf("%s%s fell from %v to %v", name, labels, p, v)
			}
			prev[line[:len(name)+len(labels)]] = v
		case strings.HasSuffix(name, "_bucket") && types[strings.TrimSuffix(name, "_bucket")] == "histogram":
			series := name + leLabel.ReplaceAllString(labels, "")
			if series == lastSeries && v < lastBucket {
				t.Errorf("%s: bucket below the one before (%v < %v)", line, v, lastBucket)
			}
			lastSeries, lastBucket = series, v
		case strings.HasSuffix(name, "_count") && types[strings.TrimSuffix(name, "_count")] == "histogram":
			base := strings.TrimSuffix(name, "_count")
			if want := base + "_bucket" + labels; lastSeries != want && !(labels == "" && lastSeries == base+"_bucket{}") || v != lastBucket {
				t.Errorf("%s: the +Inf bucket before it is %s %v", line, lastSeries, lastBucket)
			}
		}
	}
}

// familySum adds the values of the family name's samples in body.
func familySum(body []byte, name string) float64 {
	var sum float64
	for _, line := range strings.Split(string(body), "\n") {
		if m := sample.FindStringSubmatch(line); m != nil && m[1] == name {
			v, _ := strconv.ParseFloat(m[3], 64)
			sum += v
		}
	}
	return sum
}
