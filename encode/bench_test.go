package encode_test

import (
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/otlpref"
)

// The benchmark batch: 512 spans (64 runs of one root span and 7 node
// spans), each span with 8 attributes of the caller's (a run's Attrs, a
// node's Input/Output/Config) on top of the span conventions' own, and one
// event. Every sub-benchmark encodes the same records.
const (
	otlpBenchSpans  = 512
	otlpBenchPerRun = 8
)

// otlpBenchBatch returns the benchmark batch.
func otlpBenchBatch() []*encode.Run {
	runs := otlpBenchRuns(otlpBenchSpans, otlpBenchPerRun)
	for _, r := range runs {
		r.Attrs = []encode.Attr{
			{Key: "tenant", Value: encode.StringValue("acme")},
			{Key: "retries", Value: encode.Int64Value(0)},
			{Key: "region", Value: encode.StringValue("cn-east-1")},
			{Key: "stream", Value: encode.BoolValue(true)},
			{Key: "latency_budget", Value: encode.Float64Value(2.5)},
			{Key: "workflow_version", Value: encode.StringValue("v12")},
			{Key: "entry", Value: encode.StringValue("api")},
			{Key: "priority", Value: encode.Int64Value(5)},
		}
		for _, n := range r.Nodes {
			n.Input = append(n.Input, encode.Attr{Key: "lang", Value: encode.StringValue("zh")})
			n.Output = append(n.Output, encode.Attr{Key: "finish_reason", Value: encode.StringValue("stop")})
			n.Config = append(n.Config, encode.Attr{Key: "model", Value: encode.StringValue("spark-4.0")})
		}
	}
	return runs
}

var otlpBenchResource = encode.Resource{ServiceName: "workflow", ServiceInstanceID: "wf-7f9c", HostIP: "10.0.164.187"}

// benchAppend runs an encoder benchmark: appendTo appends one request to
// buf and returns it. It reports the request's bytes and the time per item
// (n items of unit: span, record).
func benchAppend(b *testing.B, n int, unit string, appendTo func(buf []byte) []byte) {
	buf := appendTo(nil)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		buf = appendTo(buf[:0])
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/"+unit)
}

// benchProtobuf runs the sub-benchmarks "protobuf", marshalling the
// request build returns, built once, and "protobuf-build", building and
// marshalling it every time.
func benchProtobuf(b *testing.B, n int, unit string, build func(rb *otlpref.Builder) proto.Message) {
	b.Run("protobuf", func(b *testing.B) {
		var rb otlpref.Builder
		req := build(&rb)
		benchAppend(b, n, unit, func(buf []byte) []byte { return marshalAppend(buf, req) })
	})
	b.Run("protobuf-build", func(b *testing.B) {
		benchAppend(b, n, unit, func(buf []byte) []byte {
			var rb otlpref.Builder
			return marshalAppend(buf, build(&rb))
		})
	})
}

// marshalAppend is proto.MarshalOptions{}.MarshalAppend without its error,
// which the benchmarks' requests never return.
func marshalAppend(buf []byte, m proto.Message) []byte {
	buf, _ = proto.MarshalOptions{}.MarshalAppend(buf, m)
	return buf
}

// BenchmarkEncodeTraces compares AppendTraces with google.golang.org/protobuf
// marshalling the equivalent OTLP request, with and without building it.
func BenchmarkEncodeTraces(b *testing.B) {
	runs := otlpBenchBatch()
	b.Run("flowtel", func(b *testing.B) {
		e := encode.NewEncoder(otlpBenchResource)
		benchAppend(b, otlpBenchSpans, "span", func(buf []byte) []byte { return e.AppendTraces(buf, runs) })
	})
	benchProtobuf(b, otlpBenchSpans, "span", func(rb *otlpref.Builder) proto.Message {
		return rb.Traces(rb.Resource(otlpBenchResource), runs)
	})
}

// BenchmarkEncodeLogs compares AppendLogs (run trace log JSON included)
// with google.golang.org/protobuf marshalling the equivalent OTLP request
// (JSON bodies prebuilt); protobuf-build also writes the JSON bodies and
// builds the request. runlog-json is the JSON alone, for subtraction.
func BenchmarkEncodeLogs(b *testing.B) {
	runs := otlpBenchBatch()
	n := len(runs)
	b.Run("flowtel", func(b *testing.B) {
		e := encode.NewEncoder(otlpBenchResource)
		benchAppend(b, n, "record", func(buf []byte) []byte { return e.AppendLogs(buf, runs) })
	})
	b.Run("runlog-json", func(b *testing.B) {
		// The JSON bodies alone (AppendRunLog), which flowtel and
		// protobuf-build include and protobuf does not.
		benchAppend(b, n, "record", func(buf []byte) []byte {
			for _, r := range runs {
				buf = encode.AppendRunLog(buf, r)
			}
			return buf
		})
	})
	benchProtobuf(b, n, "record", func(rb *otlpref.Builder) proto.Message {
		return rb.Logs(rb.Resource(otlpBenchResource), runs)
	})
}

