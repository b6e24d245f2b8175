package encode_test

import (
	"context"
	"strings"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/flowtel/flowtel/encode"
)

// TestSpanEventAttrsKeptCounted: the attributes of an INFO event given as
// data whose JSON is 10 KiB or more, when they cannot be offloaded (the
// queue's bytes, the store's budget, a closed Offloader), stay on the span
// event whole, as the official decoder reads them, and are counted as
// kept by reason (KeptQueueFull, KeptStoreFull, KeptClosed). They were
// counted as truncated (QueueFull, StoreFull, Closed), which
// flowtel_offload_values_total reported as truncated_queue_full and so
// on, though nothing was cut.
func TestSpanEventAttrsKeptCounted(t *testing.T) {
	big := strings.Repeat("x", encode.SpanEventOffloadThreshold)
	attrs := []encode.Attr{{Key: "llm output", Value: encode.StringValue(big)}, {Key: "n", Value: encode.Int64Value(1)}}
	run := &encode.Run{TraceID: encode.TraceID{1}, SpanID: encode.SpanID{2}, SID: "s"}
	run.Nodes = []*encode.Node{{SpanID: encode.SpanID{3}, NodeID: "llm:1", Events: []encode.Event{{Kind: encode.EventInfo, Attrs: attrs}}}}
	for _, tc := range []struct {
		name     string
		maxBytes int64 // the store's budget
		queue    int64 // the queue's bytes
		closed   bool
		want     func(encode.OffloadStats) uint64
	}{
		{"queue_full", 1 << 30, 1000, false, func(s encode.OffloadStats) uint64 { return s.KeptQueueFull }},
		{"store_full", 1000, 0, false, func(s encode.OffloadStats) uint64 { return s.KeptStoreFull }},
		{"closed", 1 << 30, 0, true, func(s encode.OffloadStats) uint64 { return s.KeptClosed }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, err := encode.NewBoundedFSStore(t.TempDir(), "https://oss.example/b/", tc.maxBytes, 100)
			if err != nil {
				t.Fatal(err)
			}
			o := encode.NewOffloader(store, encode.OffloadConfig{QueueBytes: tc.queue})
			defer o.Close(context.Background())
			if tc.closed {
				if err := o.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			e := encode.NewEncoder(encode.Resource{ServiceName: "svc"})
			e.SetOffloader(o)
			var req coltracepb.ExportTraceServiceRequest
			if err := proto.Unmarshal(e.AppendTraces(nil, []*encode.Run{run}), &req); err != nil {
				t.Fatal(err)
			}
			ev := req.ResourceSpans[0].ScopeSpans[0].Spans[1].Events[0]
			if len(ev.Attributes) != 2 || ev.Attributes[0].Key != "llm output" || ev.Attributes[0].Value.GetStringValue() != big {
				t.Fatalf("event attributes not kept whole: %d of them", len(ev.Attributes))
			}
			s := o.Stats()
			if tc.want(s) != 1 || s.QueueFull+s.StoreFull+s.Closed != 0 || s.Enqueued != 0 {
				t.Errorf("stats %+v: want one value kept (%s), none truncated", s, tc.name)
			}
		})
	}
}
