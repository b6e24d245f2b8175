package fuzz

import (
	"context"
	"strings"
	"testing"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/protobuf/proto"

	"github.com/flowtel/flowtel/encode"
)

// hostileLinkStore is a Store whose links are not valid UTF-8 and hold
// what JSON escapes (a store that builds its links from what a server
// answered).
type hostileLinkStore struct{}

func (hostileLinkStore) Link(key string) string {
	return "\xff\xfe\"\\\x00\u2028é/" + key + "\xe2\x80"
}
func (hostileLinkStore) Put(context.Context, string, []byte) error { return nil }

// TestOffloadHostileLinkLogs encodes run logs whose large values are
// offloaded to a store with hostile links, and whose other values are
// ASCII, so that the writer's ASCII report (AppendLogs leaves out its
// UTF-8 check of a body it wrote in ASCII) meets the link: the official
// decoder takes the request (the body is valid UTF-8), and the body
// holds the link escaped and repaired.
func TestOffloadHostileLinkLogs(t *testing.T) {
	o := encode.NewOffloader(hostileLinkStore{}, encode.OffloadConfig{Threshold: 64})
	defer o.Close(context.Background())
	long := strings.Repeat("a", 100)
	n := &encode.Node{SpanID: encode.SpanID{2}, NodeID: "llm:1", NodeType: "llm", NodeName: "Answer", LLMOutput: long,
		Input: []encode.Attr{{Key: "q", Value: encode.StringValue(long)}}, StartUnixNano: 1, EndUnixNano: 2}
	r := &encode.Run{TraceID: encode.TraceID{1}, SpanID: encode.SpanID{1}, FlowID: "f", Question: long, Answer: "a",
		Nodes: []*encode.Node{n}, StartUnixNano: 1, EndUnixNano: 3}
	e := encode.NewEncoder(encode.Resource{ServiceName: "svc"})
	e.SetOffloader(o)
	var req collogspb.ExportLogsServiceRequest
	if err := proto.Unmarshal(e.AppendLogs(nil, []*encode.Run{r}), &req); err != nil {
		t.Fatalf("official decoder rejects the run log of hostile links: %v", err)
	}
	body := req.ResourceLogs[0].ScopeLogs[0].LogRecords[0].Body.GetStringValue()
	if !strings.Contains(body, `\"\\\u0000\u2028é/`) {
		t.Fatalf("the link is not escaped in the body: %s", body)
	}
}
