package otlp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// receivedSpans returns every span the receiver kept.
func receivedSpans(rc *otlptest.Receiver) []*tracepb.Span {
	var spans []*tracepb.Span
	for _, req := range rc.Traces() {
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				spans = append(spans, ss.Spans...)
			}
		}
	}
	return spans
}

// TestOTLPEndToEnd sends runs through the real encoder and exporter to a
// real receiver and checks every span arrives once, with its parent: in
// batches the sink encodes whole and in batches it splits across its
// encoders.
func TestOTLPEndToEnd(t *testing.T) {
	for _, tc := range []struct {
		proto string
		batch int
	}{{"grpc", 100}, {"http/protobuf", 100}, {"grpc", 1000}, {"http/protobuf", 1000}} {
		proto := tc.proto
		t.Run(fmt.Sprintf("%s/batch%d", proto, tc.batch), func(t *testing.T) {
			rc := otlptest.StartKeeping(t, proto)
			e, err := New(export.Config{Protocol: proto, Endpoint: rc.Endpoint(), Insecure: true}, engine.WithBatch(tc.batch, 10*time.Millisecond), engine.WithMetrics(engine.MetricsConfig{NoExport: true}))
			if err != nil {
				t.Fatal(err)
			}
			const runs, nodes = 500, 4
			for i := 0; i < runs; i++ {
				run := e.StartRun(engine.RunInfo{FlowID: "flow", AppID: "app", UID: "u", ChatID: "c", SID: "sid"})
				for k := 0; k < nodes; k++ {
					n := run.StartNode("llm:1", "llm", "LLM")
					n.Input(engine.String("q", "hello"))
					n.End()
				}
				run.End(0, "ok")
			}
			if err := e.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			s := e.Stats()
			checkIdentity(t, s)
			xs, _ := ExporterStats(e)
			tr := xs.Signals[export.Traces]
			if s.Exported != runs*(nodes+1) || tr.Exported != s.Exported || tr.InFlight != 0 {
				t.Fatalf("engine %+v exporter %+v", s, tr)
			}
			spans, logs := receivedSpans(rc), rc.Items()[otlptest.Logs]
			if len(spans) != runs*(nodes+1) || logs != runs {
				t.Fatalf("received %d spans %d logs, want %d and %d", len(spans), logs, runs*(nodes+1), runs)
			}
			roots := map[string]bool{}
			seen := map[string]bool{}
			for _, sp := range spans {
				if seen[string(sp.SpanId)] {
					t.Fatalf("span %q arrived twice", sp.Name)
				}
				seen[string(sp.SpanId)] = true
				if len(sp.ParentSpanId) == 0 {
					roots[string(sp.SpanId)] = true
				}
			}
			for _, sp := range spans {
				if len(sp.ParentSpanId) != 0 && !roots[string(sp.ParentSpanId)] {
					t.Fatalf("span %q has a parent that never arrived", sp.Name)
				}
			}
			if len(roots) != runs {
				t.Fatalf("%d root spans, want %d", len(roots), runs)
			}
		})
	}
}

