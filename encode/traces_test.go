package encode_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/otlpref"
	"github.com/flowtel/flowtel/internal/testkit"
)

// Random records.

// otlpStrPool holds strings the generator draws from: empty, ASCII, CJK and
// emoji, U+FFFD itself, and invalid UTF-8 of several shapes.
var otlpStrPool = []string{
	"", "a", "llm:1", "node-end", "message", "hello world", "SparkAgent",
	"工作流运行", "你好，世界", "🚀✨", "\uFFFD", "mixed 文本 with emoji 🎉",
	"\xff", "\xff\xfe\xfd", "a\x80b", "\xe4\xb8", "ok\xe4\xb8\xadok\xc0\xafend",
	"\xed\xa0\x80", // a UTF-16 surrogate, invalid in UTF-8
	"tab\tnew\nline\"quote\\", "\x00nul",
}

// otlpGenString returns a random string, sometimes large (up to 70,000 bytes,
// a three-byte length prefix) and sometimes invalid UTF-8.
func otlpGenString(rng *rand.Rand) string {
	switch rng.IntN(12) {
	case 0:
		n := rng.IntN(70000)
		if rng.IntN(2) == 0 {
			n = 5088 // the run log's offload threshold
		}
		return strings.Repeat("x", n)
	case 1:
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		return string(b)
	}
	return otlpStrPool[rng.IntN(len(otlpStrPool))]
}

// otlpGenValue returns a Value of a random kind, with edge values.
func otlpGenValue(rng *rand.Rand) encode.Value {
	switch rng.IntN(6) {
	case 0:
		return encode.Value{}
	case 1:
		return encode.StringValue(otlpGenString(rng))
	case 2:
		ints := []int64{0, 1, -1, 127, 128, math.MaxInt64, math.MinInt64, rng.Int64()}
		return encode.Int64Value(ints[rng.IntN(len(ints))])
	case 3:
		fs := []float64{0, math.Copysign(0, -1), 1.5, -2.25e300, math.Inf(1), math.NaN(), rng.Float64()}
		return encode.Float64Value(fs[rng.IntN(len(fs))])
	case 4:
		return encode.BoolValue(rng.IntN(2) == 0)
	}
	return encode.BytesValue([]byte(otlpGenString(rng))) // bytes are never repaired
}

// otlpSeedEncoder starts a property test's seed: its random source (seed,
// stream), a reference builder, and a random resource both as the
// reference message and as an encoder.
func otlpSeedEncoder(seed, stream uint64) (*rand.Rand, *otlpref.Builder, *resourcepb.Resource, *encode.Encoder) {
	rng := rand.New(rand.NewPCG(seed, stream))
	res := otlpGenResource(rng)
	rb := &otlpref.Builder{}
	return rng, rb, rb.Resource(res), encode.NewEncoder(res)
}

// otlpCheckBatch checks one batch an encoder appended after prefix: the
// prefix is kept; the rest decodes (into got) to the reference want and is
// as long as the official encoder makes it; and the encoder's counters
// moved by the strings the reference repaired (invalid), the items written
// (items reads the counter, wantItems is the count) and the bytes.
func otlpCheckBatch(t *testing.T, seed uint64, batch int, prefix, out []byte, got, want proto.Message,
	before, after encode.EncoderStats, invalid uint64, items func(encode.EncoderStats) uint64, wantItems int) {
	t.Helper()
	if !bytes.HasPrefix(out, prefix) {
		t.Fatalf("seed %d: dst prefix overwritten", seed)
	}
	wrote := len(out) - len(prefix)
	if err := proto.Unmarshal(out[len(prefix):], got); err != nil {
		t.Fatalf("seed %d batch %d: unmarshal: %v", seed, batch, err)
	}
	otlpMustEqual(t, got, want)
	// The official encoder agrees on the size, so no byte is spent on
	// fields it would omit except the always-written span status and
	// value fields.
	if proto.Size(want) != wrote {
		t.Fatalf("seed %d: %d bytes, proto.Size of the reference = %d", seed, wrote, proto.Size(want))
	}
	if d := after.InvalidUTF8 - before.InvalidUTF8; d != invalid {
		t.Fatalf("seed %d: InvalidUTF8 delta = %d, want %d", seed, d, invalid)
	}
	if d := items(after) - items(before); d != uint64(wantItems) {
		t.Fatalf("seed %d: items delta = %d, want %d", seed, d, wantItems)
	}
	if d := after.Bytes - before.Bytes; d != uint64(wrote) {
		t.Fatalf("seed %d: Bytes delta = %d, want %d", seed, d, wrote)
	}
}