// loadgenBatch returns 64 runs shaped like cmd/loadgen's defaults: 8 nodes
// each (start, six of the body's node mix, end), 8 string attributes per
// node (in0..in3, out0..out1, cfg0..cfg1 with its values), a 256-byte
// payload as the LLM output and as a tool's first output, usage and first
// frame on LLM nodes, one next node id, an info event on message and end
// nodes and 1% of nodes failed with an exception.
func loadgenBatch() []*encode.Run {
	const payloadText = "The quick brown fox consults the knowledge base and answers in streaming tokens. "
	payload := strings.Repeat(payloadText, 4)[:256]
	vals := []string{"gpt-4o", "0.7", "zh-CN", "retrieval", "https://kb.internal/doc/42", "user question", "json", "42"}
	var in, out, cfg []encode.Attr
	for i := range 4 {
		in = append(in, encode.Attr{Key: "in" + strconv.Itoa(i), Value: encode.StringValue(vals[i%len(vals)])})
	}
	for i := range 2 {
		out = append(out, encode.Attr{Key: "out" + strconv.Itoa(i), Value: encode.StringValue(vals[(i+3)%len(vals)])})
		cfg = append(cfg, encode.Attr{Key: "cfg" + strconv.Itoa(i), Value: encode.StringValue(vals[(i+5)%len(vals)])})
	}
	toolOut := []encode.Attr{{Key: "result", Value: encode.StringValue(payload)}, out[0]}
	body := []string{"llm", "tool", "code", "knowledge", "llm", "decision", "message", "llm", "code", "knowledge"}
	usage := encode.Usage{QuestionTokens: 150, PromptTokens: 900, CompletionTokens: 300, TotalTokens: 1200}

	var runs []*encode.Run
	for i := range 64 {
		failed := false
		start := int64(1_700_000_000_000_000_000) + int64(i)*1e7
		r := &encode.Run{
			TraceID: encode.TraceID{byte(i), 0x9a, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
			SpanID:  encode.SpanID{byte(i), 0x51, 2, 3, 4, 5, 6, 7},
			FlowID:  "flow-7b1c", SID: "spf000" + strconv.Itoa(100000+i) + "@hf17e12ef9c00a4bb2",
			AppID: "app-42", UID: "user-1001", ChatID: "chat-9", BotID: "bot-3", Sub: "spf",
			Caller: "workflow", LogCaller: "chat",
			Question: "Summarise the quarterly report and list the three largest risks.",
			Answer:   "Here is the summary you asked for.",
			Code:     0, Message: "success",
			StartUnixNano: start, EndUnixNano: start + 9e6,
		}
		types := []string{"start"}
		for j := range 6 {
			types = append(types, body[(i+j)%len(body)])
		}
		types = append(types, "end")
		ids := make([]string, len(types))
		for j, typ := range types {
			ids[j] = typ + ":" + strconv.Itoa(j+1)
			if typ == "end" {
				ids[j] = "node-end:" + strconv.Itoa(j+1)
			}
		}
		for j, typ := range types {
			if typ == "end" {
				typ = "node-end"
			}
			ns := start + int64(j)*1e6
			n := &encode.Node{
				SpanID: encode.SpanID{byte(i), byte(j), 0x33, 3, 4, 5, 6, 7},
				NodeID: ids[j], NodeType: typ,
				NodeName:      strings.ToUpper(typ[:1]) + typ[1:] + " " + strconv.Itoa(j+1),
				StartUnixNano: ns, EndUnixNano: ns + 8e5,
				Input: in, Output: out, Config: cfg,
			}
			switch typ {
			case "llm", "agent":
				n.FirstFrameUnixNano = ns + 3e5
				n.Usage, n.HasUsage = usage, true
				n.LLMOutput = payload
			case "tool", "plugin", "code", "knowledge":
				n.Output = toolOut
			case "message", "node-end":
				n.Events = []encode.Event{{TimeUnixNano: ns + 1e5, Kind: encode.EventInfo, Message: "message sent to the user"}}
			}
			if j+1 < len(ids) {
				n.Next = ids[j+1 : j+2]
			}
			if (i*8+j)%100 == 42 {
				const msg = "tool call failed: upstream returned 503"
				n.Events = append(n.Events, encode.Event{TimeUnixNano: ns + 7e5, Kind: encode.EventException, Message: msg, Type: "main.staticError"})
				n.Status, n.StatusMessage = encode.StatusError, msg
				failed = true
			}
			r.Nodes = append(r.Nodes, n)
		}
		if failed {
			r.Code, r.Message = 500, "node failed"
		}
		runs = append(runs, r)
	}
	return runs
}

// BenchmarkEncodeTracesLoadgen is AppendTraces on loadgenBatch, the shape
// of the end-to-end load generator's spans (576 spans).
func BenchmarkEncodeTracesLoadgen(b *testing.B) {
	runs := loadgenBatch()
	e := encode.NewEncoder(otlpBenchResource)
	benchAppend(b, encode.NumSpans(runs), "span", func(buf []byte) []byte { return e.AppendTraces(buf, runs) })
}
