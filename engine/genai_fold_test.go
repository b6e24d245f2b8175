package engine

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/genai"
	"github.com/flowtel/flowtel/internal/race"
)

// randomGenAIRun returns a run of random GenAI nodes: every operation the
// fold tells apart and nodes without one, labels long enough to be cut,
// ports valid and not, token counts absent, negative and near
// math.MaxInt64, streams, errors and cancellations, and a usage that may
// saturate the run's token sums.
func randomGenAIRun(rng *rand.Rand) *encode.Run {
	pick := func(vs ...string) string { return vs[rng.IntN(len(vs))] }
	str := func(k, v string) encode.Attr { return encode.Attr{Key: k, Value: encode.StringValue(v)} }
	tokens := func() int64 {
		switch rng.IntN(4) {
		case 0:
			return -1 - rng.Int64N(5)
		case 1:
			return math.MaxInt64 - rng.Int64N(1000)
		}
		return rng.Int64N(1 << 20)
	}
	// Durations to past the last bound (81.92 s), in nanoseconds.
	dur := func() int64 { return rng.Int64N(100e9) }
	r := &encode.Run{AppID: pick("a", "b", "app-with-a-long-id"), FlowID: pick("f", "g"), EndUnixNano: 200e9}
	if rng.IntN(2) == 0 {
		r.Usage = encode.Usage{PromptTokens: tokens(), CompletionTokens: tokens()}
	}
	for i := range rng.IntN(12) {
		n := &encode.Node{NodeID: "n:" + strconv.Itoa(i), NodeType: "t", StartUnixNano: rng.Int64N(1e9)}
		n.EndUnixNano = n.StartUnixNano + dur()
		op := pick(genai.OpChat, "embeddings", opRetrieval, opExecuteTool, opInvokeAgent, opCreateAgent, opInvokeWorkflow, "")
		if op != "" {
			n.Attrs = append(n.Attrs, str(keyGenAIOperation, op))
		}
		switch op {
		case opExecuteTool:
			n.Attrs = append(n.Attrs, str(keyGenAIToolName, pick("weather", "search", "a-tool-name-past-the-label-limit")))
		case opInvokeAgent, opCreateAgent, opInvokeWorkflow:
			n.Attrs = append(n.Attrs, str(keyGenAIAgentName, pick("", "planner", "writer")), str(keyGenAIWorkflowName, pick("", "w")))
		default:
			if rng.IntN(4) == 0 {
				n.Attrs = append(n.Attrs, str(keyGenAISystem, pick("xai", "openai")))
			} else {
				n.Attrs = append(n.Attrs, str(keyGenAIProvider, pick("p", "q")))
			}
			n.Attrs = append(n.Attrs, str(keyGenAIRequestModel, pick("m", "m2", "m3", "a-model-name-past-the-label-limit")),
				str(keyGenAIRespModel, pick("", "m-1")))
			switch rng.IntN(5) {
			case 0:
				n.Attrs = append(n.Attrs, encode.Attr{Key: keyServerPort, Value: encode.Int64Value(int64(rng.IntN(6)) + 8080)})
			case 1:
				n.Attrs = append(n.Attrs, encode.Attr{Key: keyServerPort, Value: encode.Int64Value(pick2(rng, -1, 70000))})
			case 2:
				n.Attrs = append(n.Attrs, str(keyServerPort, "8080"))
			}
			if rng.IntN(2) == 0 {
				n.Attrs = append(n.Attrs, encode.Attr{Key: keyGenAIInputTokens, Value: encode.Int64Value(tokens())})
			}
			if rng.IntN(2) == 0 {
				n.Attrs = append(n.Attrs, encode.Attr{Key: keyGenAIOutputTokens, Value: encode.Int64Value(tokens())})
			}
			if rng.IntN(2) == 0 {
				n.Usage, n.HasUsage = encode.Usage{PromptTokens: tokens(), CompletionTokens: tokens()}, true
			}
			switch rng.IntN(3) {
			case 0:
				n.FirstTokenCostNano, n.HasFirstTokenCost = dur(), true
			case 1:
				n.FirstFrameUnixNano = n.StartUnixNano + rng.Int64N(n.EndUnixNano-n.StartUnixNano+1)
			}
			if rng.IntN(2) == 0 {
				n.Chunks = uint32(rng.IntN(40))
				n.FirstChunkUnixNano = n.StartUnixNano
				n.LastChunkUnixNano = n.StartUnixNano + dur()
				for range max(int(n.Chunks)-1, 0) {
					gap := dur() / 100
					n.ChunkGaps[genAIBucket(gap/1e3, &genAIDurationMicros)]++
					if n.ChunkGapMin == 0 || gap < n.ChunkGapMin {
						n.ChunkGapMin = gap
					}
					n.ChunkGapMax = max(n.ChunkGapMax, gap)
				}
			}
		}
		switch rng.IntN(4) {
		case 0:
			n.Status = encode.StatusError
			if rng.IntN(2) == 0 {
				n.Attrs = append(n.Attrs, str(keyErrorType, pick("timeout", "rate_limited")))
			} else if rng.IntN(2) == 0 {
				n.Events = []encode.Event{{Kind: encode.EventException, Type: "*net.OpError"}}
			}
		case 1:
			n.Status, n.Cancelled = encode.StatusError, true
		}
		r.Nodes = append(r.Nodes, n)
	}
	return r
}