func otlpGenAttrs(rng *rand.Rand, max int) []encode.Attr {
	return otlpGenN(rng, max, func() encode.Attr {
		return encode.Attr{Key: otlpGenString(rng), Value: otlpGenValue(rng)}
	})
}

// otlpGenN returns 0 to max values made by gen, nil for none.
func otlpGenN[T any](rng *rand.Rand, max int, gen func() T) []T {
	n := rng.IntN(max + 1)
	if n == 0 {
		return nil
	}
	out := make([]T, n)
	for i := range out {
		out[i] = gen()
	}
	return out
}

func otlpGenEvents(rng *rand.Rand, max int) []encode.Event {
	return otlpGenN(rng, max, func() encode.Event {
		ev := encode.Event{
			TimeUnixNano: rng.Int64N(2e18),
			Kind:         encode.EventKind(rng.IntN(3)),
			Message:      otlpGenString(rng),
			Type:         otlpGenString(rng),
			Stacktrace:   otlpGenString(rng),
		}
		if rng.IntN(5) == 0 {
			ev.TimeUnixNano = 0
		}
		return ev
	})
}

func otlpGenUsage(rng *rand.Rand) encode.Usage {
	return encode.Usage{
		QuestionTokens:   rng.Int64N(1000),
		PromptTokens:     rng.Int64N(100000) - 10,
		CompletionTokens: rng.Int64N(1 << 40),
		TotalTokens:      rng.Int64N(1 << 20),
	}
}

func otlpGenID(rng *rand.Rand, b []byte) {
	if rng.IntN(6) == 0 {
		return // sometimes zero
	}
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
}

// otlpGenRun returns a random run with up to maxNodes nodes.
func otlpGenRun(rng *rand.Rand, maxNodes int) *encode.Run {
	r := &encode.Run{
		TraceState: otlpGenString(rng),
		ServiceID:  otlpGenString(rng), FlowID: otlpGenString(rng), SID: otlpGenString(rng),
		AppID: otlpGenString(rng), UID: otlpGenString(rng), BotID: otlpGenString(rng),
		ChatID: otlpGenString(rng), Sub: otlpGenString(rng), Caller: otlpGenString(rng),
		LogCaller: otlpGenString(rng), Question: otlpGenString(rng), Answer: otlpGenString(rng),
		StartUnixNano: rng.Int64N(2e18),
		Attrs:         otlpGenAttrs(rng, 6),
		Srv:           otlpGenAttrs(rng, 2),
		Code:          []int64{0, 1, -1, 20001, math.MinInt64}[rng.IntN(5)],
		Message:       otlpGenString(rng),
		Usage:         otlpGenUsage(rng),
		Events:        otlpGenEvents(rng, 3),
		Status:        encode.StatusCode(rng.IntN(3)),
		StatusMessage: otlpGenString(rng),
		Incomplete:    rng.IntN(4) == 0,
		DroppedAttrs:  uint32(rng.IntN(3)),
		DroppedEvents: uint32(rng.IntN(3)),
		DroppedNodes:  uint32(rng.IntN(3)),
	}
	if rng.IntN(3) == 0 {
		r.Sub = "SparkAgent"
	}
	if rng.IntN(3) == 0 {
		r.ServiceID = ""
	}
	if rng.IntN(4) == 0 {
		r.StartUnixNano = 0
	}
	r.EndUnixNano = r.StartUnixNano + rng.Int64N(1e10)
	otlpGenID(rng, r.TraceID[:])
	otlpGenID(rng, r.SpanID[:])
	otlpGenID(rng, r.ParentSpanID[:])
	n := rng.IntN(maxNodes + 1)
	for i := 0; i < n; i++ {
		nd := &encode.Node{
			NodeID: otlpGenString(rng), NodeType: otlpGenString(rng), NodeName: otlpGenString(rng),
			StartUnixNano: r.StartUnixNano + rng.Int64N(1e9),
			LLMOutput:     otlpGenString(rng),
			Input:         otlpGenAttrs(rng, 4),
			Output:        otlpGenAttrs(rng, 4),
			Config:        otlpGenAttrs(rng, 3),
			Usage:         otlpGenUsage(rng),
			HasUsage:      rng.IntN(2) == 0,
			Events:        otlpGenEvents(rng, 3),
			Status:        encode.StatusCode(rng.IntN(3)),
			StatusMessage: otlpGenString(rng),
			Incomplete:    rng.IntN(4) == 0,
			DroppedAttrs:  uint32(rng.IntN(3)),
			DroppedEvents: uint32(rng.IntN(3)),
		}
		nd.EndUnixNano = nd.StartUnixNano + rng.Int64N(1e9)
		if rng.IntN(2) == 0 {
			nd.FirstFrameUnixNano = nd.StartUnixNano + rng.Int64N(1e9)
		}
		for j := rng.IntN(4); j > 0; j-- {
			nd.Next = append(nd.Next, otlpGenString(rng))
		}
		otlpGenID(rng, nd.SpanID[:])
		if rng.IntN(4) == 0 { // nested under another span, as from the OTel bridge
			otlpGenID(rng, nd.ParentSpanID[:])
			nd.Kind = encode.SpanKind(rng.IntN(6))
		}
		r.Nodes = append(r.Nodes, nd)
	}
	return r
}

