package encode_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/flowtel/flowtel/encode"
)

// TestSpanEventOffload checks that, with an Offloader, an INFO or ERROR
// event's text of 10 KiB or more is stored and the span event holds
// "trace_link: " and its link, as the original's add_info_event and
// add_error_event, while a shorter one and a closed Offloader's value
// (cut, with the marker; the attributes kept whole, counted as kept)
// are not offloaded.
func TestSpanEventOffload(t *testing.T) {
	dir := t.TempDir()
	store, err := encode.NewFSStore(dir, "https://oss.example/b/")
	if err != nil {
		t.Fatal(err)
	}
	o := encode.NewOffloader(store, encode.OffloadConfig{})
	big := strings.Repeat("长", encode.SpanEventOffloadThreshold/3+1) // 10 KiB and more
	run := &encode.Run{TraceID: encode.TraceID{1}, SpanID: encode.SpanID{2}, SID: "spf0001@hf1"}
	run.Nodes = []*encode.Node{{SpanID: encode.SpanID{3}, NodeID: "llm:1", Events: []encode.Event{
		{Kind: encode.EventInfo, Message: big},
		{Kind: encode.EventInfo, Message: "short"},
		{Kind: encode.EventError, Message: big},
		{Kind: encode.EventInfo, Attrs: []encode.Attr{{Key: "llm output", Value: encode.StringValue(big)}, {Key: "n", Value: encode.Int64Value(1)}}},
		{Kind: encode.EventInfo, Attrs: []encode.Attr{{Key: "llm first token cost: ", Value: encode.Float64Value(1.2)}}},
	}}}
	e := encode.NewEncoder(encode.Resource{ServiceName: "svc"})
	e.SetOffloader(o)
	var keys []string
	events := func() []string {
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(e.AppendTraces(nil, []*encode.Run{run}), &req); err != nil {
			t.Fatal(err)
		}
		var out []string
		keys = keys[:0]
		for _, sp := range req.ResourceSpans[0].ScopeSpans[0].Spans {
			for _, ev := range sp.Events {
				out = append(out, ev.Attributes[0].Value.GetStringValue())
				keys = append(keys, ev.Attributes[0].Key)
			}
		}
		return out
	}
	got := events()
	if len(got) != 5 || !strings.HasPrefix(got[0], "trace_link: https://oss.example/b/spf0001@hf1-01000000000000000300000000000000-event-") || got[1] != "short" || !strings.HasPrefix(got[2], "trace_link: https://oss.example/b/") || keys[2] != "ERROR LOG" ||
		!strings.HasPrefix(got[3], "https://oss.example/b/") || keys[3] != "trace_link" || keys[4] != "llm first token cost: " {
		t.Fatalf("events %.80q keys %q", got, keys)
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	key := strings.TrimPrefix(got[0], "trace_link: https://oss.example/b/")
	if b, err := os.ReadFile(filepath.Join(dir, key)); err != nil || string(b) != big {
		t.Fatalf("stored value: %d bytes, %v", len(b), err)
	}
	key = strings.TrimPrefix(got[2], "trace_link: https://oss.example/b/")
	if b, err := os.ReadFile(filepath.Join(dir, key)); err != nil || string(b) != big {
		t.Fatalf("stored error text: %d bytes, %v", len(b), err)
	}
	key = strings.TrimPrefix(got[3], "https://oss.example/b/")
	if b, err := os.ReadFile(filepath.Join(dir, key)); err != nil || string(b) != `{"llm output": "`+big+`", "n": 1}` {
		t.Fatalf("stored attributes: %.60q, %v", b, err)
	}
	// Closed: the text is cut under the threshold, with the marker.
	got = events()
	if len(got[0]) >= encode.SpanEventOffloadThreshold || !strings.Contains(got[0], encode.TruncatedMarker) || !strings.HasPrefix(big, strings.Split(got[0], encode.TruncatedMarker)[0]) {
		t.Errorf("after Close: %d bytes %.40q", len(got[0]), got[0])
	}
	if st := o.Stats(); st.Offloaded != 3 || st.Closed != 2 || st.KeptClosed != 1 {
		t.Errorf("stats %+v", st)
	}
}