func pick2(rng *rand.Rand, a, b int64) int64 {
	if rng.IntN(2) == 0 {
		return a
	}
	return b
}

// observeGenAI folds r's GenAI nodes and usage as the pipeline does, and
// flushes the fold after each node and each usage when each is set: what
// recording straight into the series did.
func observeGenAI(m *Metrics, r *encode.Run, each bool) {
	for _, n := range r.Nodes {
		if len(n.Attrs) != 0 {
			m.observeGenAINode(n)
			if each {
				m.flushFold()
			}
		}
	}
	m.observeGenAIUsage(r)
	if each {
		m.flushFold()
	}
}

// TestGenAIFoldMatchesDirect folds random mixes of GenAI nodes into two
// engines, one flushing its fold once a window of runs, as the pipeline
// does once a drain, the other after every node, and checks that every
// collection after a flush reads the same in both: the Prometheus text,
// the OTLP request (cumulative or delta; the times aside), and
// Stats.SumsSaturated and ValuesTruncated. Small limits send series and
// ports to the overflow series; long labels are cut.
func TestGenAIFoldMatchesDirect(t *testing.T) {
	seeds := 40
	if race.Enabled {
		seeds = 8 // the collection race is TestGenAIFoldCollectRace's
	}
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(uint64(seed), 17))
		mc := MetricsConfig{Limit: 1 + rng.IntN(6), LabelBytes: 12, Delta: seed%2 == 1, NoExport: true, PID: "1"}
		fold := newMetricsEngine(t, WithMetrics(mc), WithGenAISpanNames(seed%3 == 0))
		each := newMetricsEngine(t, WithMetrics(mc), WithGenAISpanNames(seed%3 == 0))
		for w := range 1 + rng.IntN(6) {
			for range rng.IntN(30) {
				r := randomGenAIRun(rng)
				observeGenAI(fold.metrics, r, false)
				observeGenAI(each.metrics, r, true)
			}
			fold.metrics.flushFold()
			where := fmt.Sprintf("seed %d, window %d", seed, w)
			if a, b := string(fold.AppendPrometheus(nil)), string(each.AppendPrometheus(nil)); a != b {
				t.Fatalf("%s: /metrics differ:\nfold once:\n%s\nflushed per node:\n%s", where, a, b)
			}
			if a, b := collectTimeless(t, fold), collectTimeless(t, each); !proto.Equal(a, b) {
				t.Fatalf("%s: OTLP requests differ:\nfold once:\n%v\nflushed per node:\n%v", where, a, b)
			}
			a, b := fold.Stats(), each.Stats()
			if a.SumsSaturated != b.SumsSaturated || a.ValuesTruncated != b.ValuesTruncated {
				t.Fatalf("%s: sums saturated %d and values truncated %d, flushed per node %d and %d",
					where, a.SumsSaturated, a.ValuesTruncated, b.SumsSaturated, b.ValuesTruncated)
			}
		}
	}
}