func otlpGenResource(rng *rand.Rand) encode.Resource {
	return encode.Resource{
		ServiceName:       otlpGenString(rng),
		ServiceInstanceID: otlpGenString(rng),
		HostIP:            otlpGenString(rng),
		Attrs:             otlpGenAttrs(rng, 4),
	}
}

// otlpMustEqual fails t unless got and want are proto.Equal, showing both.
func otlpMustEqual(t testing.TB, got, want proto.Message) {
	t.Helper()
	if !proto.Equal(got, want) {
		g, w := prototext.Format(got), prototext.Format(want)
		if len(g)+len(w) > 20000 {
			g, w = g[:min(len(g), 10000)], w[:min(len(w), 10000)]
		}
		t.Fatalf("decoded request differs from the reference\n got: %s\nwant: %s", g, w)
	}
}

// TestTracesEquivalence is the property test: for random batches, the
// encoder's bytes decode with the official decoder into a message equal
// to the reference, and the repaired-string count matches the reference's.
func TestTracesEquivalence(t *testing.T) {
	for seed := uint64(0); seed < 400; seed++ {
		rng, rb, refRes, e := otlpSeedEncoder(seed, 3)
		if got := e.Stats().InvalidUTF8; got != rb.Invalid {
			t.Fatalf("seed %d: resource InvalidUTF8 = %d, want %d", seed, got, rb.Invalid)
		}
		// Two batches through one encoder, appended after a prefix, to
		// check reuse and that dst's existing bytes are kept.
		for batch := 0; batch < 2; batch++ {
			runs := make([]*encode.Run, rng.IntN(4))
			for i := range runs {
				runs[i] = otlpGenRun(rng, 5)
				// Some failed nodes are cancelled ones, chosen without
				// drawing from rng so that TestTracesGolden's runs stay.
				for _, n := range runs[i].Nodes {
					n.Cancelled = n.Status == encode.StatusError && n.EndUnixNano%3 == 0
					// Raw span attributes, a code and events given as
					// data, from values rng already drew.
					n.Attrs = n.Config
					// GenAI span names, one part or two.
					switch n.EndUnixNano % 7 {
					case 0:
						n.SpanName = [2]string{n.NodeType, n.NodeName}
					case 1:
						n.SpanName = [2]string{n.NodeType, ""}
					}
					if n.EndUnixNano%5 == 0 {
						n.Code, n.HasCode = n.EndUnixNano%1000-500, true
					}
					for j := range n.Events {
						if j%2 == 1 {
							n.Events[j].Attrs = n.Input
						}
					}
				}
			}
			before := e.Stats()
			rb.Invalid = 0
			want := rb.Traces(refRes, runs)
			prefix := []byte("prefix")
			out := e.AppendTraces(append([]byte(nil), prefix...), runs)
			otlpCheckBatch(t, seed, batch, prefix, out, &coltracepb.ExportTraceServiceRequest{}, want,
				before, e.Stats(), rb.Invalid, func(s encode.EncoderStats) uint64 { return s.Spans }, encode.NumSpans(runs))
		}
	}
}