// TestOTLPSplitsLargeBatches sends a batch whose encoding is larger than a
// gRPC receiver's default 4 MiB limit: the sink splits it and every span
// arrives.
func TestOTLPSplitsLargeBatches(t *testing.T) {
	rc := otlptest.StartKeeping(t, otlptest.GRPC)
	e, err := New(export.Config{Endpoint: rc.Endpoint(), Insecure: true}, engine.WithBatch(10000, time.Hour), engine.WithMetrics(engine.MetricsConfig{NoExport: true}), engine.WithLimits(engine.Limits{ValueBytes: 1 << 20}))
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("a", 500<<10)
	const runs = 40 // 40 runs x 500 KiB = 20 MiB of traces
	for i := 0; i < runs; i++ {
		run := e.StartRun(engine.RunInfo{})
		n := run.StartNode("llm:1", "llm", "LLM")
		n.Input(engine.String("prompt", big))
		n.End()
		run.End(0, "")
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	xs, _ := ExporterStats(e)
	tr := xs.Signals[export.Traces]
	if tr.Exported != runs*2 || tr.Dropped != 0 || tr.ExportedBatches < 5 {
		t.Fatalf("exporter %+v", tr)
	}
	if spans := receivedSpans(rc); len(spans) != runs*2 {
		t.Fatalf("received %d spans, want %d", len(spans), runs*2)
	}
}

// checkIdentity checks the engine's accounting identity.
// captureShutdown starts runs runs of info, each with nodes ended LLM
// nodes, ends them, shuts e down and returns its Stats, which it checks
// with checkIdentity.
func captureShutdown(t testing.TB, e *engine.Engine, info engine.RunInfo, runs, nodes int) engine.Stats {
	t.Helper()
	for range runs {
		r := e.StartRun(info)
		for range nodes {
			r.StartNode("llm:1", "llm", "LLM").End()
		}
		r.End(0, "")
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := e.Stats()
	checkIdentity(t, s)
	return s
}

func checkIdentity(t testing.TB, s engine.Stats) {
	t.Helper()
	if s.Accepted != s.Exported+s.Dropped+s.InFlight {
		t.Fatalf("accounting: accepted %d != exported %d + dropped %d + in flight %d", s.Accepted, s.Exported, s.Dropped, s.InFlight)
	}
}

// TestChildSpanTree sends a run with child and grandchild nodes through the
// real encoder and exporter to a real receiver and checks the span tree the
// official decoder reads: each child under its parent node, in the run's
// trace, the kind set; a child left open ended with the run; the children past
// Limits.NodesPerRun and those of an ended node counted, not sent.
func TestChildSpanTree(t *testing.T) {
	rc := otlptest.StartKeeping(t, "grpc")
	e, err := New(export.Config{Protocol: "grpc", Endpoint: rc.Endpoint(), Insecure: true},
		engine.WithLimits(engine.Limits{NodesPerRun: 5}), engine.WithBatch(16, 10*time.Millisecond),
		engine.WithMetrics(engine.MetricsConfig{NoExport: true}))
	if err != nil {
		t.Fatal(err)
	}
	run := e.StartRun(engine.RunInfo{FlowID: "flow", AppID: "app", SID: "sid"})
	agent := run.StartNode("agent:1", "agent", "Agent")
	llm := agent.StartChild("llm:1", "llm", "LLM call")
	llm.SetSpanKind(engine.SpanKindClient)
	retry := llm.StartChild("llm:2", "llm", "LLM retry")
	retry.SetAttributes(engine.String("gen_ai.operation.name", "chat"))
	retry.Fail("rate limited")
	llm.End()
	tool := agent.StartChild("plugin:1", "plugin", "tool call") // left open: ends with the run
	tool.Input(engine.String("q", "x"))
	agent.StartChild("plugin:2", "plugin", "past the limit").End() // the 5th node
	agent.StartChild("plugin:3", "plugin", "past the limit").End() // the 6th: cut
	agent.End()
	agent.StartChild("plugin:4", "plugin", "of an ended node").End() // stale
	run.End(0, "ok")
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := e.Stats()
	checkIdentity(t, s)
	if s.Drops(engine.DropNodeLimit) != 1 || s.Exported != 6 {
		t.Fatalf("stats %+v: want 6 exported, 1 cut by NodesPerRun", s)
	}
	if s.StaleCalls != 1 { // the ended node's StartChild
		t.Fatalf("stale calls %d, want 1", s.StaleCalls)
	}
	byName := map[string]*tracepb.Span{}
	var root *tracepb.Span
	for _, sp := range receivedSpans(rc) {
		if len(sp.ParentSpanId) == 0 {
			root = sp
			continue
		}
		byName[sp.Name] = sp
	}
	if root == nil || len(byName) != 5 {
		t.Fatalf("root %v, %d node spans: %v", root, len(byName), byName)
	}
	parentOf := map[string]string{ // span name: parent span name ("" the run)
		"run_node:agent:1":  "",
		"run_node:llm:1":    "run_node:agent:1",
		"run_node:llm:2":    "run_node:llm:1",
		"run_node:plugin:1": "run_node:agent:1",
		"run_node:plugin:2": "run_node:agent:1",
	}
	for name, parent := range parentOf {
		sp := byName[name]
		if sp == nil {
			t.Fatalf("no span %q among %v", name, byName)
		}
		want := root.SpanId
		if parent != "" {
			want = byName[parent].SpanId
		}
		if !bytes.Equal(sp.ParentSpanId, want) || !bytes.Equal(sp.TraceId, root.TraceId) {
			t.Errorf("span %q: parent %x trace %x, want parent %x (%s) trace %x", name, sp.ParentSpanId, sp.TraceId, want, parent, root.TraceId)
		}
		if sp.EndTimeUnixNano == 0 || sp.EndTimeUnixNano < sp.StartTimeUnixNano {
			t.Errorf("span %q: start %d end %d", name, sp.StartTimeUnixNano, sp.EndTimeUnixNano)
		}
	}
	for name, sp := range byName {
		want := tracepb.Span_SPAN_KIND_INTERNAL
		if name == "run_node:llm:1" {
			want = tracepb.Span_SPAN_KIND_CLIENT
		}
		if sp.Kind != want {
			t.Errorf("span %q: kind %v, want %v", name, sp.Kind, want)
		}
	}
	if byName["run_node:llm:2"].Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("failed retry: status %v", byName["run_node:llm:2"].Status)
	}
}

// TestTailSamplingOverOTLP checks sampling through the real exporter and a
// loopback receiver: the failed run's spans arrive, the others are counted
// as sampled out, the identity holds with the sink's delivered count, and
// with RunLogAlways every run's log arrives.
func TestTailSamplingOverOTLP(t *testing.T) {
	rc := otlptest.Start(t, export.ProtocolGRPC, nil)
	e, err := New(export.Config{Protocol: export.ProtocolGRPC, Endpoint: rc.Endpoint()}, engine.WithBatch(64, time.Millisecond),
		engine.WithTailSampling(engine.TailPolicy{KeepErrors: true, RunLogAlways: true}))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 { // 10 runs of 3 nodes, the last failed
		r := e.StartRun(engine.RunInfo{FlowID: "f"})
		for range 3 {
			r.StartNode("a:1", "a", "a").End()
		}
		r.End(i/9*10001, "")
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := e.Stats()
	if s.Accepted != 40 || s.Exported != 4 || s.SampledOut != 36 || s.InFlight != 0 || s.Dropped != 0 {
		t.Fatalf("stats %+v; want 4 spans exported, 36 sampled out", s)
	}
	items := rc.Items()
	if items[otlptest.Traces] != 4 || items[otlptest.Logs] != 10 {
		t.Fatalf("received %v; want 4 spans and 10 run logs", items)
	}
}

// runLogQueue is a custom sink as a porter writes one: it encodes each
// run's trace log, as the original sent it to Kafka.
type runLogQueue struct {
	buf      []byte
	logs     [][]byte
	shutdown bool
}

func (q *runLogQueue) Export(runs []*encode.Run) error {
	for _, r := range runs {
		q.buf = encode.AppendRunLog(q.buf[:0], r)
		q.logs = append(q.logs, append([]byte(nil), q.buf...))
	}
	return nil
}
func (q *runLogQueue) ForceFlush(context.Context) error { return nil }
func (q *runLogQueue) Shutdown(context.Context) error   { q.shutdown = true; return nil }

// TestNewWithOwnSink checks that a sink given to New with engine.WithSink
// receives every run beside the OTLP receiver, that the engine's Stats
// count what the receiver took, and that Shutdown reaches both.
func TestNewWithOwnSink(t *testing.T) {
	rc := otlptest.StartKeeping(t, otlptest.GRPC)
	q := &runLogQueue{}
	e, err := New(export.Config{Endpoint: rc.Endpoint(), Insecure: true}, engine.WithSink(q),
		engine.WithBatch(50, 10*time.Millisecond), engine.WithMetrics(engine.MetricsConfig{NoExport: true}))
	if err != nil {
		t.Fatal(err)
	}
	const runs, nodes = 100, 2
	s := captureShutdown(t, e, engine.RunInfo{FlowID: "flow", AppID: "app"}, runs, nodes)
	xs, ok := ExporterStats(e)
	if !ok || s.Exported != runs*(nodes+1) || xs.Signals[export.Traces].Exported != s.Exported {
		t.Errorf("engine %+v exporter %+v (%v)", s, xs.Signals[export.Traces], ok)
	}
	if got := len(receivedSpans(rc)); got != runs*(nodes+1) {
		t.Errorf("receiver got %d spans, want %d", got, runs*(nodes+1))
	}
	if len(q.logs) != runs || !q.shutdown {
		t.Errorf("own sink got %d run logs (want %d), shut down %v", len(q.logs), runs, q.shutdown)
	}
	tee, ok := e.Sink().(*engine.TeeSink)
	if !ok {
		t.Fatalf("sink %T, want *engine.TeeSink", e.Sink())
	}
	if ts := tee.Stats(); ts[1].Taken != runs*(nodes+1) || ts[1].Refused != 0 {
		t.Errorf("tee stats %+v", ts)
	}
}

// TestBurstWaitsForQueue: a burst of 10,000 runs with their run logs, much
// larger than the exporter's queue, reaches a real receiver whole. New's
// exporter makes the engine's export stage (its only caller) wait for room
// instead of dropping (exporter.queue_full): the rings behind it hold every
// run in flight. The queue here is 256 KiB, and the receiver answers each
// request after 2 ms, so the queue is full for most of the burst, as the
// default 64 MiB queue is with a burst of large runs. Each wait is
// bounded by a minute rather than the default second: on a loaded host
// (go test ./... beside other work) a wait passed a second and dropped
// batches as block_timeout, which is the bound working, not what this
// test is about.
func TestBurstWaitsForQueue(t *testing.T) {
	rc := otlptest.Start(t, otlptest.GRPC, func(otlptest.Call) otlptest.Reply {
		return otlptest.Reply{Sleep: 2 * time.Millisecond}
	})
	e, err := New(export.Config{Endpoint: rc.Endpoint(), Insecure: true, QueueBytes: 256 << 10, BlockTimeout: time.Minute},
		engine.WithMetrics(engine.MetricsConfig{NoExport: true}))
	if err != nil {
		t.Fatal(err)
	}
	const runs, nodes = 10000, 2
	answer := strings.Repeat("x", 200)
	for range runs {
		r := e.StartRun(engine.RunInfo{FlowID: "flow", AppID: "app"})
		for range nodes {
			n := r.StartNode("llm:1", "llm", "LLM")
			n.Input(engine.String("q", "hello"))
			n.Output(engine.String("a", answer))
			n.End()
		}
		r.End(0, answer)
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := e.Stats()
	checkIdentity(t, s)
	xs, _ := ExporterStats(e)
	for _, sig := range []export.Signal{export.Traces, export.Logs} {
		if st := xs.Signals[sig]; st.Dropped != 0 || st.Rejected != 0 {
			t.Errorf("%v: the exporter dropped %v", sig, st.Dropped)
		}
	}
	if s.Dropped != 0 || s.Exported != runs*(nodes+1) {
		t.Errorf("engine: %d exported, %d dropped, want %d and 0", s.Exported, s.Dropped, runs*(nodes+1))
	}
	if got := rc.Items(); got[otlptest.Traces] != runs*(nodes+1) || got[otlptest.Logs] != runs {
		t.Errorf("received %d spans and %d run logs, want %d and %d", got[otlptest.Traces], got[otlptest.Logs], runs*(nodes+1), runs)
	}
}

// TestNewSinkNilExporter: a sink without an exporter is refused with an
// error wrapping export.ErrInvalidConfig; engine.New panicked on one.
func TestNewSinkNilExporter(t *testing.T) {
	s, err := NewSink(nil, encode.Resource{ServiceName: "nil"}, true)
	if !errors.Is(err, export.ErrInvalidConfig) || s != nil || !strings.Contains(err.Error(), "exporter is nil") {
		t.Fatalf("NewSink(nil) = %v, %v; want an error wrapping export.ErrInvalidConfig naming the nil exporter", s, err)
	}
}

// TestNewSinkOwnPieces: a sink made by NewSink (the porting guide's way
// to share one exporter) had two holes New did not. With its logs off it
// is still an engine.LogSink, so TailPolicy.RunLogAlways was taken and
// the run logs of the runs sampled out went to an ExportLogs that sends
// nothing and counts nothing; New now refuses the pair. And a resource
// without a service name went out as service.name "" while the engine's
// resource, which the metrics carry, said engine.DefaultServiceName.
func TestNewSinkOwnPieces(t *testing.T) {
	rc := otlptest.StartKeeping(t, export.ProtocolGRPC)
	exp, err := export.New(export.Config{Endpoint: rc.Endpoint(), Release: encode.PutBuffer})
	if err != nil {
		t.Fatal(err)
	}
	spansOnly, err := NewSink(exp, encode.Resource{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if spansOnly.TakesLogs() {
		t.Fatal("NewSink(logs false).TakesLogs() = true")
	}
	p := engine.TailPolicy{Ratio: 0.5, RunLogAlways: true}
	if e, err := engine.New(engine.WithSink(spansOnly), engine.WithTailSampling(p)); !errors.Is(err, engine.ErrInvalidSampler) {
		if e != nil {
			e.Shutdown(t.Context())
		}
		t.Fatalf("engine.New(a sink with its logs off, RunLogAlways) = %v, want ErrInvalidSampler", err)
	}
	e, err := engine.New(engine.WithSink(spansOnly))
	if err != nil {
		t.Fatal(err)
	}
	r := e.StartRun(engine.RunInfo{FlowID: "f", AppID: "a"})
	r.StartNode("a:1", "a", "a").End()
	r.End(0, "")
	if err := e.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(rc.Traces()) == 0 {
		t.Fatal("no trace request received")
	}
	for _, req := range rc.Traces() {
		for _, rs := range req.ResourceSpans {
			got, _ := wireServiceName(rs.Resource)
			if got != e.Resource().ServiceName || got != engine.DefaultServiceName {
				t.Errorf("service.name %q on the wire, the engine's resource says %q", got, e.Resource().ServiceName)
			}
		}
	}
	withLogs, err := NewSink(exp, encode.Resource{}, true)
	if err != nil {
		t.Fatal(err)
	}
	if !withLogs.TakesLogs() || !(*Sink)(nil).TakesLogs() || !new(Sink).TakesLogs() {
		t.Error("TakesLogs: want true for NewSink(logs true) and for a nil or zero Sink, whose ExportLogs fails and is counted")
	}
}
