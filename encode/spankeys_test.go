package encode_test

import (
	"math/rand/v2"
	"testing"

	"github.com/flowtel/flowtel/encode"
)

// TestSpanKeysOnce encodes runs whose lists draw their keys from
// the conventions' keys, the GenAI usage keys, the lists' prefixes, keys
// of invalid UTF-8 and a few plain ones, with the node's convention flags
// set at random, and decodes them with the official decoder: no span
// carries a key twice (spanAttrs fails on one).
func TestSpanKeysOnce(t *testing.T) {
	keys := []string{"sid", "app_id", "uid", "chat_id", "span_version", "code", "flow_id", "service_id", "bot_id", "sub",
		"caller", "node_id", "node_type", "node_name", "running_status", "llm_output", "first_frame_duration",
		"next_node_ids", "error", "flowtel.incomplete", "error.type", "flowtel.dropped_nodes", "usage.question_tokens",
		"usage.prompt_tokens", "usage.completion_tokens", "usage.total_tokens", "gen_ai.usage.input_tokens",
		"gen_ai.usage.output_tokens", "gen_ai.request.model", "input.", "input.x", "output.x", "config.x", "x", "",
		"k\xff", "k\xfe", "k\uFFFD", "input.k\xff", "in0", "in1"}
	rng := rand.New(rand.NewPCG(11, 17))
	list := func(n int) []encode.Attr {
		as := make([]encode.Attr, rng.IntN(n+1))
		for i := range as {
			as[i] = encode.Attr{Key: keys[rng.IntN(len(keys))], Value: encode.Int64Value(int64(i))}
		}
		return as
	}
	e := encode.NewEncoder(encode.Resource{ServiceName: "svc"})
	for i := range 3000 {
		n := 4
		if i%50 == 0 {
			n = 80 // past maxScanAttrs
		}
		nd := &encode.Node{SpanID: encode.SpanID{2}, NodeID: "n", NodeType: "llm", StartUnixNano: 1, EndUnixNano: 2,
			Input: list(n), Output: list(n), Config: list(n), Attrs: list(n),
			HasCode: rng.IntN(2) == 0, HasUsage: rng.IntN(2) == 0, Incomplete: rng.IntN(4) == 0,
			Cancelled: rng.IntN(4) == 0, LLMOutput: []string{"", "o"}[rng.IntN(2)]}
		if nd.HasUsage {
			nd.Usage = encode.Usage{PromptTokens: 3, CompletionTokens: 4}
		}
		if rng.IntN(3) == 0 {
			nd.Next = []string{"m"}
		}
		if rng.IntN(3) == 0 {
			nd.FirstFrameUnixNano = 2
		}
		if rng.IntN(4) == 0 {
			nd.Events = []encode.Event{{Kind: encode.EventError, Message: "e", Attrs: list(n)}}
		}
		r := &encode.Run{TraceID: encode.TraceID{1}, SpanID: encode.SpanID{1}, AppID: "app", FlowID: "f", Sub: "s",
			Attrs: list(n), Nodes: []*encode.Node{nd}, Usage: nd.Usage}
		for _, s := range encodeSpans(t, e, r) {
			seen := map[string]bool{}
			for _, kv := range s.Attributes {
				if seen[kv.Key] {
					t.Fatalf("span %q: key %q more than once; run Attrs %q, node %q %q %q %q, usage %v", s.Name, kv.Key, keysOf(r.Attrs), keysOf(nd.Input), keysOf(nd.Output), keysOf(nd.Config), keysOf(nd.Attrs), nd.HasUsage)
				}
				seen[kv.Key] = true
			}
			for _, ev := range s.Events {
				seen := map[string]bool{}
				for _, kv := range ev.Attributes {
					if seen[kv.Key] {
						t.Fatalf("span %q event %q: key %q more than once", s.Name, ev.Name, kv.Key)
					}
					seen[kv.Key] = true
				}
			}
		}
	}
}

func keysOf(as []encode.Attr) []string {
	ks := make([]string, len(as))
	for i, a := range as {
		ks[i] = a.Key
	}
	return ks
}

// TestSpanLongRepairedKeys: a span of more than 64 caller attributes
// (keepOnce's map) whose keys "k\xff" and "k\uFFFD" are one once repaired
// carried that key twice: the map held the keys as given.
func TestSpanLongRepairedKeys(t *testing.T) {
	var as []encode.Attr
	for i := range 70 {
		as = append(as, encode.Attr{Key: string(rune('A'+i%26)) + string(rune('a'+i/26)), Value: encode.Int64Value(int64(i))})
	}
	as = append(as, encode.Attr{Key: "k\xff", Value: encode.Int64Value(1)}, encode.Attr{Key: "k\uFFFD", Value: encode.Int64Value(2)})
	nd := &encode.Node{SpanID: encode.SpanID{2}, NodeID: "n", NodeType: "t", StartUnixNano: 1, EndUnixNano: 2, Attrs: as}
	r := &encode.Run{TraceID: encode.TraceID{1}, SpanID: encode.SpanID{1}, AppID: "app", FlowID: "f", Attrs: as, Nodes: []*encode.Node{nd}}
	for _, s := range encodeSpans(t, encode.NewEncoder(encode.Resource{ServiceName: "svc"}), r) {
		if got := spanAttrs(t, s)["k\uFFFD"]; got != "2" {
			t.Errorf("span %q: k\\uFFFD = %q, want the last value, 2", s.Name, got)
		}
	}
}

// TestSpanLongEventAttrs: an event given as data of more than 64
// attributes that repeat a key, as given and once repaired, carries each
// key once with its last value. eventOnce compared each key with every
// later one: an event of the engine's largest Limits.EventAttrs (65,536)
// with one repeat took some two billion compares; past 64 a map finds
// them, as for a span's keys (keepOnce).
func TestSpanLongEventAttrs(t *testing.T) {
	var as []encode.Attr
	for i := range 70 {
		as = append(as, encode.Attr{Key: string(rune('A'+i%26)) + string(rune('a'+i/26)), Value: encode.Int64Value(int64(i))})
	}
	as = append(as, encode.Attr{Key: "Aa", Value: encode.Int64Value(100)},
		encode.Attr{Key: "k\xff", Value: encode.Int64Value(1)}, encode.Attr{Key: "k\uFFFD", Value: encode.Int64Value(2)})
	nd := &encode.Node{SpanID: encode.SpanID{2}, NodeID: "n", NodeType: "t", StartUnixNano: 1, EndUnixNano: 2,
		Events: []encode.Event{{Kind: encode.EventInfo, TimeUnixNano: 1, Attrs: as}}}
	r := &encode.Run{TraceID: encode.TraceID{1}, SpanID: encode.SpanID{1}, AppID: "app", FlowID: "f", Nodes: []*encode.Node{nd}}
	ev := encodeSpans(t, encode.NewEncoder(encode.Resource{ServiceName: "svc"}), r)[1].Events[0]
	got := map[string]int64{}
	for _, kv := range ev.Attributes {
		if _, ok := got[kv.Key]; ok {
			t.Fatalf("event key %q more than once", kv.Key)
		}
		got[kv.Key] = kv.Value.GetIntValue()
	}
	if len(got) != 71 || got["Aa"] != 100 || got["k\uFFFD"] != 2 || got["Ba"] != 1 {
		t.Errorf("%d keys, Aa = %d, k\\uFFFD = %d, Ba = %d; want 71, 100, 2, 1", len(got), got["Aa"], got["k\uFFFD"], got["Ba"])
	}
}