// otlpAttrMap returns a span's attributes by key.
func otlpAttrMap(kvs []*commonpb.KeyValue) map[string]*commonpb.AnyValue {
	m := make(map[string]*commonpb.AnyValue, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}

// TestTracesMapping checks the span conventions on one realistic run, by
// key, as a reader of the traces in Jaeger would see them.
func TestTracesMapping(t *testing.T) {
	run := &encode.Run{
		TraceID: encode.TraceID{1, 2, 3}, SpanID: encode.SpanID{9}, ParentSpanID: encode.SpanID{7},
		TraceState: "k=v", FlowID: "flow-1", SID: "spf00390001@hf17e12ef9c00a4bb202",
		AppID: "app", UID: "u", BotID: "bot-7", ChatID: "c", Sub: "SparkAgent",
		StartUnixNano: 1_700_000_000_000_000_000, EndUnixNano: 1_700_000_002_000_000_000,
		Code: 20001, Usage: encode.Usage{QuestionTokens: 1, PromptTokens: 10, CompletionTokens: 5, TotalTokens: 15},
		Status: encode.StatusError, StatusMessage: "boom",
	}
	llm := &encode.Node{
		SpanID: encode.SpanID{10}, NodeID: "llm:1", NodeType: "llm", NodeName: "LLM",
		Next:          []string{"end:1"},
		StartUnixNano: run.StartUnixNano, EndUnixNano: run.StartUnixNano + 1e9,
		FirstFrameUnixNano: run.StartUnixNano + 250e6,
		LLMOutput:          "hi",
		Input:              []encode.Attr{{Key: "q", Value: encode.StringValue("what")}},
		Output:             []encode.Attr{{Key: "n", Value: encode.Int64Value(3)}},
		Config:             []encode.Attr{{Key: "t", Value: encode.Float64Value(0.5)}},
		Usage:              encode.Usage{PromptTokens: 10, CompletionTokens: 5, TotalTokens: 15}, HasUsage: true,
		Events: []encode.Event{
			{TimeUnixNano: run.StartUnixNano + 1, Kind: encode.EventInfo, Message: "start"},
			{TimeUnixNano: run.StartUnixNano + 2, Kind: encode.EventError, Message: "bad"},
			{TimeUnixNano: run.StartUnixNano + 3, Kind: encode.EventException, Type: "ValueError", Message: "m"},
		},
		Status: encode.StatusError, StatusMessage: "bad",
	}
	run.Nodes = []*encode.Node{llm}
	e := encode.NewEncoder(encode.Resource{ServiceName: "svc", ServiceInstanceID: "i-1", HostIP: "10.0.0.1"})
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(e.AppendTraces(nil, []*encode.Run{run}), &req); err != nil {
		t.Fatal(err)
	}
	rs := req.ResourceSpans[0]
	res := otlpAttrMap(rs.Resource.Attributes)
	for k, v := range map[string]string{"service.name": "svc", "service.instance.id": "i-1", "ip": "10.0.0.1",
		"telemetry.sdk.name": "flowtel", "telemetry.sdk.language": "go"} {
		if got := res[k].GetStringValue(); got != v {
			t.Errorf("resource %s = %q, want %q", k, got, v)
		}
	}
	// host.ip is a string[] in the semantic conventions (the host's
	// addresses); the original's ip stays a string.
	if vs := res["host.ip"].GetArrayValue().GetValues(); len(vs) != 1 || vs[0].GetStringValue() != "10.0.0.1" {
		t.Errorf("resource host.ip = %v, want the array [10.0.0.1]", res["host.ip"])
	}
	sc := rs.ScopeSpans[0]
	if sc.Scope.Name != encode.ScopeName || sc.Scope.Version != encode.ScopeVersion {
		t.Errorf("scope = %v", sc.Scope)
	}
	if len(sc.Spans) != 2 {
		t.Fatalf("%d spans, want 2", len(sc.Spans))
	}
	root, node := sc.Spans[0], sc.Spans[1]
	if root.Name != "run:flow-1" || root.Kind != tracepb.Span_SPAN_KIND_SERVER ||
		!bytes.Equal(root.ParentSpanId, run.ParentSpanID[:]) || root.TraceState != "k=v" ||
		root.Status.Code != tracepb.Status_STATUS_CODE_ERROR || root.Status.Message != "boom" {
		t.Errorf("root span = %v", root)
	}
	ra := otlpAttrMap(root.Attributes)
	if ra["code"].GetIntValue() != 20001 || ra["service_id"].GetStringValue() != "bot-7" ||
		ra["span_version"].GetStringValue() != "1.0.0" || ra["gen_ai.usage.input_tokens"].GetIntValue() != 10 ||
		ra["gen_ai.usage.output_tokens"].GetIntValue() != 5 || ra["usage.question_tokens"].GetIntValue() != 1 {
		t.Errorf("root attributes = %v", root.Attributes)
	}
	if node.Name != "run_node:llm:1" || node.Kind != tracepb.Span_SPAN_KIND_INTERNAL ||
		!bytes.Equal(node.ParentSpanId, run.SpanID[:]) || !bytes.Equal(node.TraceId, run.TraceID[:]) {
		t.Errorf("node span = %v", node)
	}
	na := otlpAttrMap(node.Attributes)
	if na["input.q"].GetStringValue() != "what" || na["output.n"].GetIntValue() != 3 ||
		na["config.t"].GetDoubleValue() != 0.5 || na["llm_output"].GetStringValue() != "hi" ||
		na["first_frame_duration"].GetIntValue() != 250 || !na["error"].GetBoolValue() ||
		na["running_status"] == nil || na["running_status"].GetBoolValue() ||
		na["next_node_ids"].GetArrayValue().GetValues()[0].GetStringValue() != "end:1" ||
		na["sid"].GetStringValue() != run.SID || na["node_type"].GetStringValue() != "llm" {
		t.Errorf("node attributes = %v", node.Attributes)
	}
	if len(node.Events) != 3 || node.Events[0].Name != "INFO" || node.Events[1].Name != "ERROR" ||
		node.Events[2].Name != "exception" ||
		otlpAttrMap(node.Events[1].Attributes)["ERROR LOG"].GetStringValue() != "bad" ||
		otlpAttrMap(node.Events[2].Attributes)["exception.type"].GetStringValue() != "ValueError" {
		t.Errorf("node events = %v", node.Events)
	}
}

// TestTracesEmpty checks that an empty batch appends nothing, the
// encoding of an empty request.
func TestTracesEmpty(t *testing.T) {
	e := encode.NewEncoder(encode.Resource{ServiceName: "s"})
	if out := e.AppendTraces([]byte("x"), nil); string(out) != "x" {
		t.Fatalf("AppendTraces(nil) appended %q", out[1:])
	}
	if n := encode.NumSpans(nil); n != 0 {
		t.Fatalf("NumSpans(nil) = %d", n)
	}
}

// TestTracesInvalidUTF8 checks one repair end to end: the decoded string
// is the strings.ToValidUTF8 repair and the encoder counts it.
func TestTracesInvalidUTF8(t *testing.T) {
	e := encode.NewEncoder(encode.Resource{ServiceName: "s"})
	run := &encode.Run{SID: "a\xffb\xfe\xfdc", TraceID: encode.TraceID{1}, SpanID: encode.SpanID{1}}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(e.AppendTraces(nil, []*encode.Run{run}), &req); err != nil {
		t.Fatal(err)
	}
	if got := otlpAttrMap(req.ResourceSpans[0].ScopeSpans[0].Spans[0].Attributes)["sid"].GetStringValue(); got != "a\uFFFDb\uFFFDc" {
		t.Fatalf("sid = %q", got)
	}
	if got := e.Stats().InvalidUTF8; got != 1 {
		t.Fatalf("InvalidUTF8 = %d, want 1", got)
	}
}

// otlpBenchRuns returns runs with spans spans in total (one root and
// spans/runs-1 nodes each), every span with 8 attributes and one event.
func otlpBenchRuns(spans, perRun int) []*encode.Run {
	var runs []*encode.Run
	for len(runs)*perRun < spans {
		i := len(runs)
		r := &encode.Run{
			TraceID: encode.TraceID{byte(i), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
			SpanID:  encode.SpanID{byte(i), 1, 2, 3, 4, 5, 6, 7},
			FlowID:  "7263418926519234561", SID: "spf00390001@hf17e12ef9c00a4bb202",
			AppID: "app-42", UID: "user-1001", ChatID: "chat-77", Sub: "SparkAgent", BotID: "bot-9",
			StartUnixNano: 1_700_000_000_000_000_000 + int64(i), EndUnixNano: 1_700_000_003_000_000_000,
			Usage:  encode.Usage{PromptTokens: 120, CompletionTokens: 80, TotalTokens: 200},
			Status: encode.StatusOK,
			Events: []encode.Event{{TimeUnixNano: 1_700_000_000_500_000_000, Kind: encode.EventInfo, Message: "run started"}},
			Attrs: []encode.Attr{
				{Key: "tenant", Value: encode.StringValue("acme")},
				{Key: "retries", Value: encode.Int64Value(0)},
			},
		}
		for j := 1; j < perRun; j++ {
			r.Nodes = append(r.Nodes, &encode.Node{
				SpanID: encode.SpanID{byte(i), byte(j), 2, 3, 4, 5, 6, 7},
				NodeID: "llm:4f1c2a9e", NodeType: "llm", NodeName: "大模型",
				StartUnixNano: r.StartUnixNano + int64(j)*1e6, EndUnixNano: r.StartUnixNano + int64(j)*2e6,
				Input: []encode.Attr{
					{Key: "query", Value: encode.StringValue("what is the weather in Hefei today?")},
					{Key: "history", Value: encode.Int64Value(3)},
				},
				Output: []encode.Attr{
					{Key: "answer", Value: encode.StringValue("Sunny, 21 °C.")},
					{Key: "score", Value: encode.Float64Value(0.93)},
				},
				Config: []encode.Attr{{Key: "temperature", Value: encode.Float64Value(0.7)}},
				Events: []encode.Event{{TimeUnixNano: r.StartUnixNano + int64(j)*1e6 + 5, Kind: encode.EventInfo, Message: "calling model"}},
				Status: encode.StatusOK,
			})
		}
		runs = append(runs, r)
	}
	return runs
}

// TestTracesAllocs asserts that encoding a batch allocates nothing once
// the encoder and the destination have grown.
func TestTracesAllocs(t *testing.T) {
	e := encode.NewEncoder(encode.Resource{ServiceName: "s", HostIP: "10.0.0.1"})
	runs := otlpBenchRuns(512, 8)
	buf := e.AppendTraces(nil, runs)
	testkit.WantAllocs(t, 0, func() { buf = e.AppendTraces(buf[:0], runs) })

	// The repair path allocates nothing either.
	runs[0].SID = "bad\xff"
	buf = e.AppendTraces(buf[:0], runs)
	testkit.WantAllocs(t, 0, func() { buf = e.AppendTraces(buf[:0], runs) })
}

// TestTracesExceptionAttrsAllocs: an exception event with attributes
// (the bridge's RecordError with trace.WithAttributes), on runs and
// nodes, encodes without allocating either, as the official decoder
// reads it: exception.type and exception.message, then the attributes.
func TestTracesExceptionAttrsAllocs(t *testing.T) {
	e := encode.NewEncoder(encode.Resource{ServiceName: "s", HostIP: "10.0.0.1"})
	runs := otlpBenchRuns(64, 4)
	attrs := []encode.Attr{{Key: "retry", Value: encode.BoolValue(true)}, {Key: "attempt", Value: encode.Int64Value(3)},
		{Key: "where", Value: encode.StringValue("tool call")}}
	exc := func(t int64) encode.Event {
		return encode.Event{TimeUnixNano: t, Kind: encode.EventException, Type: "*url.Error", Message: "dial tcp: i/o timeout", Attrs: attrs}
	}
	for _, r := range runs {
		r.Events = append(r.Events, exc(r.StartUnixNano+1))
		for _, n := range r.Nodes {
			n.Events = append(n.Events, exc(n.StartUnixNano+2))
		}
	}
	buf := e.AppendTraces(nil, runs)
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(buf, &req); err != nil {
		t.Fatal(err)
	}
	sp := req.ResourceSpans[0].ScopeSpans[0].Spans[0]
	ev := sp.Events[len(sp.Events)-1]
	var keys []string
	for _, kv := range ev.Attributes {
		keys = append(keys, kv.Key)
	}
	if ev.Name != "exception" || strings.Join(keys, ",") != "exception.type,exception.message,retry,attempt,where" {
		t.Fatalf("span %q's last event %q has %v", sp.Name, ev.Name, keys)
	}
	testkit.WantAllocs(t, 0, func() { buf = e.AppendTraces(buf[:0], runs) })
}

// otlpGoldenTraces is the SHA-256 of what TestTracesGolden encodes, taken
// from the encoder before its fast paths: they must not change a byte. It
// changed on purpose when a node's first_frame_duration became the
// difference of its two epoch milliseconds, the run trace log's number,
// and when the run span gained the run's first_frame_duration, and when a
// span began to write each attribute key once (the random records repeat
// keys; TestTracesEquivalence holds the new bytes to otlpref's rule), and
// when keys that become one once repaired (invalid UTF-8) were written
// once (the random records have such keys).
const otlpGoldenTraces = "8e1c13829b3865e7ae62670ed0fa6cb734f407184f2027c65bfec672985ee747"

// TestTracesGolden pins AppendTraces' exact bytes and InvalidUTF8 counts
// for the benchmark batches and random runs (invalid UTF-8 included), so
// that a faster writer cannot reorder fields or pick other widths unseen:
// the equivalence tests compare decoded messages and sizes only.
func TestTracesGolden(t *testing.T) {
	h := sha256.New()
	write := func(res encode.Resource, batches ...[]*encode.Run) {
		e := encode.NewEncoder(res)
		var buf []byte
		for _, runs := range batches {
			buf = e.AppendTraces(buf[:0], runs)
			h.Write(buf)
			fmt.Fprintf(h, "|%d|", e.Stats().InvalidUTF8)
		}
	}
	write(otlpBenchResource, otlpBenchBatch(), loadgenBatch(), otlpBenchRuns(64, 3))
	for seed := uint64(0); seed < 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, 11))
		res := otlpGenResource(rng)
		batches := make([][]*encode.Run, 3)
		for i := range batches {
			batches[i] = make([]*encode.Run, rng.IntN(5))
			for j := range batches[i] {
				batches[i][j] = otlpGenRun(rng, 6)
			}
		}
		write(res, batches...)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != otlpGoldenTraces {
		t.Fatalf("AppendTraces output changed: sha256 %s, want %s", got, otlpGoldenTraces)
	}
}

