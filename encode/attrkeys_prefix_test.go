package encode_test

import (
	"testing"

	"github.com/flowtel/flowtel/encode"
)

// TestAttrKeysPrefixExact covers attrsMayRepeat's test of a prefixed key
// in a node's Attrs: a key that is a list's prefix itself ("input.",
// "output.", "config.") meets that list's empty key, so the span carries
// it once, the Attrs' value; a key with a dot where a prefix's is but
// another prefix (gen_ai.*, the GenAI conventions' keys, which the exact
// check used to take) meets no list and is written as given.
func TestAttrKeysPrefixExact(t *testing.T) {
	str := encode.StringValue
	for _, tc := range []struct {
		name string
		nd   *encode.Node
		want map[string]string
	}{
		{"input.", &encode.Node{Input: []encode.Attr{{Key: "", Value: str("in")}}, Attrs: []encode.Attr{{Key: "input.", Value: str("attr")}}},
			map[string]string{"input.": "attr"}},
		{"output.", &encode.Node{Output: []encode.Attr{{Key: "", Value: str("out")}}, Attrs: []encode.Attr{{Key: "output.", Value: str("attr")}}},
			map[string]string{"output.": "attr"}},
		{"config.", &encode.Node{Config: []encode.Attr{{Key: "", Value: str("cfg")}}, Attrs: []encode.Attr{{Key: "config.", Value: str("attr")}}},
			map[string]string{"config.": "attr"}},
		{"config.x", &encode.Node{Config: []encode.Attr{{Key: "x", Value: str("cfg")}}, Attrs: []encode.Attr{{Key: "config.x", Value: str("attr")}}},
			map[string]string{"config.x": "attr"}},
		{"gen_ai", &encode.Node{
			Input:  []encode.Attr{{Key: "operation.name", Value: str("in")}},
			Output: []encode.Attr{{Key: "ai.operation.name", Value: str("out")}},
			Config: []encode.Attr{{Key: "model", Value: str("cfg")}},
			Attrs: []encode.Attr{{Key: "gen_ai.operation.name", Value: str("chat")}, {Key: "gen_ai.request.model", Value: str("m")},
				{Key: "inputs.x", Value: str("i")}, {Key: "outputs.", Value: str("o")}, {Key: "configs", Value: str("c")}}},
			map[string]string{"input.operation.name": "in", "output.ai.operation.name": "out", "config.model": "cfg",
				"gen_ai.operation.name": "chat", "gen_ai.request.model": "m", "inputs.x": "i", "outputs.": "o", "configs": "c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := encode.NewEncoder(encode.Resource{ServiceName: "svc"})
			nd := tc.nd
			nd.SpanID, nd.NodeID, nd.NodeType = encode.SpanID{2}, "n", "llm"
			run := &encode.Run{TraceID: encode.TraceID{1}, SpanID: encode.SpanID{1}, AppID: "app", Nodes: []*encode.Node{nd}}
			got := spanAttrs(t, encodeSpans(t, e, run)[1])
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			given := len(nd.Input) + len(nd.Output) + len(nd.Config) + len(nd.Attrs)
			if r := e.Stats().AttrsReplaced; r != uint64(given-len(tc.want)) {
				t.Errorf("AttrsReplaced = %d, want %d", r, given-len(tc.want))
			}
		})
	}
}
