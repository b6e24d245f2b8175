package otlp

import (
	"context"
	"testing"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
)

// TestSinkExportAliasedRuns hands Export a batch that holds one run 300
// times, and a node shared by every run, large enough to be encoded in
// parts on several cores at once (minParallelSpans): a caller's batch may
// alias its records, and the encoders only read them (run with -race),
// every span is delivered, and the run log of each, as given.
func TestSinkExportAliasedRuns(t *testing.T) {
	rc := otlptest.StartKeeping(t, otlptest.GRPC)
	exp, err := export.New(export.Config{Endpoint: rc.Endpoint(), Insecure: true, Protocol: "grpc", Release: encode.PutBuffer, Block: true, QueueBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSink(exp, encode.Resource{ServiceName: "svc"}, true)
	if err != nil {
		t.Fatal(err)
	}
	shared := &encode.Node{SpanID: encode.SpanID{9}, NodeID: "llm:1", NodeType: "llm", NodeName: "Answer",
		Input: []encode.Attr{{Key: "q", Value: encode.StringValue("a question long enough to take the long writers, and \"quoted\"")}},
		Next:  []string{"end:1"}, Events: []encode.Event{{Kind: encode.EventInfo, Message: "first token"}}, StartUnixNano: 10, EndUnixNano: 20}
	r := &encode.Run{TraceID: encode.TraceID{1}, SpanID: encode.SpanID{2}, FlowID: "f", Question: "q", Answer: "a",
		Nodes: []*encode.Node{shared, shared}, StartUnixNano: 1, EndUnixNano: 30}
	const copies = 300
	batch := make([]*encode.Run, copies)
	for i := range batch {
		batch[i] = r
	}
	for range 3 {
		if err := s.Export(batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := 0
	for _, req := range rc.Traces() {
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				spans += len(ss.Spans)
			}
		}
	}
	logs := 0
	for _, req := range rc.Logs() {
		for _, rl := range req.ResourceLogs {
			for _, sl := range rl.ScopeLogs {
				logs += len(sl.LogRecords)
			}
		}
	}
	if want := 3 * copies * 3; spans != want {
		t.Errorf("%d spans received, want %d", spans, want)
	}
	if want := 3 * copies; logs != want {
		t.Errorf("%d run logs received, want %d", logs, want)
	}
}
