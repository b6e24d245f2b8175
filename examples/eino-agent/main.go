// Command eino-agent runs a CloudWeGo Eino agent graph traced by flowtel:
// N requests, some at once, through a graph with a branch, parallel nodes,
// a retriever, a tool node and a nested sub-graph, driven by a scripted
// chat model that streams its replies (no network). It prints a report of
// the load generator's kind: runs/s, spans produced, exported and
// received, and the engine's node bottleneck table, where the
// nested graph (flow, which holds the second chat model) and the LLM
// nodes are the slowest. The spans go to an embedded OTLP receiver, or with
// -endpoint to a collector or Jaeger (OTLP/gRPC).
//
//	go run .                                  # 200 requests, 16 at once
//	go run . -endpoint 127.0.0.1:4317 -logs=false -metrics-push=false  # into Jaeger, which takes no OTLP logs or metrics
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudwego/eino/compose"
	"github.com/cloudwego/eino/schema"

	"github.com/flowtel/flowtel/bench"
	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	flowteleino "github.com/flowtel/flowtel/integrations/eino"
	"github.com/flowtel/flowtel/otlp"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type config struct {
	requests, concurrency int
	endpoint, service     string
	logs, metricsPush     bool
	lat                   latencies
}

func parse(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("eino-agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.requests, "n", 200, "requests to run")
	fs.IntVar(&c.concurrency, "c", 16, "requests at once")
	fs.StringVar(&c.endpoint, "endpoint", "", "OTLP/gRPC host:port (a collector or Jaeger); empty: an embedded receiver")
	fs.StringVar(&c.service, "service", "eino-agent", "the service name of the spans")
	fs.BoolVar(&c.logs, "logs", true, "export each run's trace log as an OTLP log record; false for Jaeger, which refuses OTLP logs (each refused run log is counted dropped, and flush and shutdown say so)")
	fs.BoolVar(&c.metricsPush, "metrics-push", true, "push the engine's metrics over OTLP; false for Jaeger, which has no OTLP metrics service (each refused push is counted dropped, and flush says so)")
	fs.DurationVar(&c.lat.firstChunk, "first-chunk", 120*time.Millisecond, "a chat model's time to its first chunk")
	fs.DurationVar(&c.lat.perChunk, "per-chunk", 15*time.Millisecond, "a chat model's time per further chunk")
	fs.DurationVar(&c.lat.retrieve, "retrieve", 20*time.Millisecond, "the retriever's latency")
	fs.DurationVar(&c.lat.tool, "tool", 40*time.Millisecond, "the weather tool's latency")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.requests < 1 || c.concurrency < 1 {
		return c, errors.New("-n and -c must be positive")
	}
	return c, nil
}

// questions are asked in turn: the weather ones take the tool path.
var questions = []string{
	"What is the weather in Paris?",
	"What is the weather in Lisbon?",
	"What can you do?",
	"What is the weather in Kyoto?",
}

func run(args []string, stdout, stderr io.Writer) int {
	c, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0 // -h: the flags are printed
	}
	if err != nil {
		return 2
	}
	ctx := context.Background()
	endpoint := c.endpoint
	var rc *bench.Receiver
	if endpoint == "" {
		if rc, err = bench.StartReceiver(bench.ReceiverConfig{}); err != nil {
			fmt.Fprintln(stderr, "eino-agent:", err)
			return 1
		}
		defer rc.Close()
		endpoint = rc.Endpoint()
	}
	eng, err := otlp.New(export.Config{Endpoint: endpoint, Insecure: true, NoLogs: !c.logs},
		engine.WithResource(encode.Resource{ServiceName: c.service}),
		engine.WithMetrics(engine.MetricsConfig{NoExport: !c.metricsPush}))
	if err != nil {
		fmt.Fprintln(stderr, "eino-agent:", err)
		return 1
	}
	agent, err := buildAgent(ctx, c.lat)
	if err != nil {
		fmt.Fprintln(stderr, "eino-agent:", err)
		return 1
	}
	h, err := flowteleino.NewHandler(eng)
	if err != nil {
		fmt.Fprintln(stderr, "eino-agent:", err)
		return 1
	}

	var next, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < c.concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= c.requests {
					return
				}
				if err := ask(ctx, agent, h, i); err != nil {
					failed.Add(1)
					fmt.Fprintln(stderr, "eino-agent: request", i, err)
				}
			}
		}()
	}
	wg.Wait()
	load := time.Since(start)
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// The handler's stream readers may still be ending the last nodes:
	// their runs end with them.
	h.Wait()
	if err := eng.ForceFlush(sctx); err != nil {
		fmt.Fprintln(stderr, "eino-agent: flush:", err)
	}
	bn := eng.Bottlenecks()
	if err := eng.Shutdown(sctx); err != nil {
		fmt.Fprintln(stderr, "eino-agent: shutdown:", err)
	}
	stats := eng.Stats()
	xs, _ := otlp.ExporterStats(eng)
	r := report{cfg: c, endpoint: endpoint, load: load, failed: failed.Load(), stats: stats, bottlenecks: bn}
	r.exported = xs.Signals[export.Traces].Exported
	if rc != nil {
		n := rc.Counts()
		r.received, r.receivedRoots = &n.Spans, &n.RootSpans
	}
	r.write(stdout)
	if !r.ok() {
		return 1
	}
	return 0
}

// ask runs one request: it streams the agent's answer to its end.
func ask(ctx context.Context, agent compose.Runnable[string, *schema.Message], h *flowteleino.Handler, i int) error {
	ctx = flowteleino.WithRunInfo(ctx, engine.RunInfo{AppID: "travel-app", UID: fmt.Sprintf("user-%d", i%50), ChatID: fmt.Sprintf("chat-%d", i)})
	sr, err := agent.Stream(ctx, questions[i%len(questions)], compose.WithCallbacks(h))
	if err != nil {
		return err
	}
	defer sr.Close()
	for {
		if _, err := sr.Recv(); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}
