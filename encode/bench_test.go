package encode_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/flowtel/flowtel/encode"
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

// BenchmarkEncodeTraces compares AppendTraces with google.golang.org/protobuf
// marshalling the equivalent OTLP request, with and without building it.
func BenchmarkEncodeTraces(b *testing.B) {
	runs := otlpBenchBatch()
	b.Run("flowtel", func(b *testing.B) {
		e := encode.NewEncoder(otlpBenchResource)
		buf := e.AppendTraces(nil, runs)
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			buf = e.AppendTraces(buf[:0], runs)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/otlpBenchSpans, "ns/span")
	})
	b.Run("protobuf", func(b *testing.B) {
		var rb otlpRef
		req := rb.traces(rb.resource(otlpBenchResource), runs)
		buf, _ := proto.MarshalOptions{}.MarshalAppend(nil, req)
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			buf, _ = proto.MarshalOptions{}.MarshalAppend(buf[:0], req)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/otlpBenchSpans, "ns/span")
	})
	b.Run("protobuf-build", func(b *testing.B) {
		var rb otlpRef
		buf, _ := proto.MarshalOptions{}.MarshalAppend(nil, rb.traces(rb.resource(otlpBenchResource), runs))
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			req := rb.traces(rb.resource(otlpBenchResource), runs)
			buf, _ = proto.MarshalOptions{}.MarshalAppend(buf[:0], req)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/otlpBenchSpans, "ns/span")
	})
}

// BenchmarkEncodeLogs compares AppendLogs (run trace log JSON included)
// with google.golang.org/protobuf marshalling the equivalent OTLP request
// (JSON bodies prebuilt); protobuf-build also writes the JSON bodies and
// builds the request. runlog-json is the JSON alone, for subtraction.
func BenchmarkEncodeLogs(b *testing.B) {
	runs := otlpBenchBatch()
	b.Run("flowtel", func(b *testing.B) {
		e := encode.NewEncoder(otlpBenchResource)
		buf := e.AppendLogs(nil, runs)
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			buf = e.AppendLogs(buf[:0], runs)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(runs)), "ns/record")
	})
	b.Run("runlog-json", func(b *testing.B) {
		// The JSON bodies alone (AppendRunLog), which flowtel and
		// protobuf-build include and protobuf does not.
		var buf []byte
		for _, r := range runs {
			buf = encode.AppendRunLog(buf, r)
		}
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			buf = buf[:0]
			for _, r := range runs {
				buf = encode.AppendRunLog(buf, r)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(runs)), "ns/record")
	})
	b.Run("protobuf", func(b *testing.B) {
		var rb otlpRef
		req := rb.logs(rb.resource(otlpBenchResource), runs)
		buf, _ := proto.MarshalOptions{}.MarshalAppend(nil, req)
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			buf, _ = proto.MarshalOptions{}.MarshalAppend(buf[:0], req)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(runs)), "ns/record")
	})
	b.Run("protobuf-build", func(b *testing.B) {
		var rb otlpRef
		buf, _ := proto.MarshalOptions{}.MarshalAppend(nil, rb.logs(rb.resource(otlpBenchResource), runs))
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			req := rb.logs(rb.resource(otlpBenchResource), runs)
			buf, _ = proto.MarshalOptions{}.MarshalAppend(buf[:0], req)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(runs)), "ns/record")
	})
}