// TestResourceKeysUnique: a Resource whose Attrs repeat a key the encoder
// writes from its fields (service.name, the telemetry.sdk ones, ip and
// host.ip with HostIP, service.instance.id with ServiceInstanceID) or
// repeat one of their own keys is written with each key once, as OTLP
// wants: the fields win, and the last of a repeated attribute. Both were
// written twice.
func TestResourceKeysUnique(t *testing.T) {
	attrs := []encode.Attr{
		{Key: "service.name", Value: encode.StringValue("from-attrs")},
		{Key: "team", Value: encode.StringValue("a")},
		{Key: "telemetry.sdk.name", Value: encode.StringValue("other")},
		{Key: "service.instance.id", Value: encode.StringValue("kept: no field")},
		{Key: "team", Value: encode.StringValue("b")},
		{Key: "host.ip", Value: encode.StringValue("10.9.9.9")},
	}
	e := encode.NewEncoder(encode.Resource{ServiceName: "svc", HostIP: "10.0.0.1", Attrs: attrs})
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(e.AppendTraces(nil, []*encode.Run{{}}), &req); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, kv := range req.ResourceSpans[0].Resource.Attributes {
		seen[kv.Key]++
	}
	res := otlpAttrMap(req.ResourceSpans[0].Resource.Attributes)
	for k, n := range seen {
		if n != 1 {
			t.Errorf("the resource holds %s %d times", k, n)
		}
	}
	for k, v := range map[string]string{"service.name": "svc", "team": "b", "telemetry.sdk.name": "flowtel", "service.instance.id": "kept: no field", "ip": "10.0.0.1"} {
		if got := res[k].GetStringValue(); got != v {
			t.Errorf("resource %s = %q, want %q", k, got, v)
		}
	}
	if vs := res["host.ip"].GetArrayValue().GetValues(); len(vs) != 1 || vs[0].GetStringValue() != "10.0.0.1" {
		t.Errorf("resource host.ip = %v", res["host.ip"])
	}
	if len(attrs) != 6 || attrs[0].Key != "service.name" {
		t.Error("the caller's attributes were modified")
	}
}

