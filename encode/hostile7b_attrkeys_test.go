package encode_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/flowtel/flowtel/encode"
)

// TestAttrKeysOnceRandom encodes nodes and runs whose caller lists draw
// keys from a small set (repeats, prefixed keys that meet a SetAttributes
// key, keys the conventions write, keys of equal hash that differ) and
// decodes them with the official decoder: every span carries each key
// once; a caller key the span does not write itself has the last value
// given (Attrs over Config, Output, Input); EncoderStats.AttrsReplaced
// counts every attribute left out.
func TestAttrKeysOnceRandom(t *testing.T) {
	keys := []string{"a", "b", "ab", "bb", "lang", "input.lang", "output.a", "node_id", "code", "app_id", "sid", "tenant", "tXnant",
		"q\xff", "q\xfe", "q\uFFFD", "input.q\x80"} // the last four are "q\uFFFD" or "input.q\uFFFD" once written
	rng := rand.New(rand.NewPCG(7, 16))
	pick := func() []encode.Attr {
		var as []encode.Attr
		for range rng.IntN(5) {
			as = append(as, encode.Attr{Key: keys[rng.IntN(len(keys))], Value: encode.Int64Value(rng.Int64N(1000))})
		}
		return as
	}
	e := encode.NewEncoder(encode.Resource{ServiceName: "svc"})
	var wantReplaced uint64
	for iter := range 300 {
		run := &encode.Run{TraceID: encode.TraceID{1}, SpanID: encode.SpanID{1}, AppID: "app", FlowID: "f", Attrs: pick()}
		nd := &encode.Node{SpanID: encode.SpanID{2}, NodeID: "n", NodeType: "llm", Input: pick(), Output: pick(), Config: pick(), Attrs: pick()}
		if iter%2 == 0 {
			nd.HasCode, nd.Code = true, 5
		}
		run.Nodes = []*encode.Node{nd}
		// An event given as data: its keys once too, the last.
		evAttrs := pick()
		if len(evAttrs) != 0 {
			nd.Events = []encode.Event{{Kind: encode.EventInfo, Attrs: evAttrs}}
		}
		wantEvent := map[string]int64{}
		for _, a := range evAttrs {
			wantEvent[strings.ToValidUTF8(a.Key, "\uFFFD")] = a.Value.Int64()
		}
		wantReplaced += uint64(len(evAttrs) - len(wantEvent))
		// want: the caller's last value of each full key, in write order.
		lists := [][]encode.Attr{nd.Input, nd.Output, nd.Config, nd.Attrs}
		pres := []string{"input.", "output.", "config.", ""}
		wantNode := map[string]int64{}
		given := 0
		for l, as := range lists {
			for _, a := range as {
				wantNode[strings.ToValidUTF8(pres[l]+a.Key, "\uFFFD")] = a.Value.Int64()
				given++
			}
		}
		own := map[string]bool{"node_id": true, "sid": true, "app_id": true}
		if nd.HasCode {
			own["code"] = true
		}
		for k := range own {
			delete(wantNode, k)
		}
		wantReplaced += uint64(given - len(wantNode))
		wantRun := map[string]int64{}
		for _, a := range run.Attrs {
			wantRun[strings.ToValidUTF8(a.Key, "\uFFFD")] = a.Value.Int64()
		}
		for _, k := range []string{"code", "app_id", "sid"} {
			delete(wantRun, k)
		}
		wantReplaced += uint64(len(run.Attrs) - len(wantRun))

		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(e.AppendTraces(nil, []*encode.Run{run}), &req); err != nil {
			t.Fatal(err)
		}
		if len(evAttrs) != 0 {
			ev := req.ResourceSpans[0].ScopeSpans[0].Spans[1].Events[0]
			if len(ev.Attributes) != len(wantEvent) {
				t.Fatalf("iter %d: event has %d attributes, want %d", iter, len(ev.Attributes), len(wantEvent))
			}
			for _, kv := range ev.Attributes {
				if v, ok := wantEvent[kv.Key]; !ok || kv.Value.GetIntValue() != v {
					t.Fatalf("iter %d: event %s = %v, want %d (present %v)", iter, kv.Key, kv.Value, v, ok)
				}
			}
		}
		for i, s := range req.ResourceSpans[0].ScopeSpans[0].Spans {
			want := wantRun
			if i == 1 {
				want = wantNode
			}
			seen := map[string]bool{}
			for _, kv := range s.Attributes {
				if seen[kv.Key] {
					t.Fatalf("iter %d span %q: key %q more than once", iter, s.Name, kv.Key)
				}
				seen[kv.Key] = true
				if v, ok := want[kv.Key]; ok && kv.Value.GetIntValue() != v {
					t.Fatalf("iter %d span %q: %s = %v, want %d", iter, s.Name, kv.Key, kv.Value, v)
				}
			}
			for k := range want {
				if !seen[k] {
					t.Fatalf("iter %d span %q: key %q missing", iter, s.Name, k)
				}
			}
		}
	}
	if got := e.Stats().AttrsReplaced; got != wantReplaced {
		t.Errorf("AttrsReplaced = %d, want %d", got, wantReplaced)
	}
}
