package encode

import (
	"encoding/json"
	"testing"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"
)

// benchLogsResource is the resource of the logs benchmarks.
var benchLogsResource = Resource{ServiceName: "workflow", ServiceInstanceID: "wf-7f9c", HostIP: "10.0.164.187"}

// benchAppendLogs measures AppendLogs of runs, per record and per byte.
func benchAppendLogs(b *testing.B, runs []*Run) {
	e := NewEncoder(benchLogsResource)
	buf := e.AppendLogs(nil, runs)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = e.AppendLogs(buf[:0], runs)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(runs)), "ns/record")
}

// BenchmarkRunLogExport compares the whole job of shipping run trace logs
// over OTLP: flowtel's AppendLogs (the JSON and the request) against what
// a service on the incumbents does for the same runs: build the log's
// struct form, encoding/json.Marshal it, build the OTLP request with the
// google.golang.org/protobuf types and marshal it. (BenchmarkEncodeLogs/
// protobuf marshals prebuilt requests whose JSON bodies are already
// written, so it leaves the JSON out.)
func BenchmarkRunLogExport(b *testing.B) {
	runs := make([]*Run, 64)
	for i := range runs {
		runs[i] = runlogBenchRun()
	}
	res := &benchLogsResource
	b.Run("flowtel", func(b *testing.B) { benchAppendLogs(b, runs) })
	b.Run("encodingjson+protobuf", func(b *testing.B) {
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			req, err := runlogIncumbentRequest(res, runs)
			if err != nil {
				b.Fatal(err)
			}
			buf, _ = proto.MarshalOptions{}.MarshalAppend(buf[:0], req)
		}
		b.SetBytes(int64(len(buf)))
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(runs)), "ns/record")
	})
}

func runlogIncumbentRequest(res *Resource, runs []*Run) (*collogs.ExportLogsServiceRequest, error) {
	str := func(k, v string) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
	}
	sl := &logspb.ScopeLogs{Scope: &commonpb.InstrumentationScope{Name: ScopeName, Version: ScopeVersion}}
	for _, r := range runs {
		body, err := json.Marshal(runlogToStruct(r))
		if err != nil {
			return nil, err
		}
		sl.LogRecords = append(sl.LogRecords, &logspb.LogRecord{
			TimeUnixNano: uint64(r.EndUnixNano), ObservedTimeUnixNano: uint64(r.EndUnixNano),
			SeverityNumber: logspb.SeverityNumber_SEVERITY_NUMBER_INFO, SeverityText: "INFO",
			Body:       &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: string(body)}},
			Attributes: []*commonpb.KeyValue{str("sid", r.SID), str("event.name", RunLogEventName)},
			TraceId:    r.TraceID[:], SpanId: r.SpanID[:], Flags: 1, EventName: RunLogEventName,
		})
	}
	return &collogs.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{
		Resource:  &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", res.ServiceName), str("service.instance.id", res.ServiceInstanceID), str("host.ip", res.HostIP)}},
		ScopeLogs: []*logspb.ScopeLogs{sl},
	}}}, nil
}
