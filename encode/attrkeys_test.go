package encode_test

import (
	"strconv"
	"strings"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/flowtel/flowtel/encode"
)

// encodeSpans encodes runs with e and decodes the spans with the official
// decoder.
func encodeSpans(t *testing.T, e *encode.Encoder, runs ...*encode.Run) []*tracepb.Span {
	t.Helper()
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(e.AppendTraces(nil, runs), &req); err != nil {
		t.Fatal(err)
	}
	return req.ResourceSpans[0].ScopeSpans[0].Spans
}

// spanAttrs returns s's attributes as text by key, failing on a key that
// comes twice.
func spanAttrs(t *testing.T, s *tracepb.Span) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, kv := range s.Attributes {
		if _, ok := m[kv.Key]; ok {
			t.Fatalf("span %q: key %q more than once", s.Name, kv.Key)
		}
		if v, ok := kv.Value.Value.(*commonpb.AnyValue_IntValue); ok {
			m[kv.Key] = strconv.FormatInt(v.IntValue, 10)
		} else {
			m[kv.Key] = kv.Value.GetStringValue()
		}
	}
	return m
}

// TestAttrKeysListRewrite covers the node whose Input, Output and Config
// are written before their keys are known to be unique (writeNodeLists):
// a list that repeats a key is written again from a copy, and the strings
// of the first writing count nowhere, neither as invalid UTF-8 nor as
// bytes of the span; a list whose keys share a bit (keyBit) without
// repeating is written once, as given.
func TestAttrKeysListRewrite(t *testing.T) {
	str := encode.StringValue
	run := func(nd *encode.Node) *encode.Run {
		return &encode.Run{TraceID: encode.TraceID{1}, SpanID: encode.SpanID{1}, AppID: "app", Nodes: []*encode.Node{nd}}
	}
	cases := []struct {
		name     string
		nd       *encode.Node
		want     map[string]string // the caller's keys the node span carries
		replaced uint64
		invalid  uint64
	}{
		{
			name: "repeat with an invalid value replaced",
			nd: &encode.Node{SpanID: encode.SpanID{2}, NodeID: "n",
				Input:  []encode.Attr{{Key: "a", Value: str("bad\xff")}, {Key: "b", Value: str("x")}, {Key: "a", Value: str("good")}},
				Config: []encode.Attr{{Key: "c", Value: str("y")}}},
			want:     map[string]string{"input.a": "good", "input.b": "x", "config.c": "y"},
			replaced: 1,
		},
		{
			name: "repeat in the last list, invalid value kept",
			nd: &encode.Node{SpanID: encode.SpanID{2}, NodeID: "n",
				Input:  []encode.Attr{{Key: "k", Value: str("v\xfe")}},
				Output: []encode.Attr{{Key: "o", Value: str("1")}},
				Config: []encode.Attr{{Key: "m", Value: str("1")}, {Key: "m", Value: str("2")}, {Key: "m", Value: str("3")}}},
			want:     map[string]string{"input.k": "v\uFFFD", "output.o": "1", "config.m": "3"},
			replaced: 2,
			invalid:  1,
		},
		{
			// Keys of one length and first and last bytes share a
			// keyBit: the exact check finds no repeat.
			name: "one bit, no repeat",
			nd: &encode.Node{SpanID: encode.SpanID{2}, NodeID: "n",
				Input: []encode.Attr{{Key: "aXb", Value: str("1")}, {Key: "aYb", Value: str("2")}, {Key: "aZb", Value: str("3")}}},
			want: map[string]string{"input.aXb": "1", "input.aYb": "2", "input.aZb": "3"},
		},
		{
			name: "repeat with a key the fast path does not write",
			nd: &encode.Node{SpanID: encode.SpanID{2}, NodeID: "n",
				Output: []encode.Attr{{Key: "ключ", Value: str("1")}, {Key: "x", Value: encode.Int64Value(2)}, {Key: "ключ", Value: str("3")}}},
			want:     map[string]string{"output.ключ": "3", "output.x": "2"},
			replaced: 1,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := encode.NewEncoder(encode.Resource{ServiceName: "svc"})
			spans := encodeSpans(t, e, run(c.nd))
			got := spanAttrs(t, spans[1])
			for k, v := range c.want {
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("%s = %q (present %v), want %q", k, g, ok, v)
				}
			}
			for k, v := range got {
				_, ok := c.want[k]
				if !ok && (strings.HasPrefix(k, "input.") || strings.HasPrefix(k, "output.") || strings.HasPrefix(k, "config.")) {
					t.Errorf("unexpected %s = %q", k, v)
				}
			}
			st := e.Stats()
			if st.AttrsReplaced != c.replaced {
				t.Errorf("AttrsReplaced = %d, want %d", st.AttrsReplaced, c.replaced)
			}
			if st.InvalidUTF8 != c.invalid {
				t.Errorf("InvalidUTF8 = %d, want %d", st.InvalidUTF8, c.invalid)
			}
			if spans[1].DroppedAttributesCount != 0 {
				t.Errorf("dropped_attributes_count = %d, want 0 (the caller replaced its own)", spans[1].DroppedAttributesCount)
			}
		})
	}
}