// collectTimeless returns an OTLP collection of e decoded with the
// official types, its points' times zeroed.
func collectTimeless(t *testing.T, e *Engine) *colmetrics.ExportMetricsServiceRequest {
	t.Helper()
	req := collectOTLP(t, e).req
	for _, rm := range req.ResourceMetrics {
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				for _, p := range m.GetSum().GetDataPoints() {
					p.StartTimeUnixNano, p.TimeUnixNano = 0, 0
				}
				for _, p := range m.GetGauge().GetDataPoints() {
					p.StartTimeUnixNano, p.TimeUnixNano = 0, 0
				}
				for _, p := range m.GetHistogram().GetDataPoints() {
					p.StartTimeUnixNano, p.TimeUnixNano = 0, 0
				}
				for _, p := range m.GetExponentialHistogram().GetDataPoints() {
					p.StartTimeUnixNano, p.TimeUnixNano = 0, 0
				}
			}
		}
	}
	return req
}

// TestGenAIFoldCollectRace ends runs of GenAI nodes through a real
// engine while other goroutines collect (Prometheus and OTLP): every
// collection's counts only grow, and the one after ForceFlush holds
// every node, token and chunk. Run with -race, it checks that the fold
// (the pipeline's plain memory) and the collectors share nothing
// unsynchronised.
func TestGenAIFoldCollectRace(t *testing.T) {
	e, _ := newTestEngine(t, WithMetrics(MetricsConfig{ServerHost: "h", ServerName: "s", PID: "1"}))
	const runs, llms, tools = 300, 3, 2
	stop := make(chan struct{})
	var wg sync.WaitGroup
	countRe := regexp.MustCompile(`(?m)^(gen_ai_client_operation_duration_seconds_count|flowtel_gen_ai_tool_duration_seconds_count|gen_ai_client_operation_time_per_output_chunk_seconds_count)\{[^}]*\} (\d+)$`)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := map[string]int64{}
			for {
				select {
				case <-stop:
					return
				default:
				}
				got := map[string]int64{}
				for _, m := range countRe.FindAllStringSubmatch(string(e.AppendPrometheus(nil)), -1) {
					v, _ := strconv.ParseInt(m[2], 10, 64)
					got[m[1]] += v
				}
				for k, v := range got {
					if v < last[k] {
						t.Errorf("%s went from %d down to %d", k, last[k], v)
					}
				}
				last = got
				m := e.metrics // an OTLP collection, as the export goroutine's
				m.mu.Lock()
				ms, _ := m.col.collect(true, time.Now().UnixNano())
				_ = encode.AppendMetrics(nil, &e.cfg.resource, ms)
				m.mu.Unlock()
			}
		}()
	}
	for i := range runs {
		r := e.StartRun(RunInfo{AppID: "app", FlowID: "flow"})
		for j := range llms {
			n := r.StartNode("llm:"+strconv.Itoa(j), "llm", "chat")
			n.SetAttributes(genai.OperationName(genai.OpChat), genai.ProviderName("p"), genai.RequestModel("m"))
			n.Usage(Usage{PromptTokens: 3, CompletionTokens: 2})
			n.Chunk()
			n.Chunk()
			n.Chunk()
			n.End()
		}
		for j := range tools {
			n := r.StartNode("tool:"+strconv.Itoa(j), "tool", "t")
			n.SetAttributes(genai.OperationName(genai.OpExecuteTool), genai.ToolName("weather"))
			n.End()
		}
		r.End(0, "ok")
		if i%50 == 0 {
			time.Sleep(time.Millisecond) // let drains and collections interleave
		}
	}
	flush(t, e)
	close(stop)
	wg.Wait()
	text := string(e.AppendPrometheus(nil))
	for _, want := range []string{
		fmt.Sprintf(`gen_ai_client_operation_duration_seconds_count{gen_ai_operation_name="chat",gen_ai_provider_name="p",gen_ai_request_model="m"} %d`, runs*llms),
		fmt.Sprintf(`gen_ai_client_operation_time_per_output_chunk_seconds_count{gen_ai_operation_name="chat",gen_ai_provider_name="p",gen_ai_request_model="m"} %d`, 2*runs*llms),
		fmt.Sprintf(`gen_ai_client_token_usage_sum{gen_ai_operation_name="chat",gen_ai_provider_name="p",gen_ai_request_model="m",gen_ai_token_type="input"} %d`, 3*runs*llms),
		fmt.Sprintf(`flowtel_gen_ai_tool_duration_seconds_count{gen_ai_tool_name="weather"} %d`, runs*tools),
		fmt.Sprintf(`flowtel_gen_ai_tokens_total{server_host="h",server_name="s",pid="1",app_id="app",func="flow",gen_ai_token_type="output"} %d`, 2*runs*llms),
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("/metrics after ForceFlush lacks %q", want)
		}
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}