// TestNodeSpanNames checks the node span's name, "run_node:" and the
// node id, and its node_id attribute for ids of every length around the
// word stores of the usual id (4 to 16 bytes of ASCII), in ASCII and
// with a byte from 0x80, valid or not, at each place: decoded with the
// official decoder, repaired strings counted once per string written.
func TestNodeSpanNames(t *testing.T) {
	e := encode.NewEncoder(encode.Resource{ServiceName: "s"})
	for n := range 21 {
		for at := -1; at < n; at++ {
			for _, high := range []string{"é", "\xff"} {
				b := []byte(strings.Repeat("abcdefghij", 3)[:n])
				if at >= 0 {
					b = append(b[:at], append([]byte(high), b[at:]...)...)
				}
				id := string(b)
				run := &encode.Run{TraceID: encode.TraceID{1}, SpanID: encode.SpanID{1}, Nodes: []*encode.Node{{SpanID: encode.SpanID{2}, NodeID: id}}}
				before := e.Stats().InvalidUTF8
				var req coltracepb.ExportTraceServiceRequest
				if err := proto.Unmarshal(e.AppendTraces(nil, []*encode.Run{run}), &req); err != nil {
					t.Fatalf("id %q: %v", id, err)
				}
				span := req.ResourceSpans[0].ScopeSpans[0].Spans[1]
				want := strings.ToValidUTF8(id, "\uFFFD")
				if span.Name != "run_node:"+want {
					t.Fatalf("id %q: name %q, want %q", id, span.Name, "run_node:"+want)
				}
				if got := otlpAttrMap(span.Attributes)["node_id"].GetStringValue(); got != want {
					t.Fatalf("id %q: node_id %q, want %q", id, got, want)
				}
				wantInvalid := uint64(0)
				if want != id {
					wantInvalid = 2 // the name and node_id
				}
				if got := e.Stats().InvalidUTF8 - before; got != wantInvalid {
					t.Fatalf("id %q: InvalidUTF8 +%d, want +%d", id, got, wantInvalid)
				}
			}
		}
	}
}

// TestEventMessages checks INFO and ERROR events without attributes for
// messages of every length around the one-go writer's word stores and
// its limit (4, 8 and eventFastMax, 64 bytes), in ASCII and with a byte
// from 0x80, valid or not, with a time and without: decoded with the
// official decoder, each event holds its time, its name and its message
// under the name's key, repaired.
func TestEventMessages(t *testing.T) {
	e := encode.NewEncoder(encode.Resource{ServiceName: "s"})
	var events []encode.Event
	for n := range 70 {
		for _, high := range []string{"", "é", "\xff"} {
			for _, kind := range []encode.EventKind{encode.EventInfo, encode.EventError} {
				msg := strings.Repeat("0123456789", 7)[:n]
				if high != "" && n > 0 {
					msg = msg[:n/2] + high + msg[n/2:]
				}
				events = append(events, encode.Event{TimeUnixNano: int64(n) * int64(kind+1), Kind: kind, Message: msg})
			}
		}
	}
	run := &encode.Run{TraceID: encode.TraceID{1}, SpanID: encode.SpanID{1}, Nodes: []*encode.Node{{SpanID: encode.SpanID{2}, NodeID: "llm:1", Events: events}}}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(e.AppendTraces(nil, []*encode.Run{run}), &req); err != nil {
		t.Fatal(err)
	}
	got := req.ResourceSpans[0].ScopeSpans[0].Spans[1].Events
	if len(got) != len(events) {
		t.Fatalf("%d events, want %d", len(got), len(events))
	}
	for i, ev := range events {
		name, key := "INFO", "INFO LOG"
		if ev.Kind == encode.EventError {
			name, key = "ERROR", "ERROR LOG"
		}
		g := got[i]
		if g.TimeUnixNano != uint64(ev.TimeUnixNano) || g.Name != name || len(g.Attributes) != 1 || g.Attributes[0].Key != key ||
			g.Attributes[0].Value.GetStringValue() != strings.ToValidUTF8(ev.Message, "\uFFFD") {
			t.Fatalf("event %d (%q): got %v", i, ev.Message, g)
		}
	}
}
