package encode_test

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/testkit"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
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

// TestAttrKeysRepairedOnce covers keys that differ but are written alike
// once their invalid UTF-8 is repaired ("k\xff" and "k\xfe" are both
// "k\uFFFD"), in a node's lists, between a node's Attrs and its lists, in
// a run's Attrs and in an event's attributes, and keys repeated in an
// event's attributes: each key is written once, the last given (Attrs
// over Config, Output, Input), and every attribute left out counts once
// in EncoderStats.AttrsReplaced, not in dropped_attributes_count.
func TestAttrKeysRepairedOnce(t *testing.T) {
	i64 := encode.Int64Value
	nd := &encode.Node{SpanID: encode.SpanID{2}, NodeID: "n",
		Input:  []encode.Attr{{Key: "k\xff", Value: i64(1)}, {Key: "x", Value: i64(2)}, {Key: "k\xfe", Value: i64(3)}},
		Output: []encode.Attr{{Key: "o\xc3", Value: i64(4)}},
		// output.o\uFFFD meets output.o\xc3; app_id is the conventions'.
		Attrs: []encode.Attr{{Key: "output.o\uFFFD", Value: i64(5)}, {Key: "app_id", Value: i64(6)}},
		Events: []encode.Event{{Kind: encode.EventInfo, Attrs: []encode.Attr{
			{Key: "e", Value: i64(7)}, {Key: "e", Value: i64(8)}, {Key: "f\x80", Value: i64(9)}, {Key: "f\x81", Value: i64(10)},
		}}}}
	r := &encode.Run{TraceID: encode.TraceID{1}, SpanID: encode.SpanID{1}, AppID: "app",
		Attrs: []encode.Attr{{Key: "r\xff", Value: i64(11)}, {Key: "r\uFFFD", Value: i64(12)}, {Key: "s", Value: i64(13)}},
		Nodes: []*encode.Node{nd}}
	e := encode.NewEncoder(encode.Resource{ServiceName: "svc"})
	spans := encodeSpans(t, e, r)
	run, node := spanAttrs(t, spans[0]), spanAttrs(t, spans[1])
	for k, v := range map[string]string{"r\uFFFD": "12", "s": "13"} {
		if run[k] != v {
			t.Errorf("run span: %q = %q, want %q", k, run[k], v)
		}
	}
	for k, v := range map[string]string{"input.k\uFFFD": "3", "input.x": "2", "output.o\uFFFD": "5", "app_id": "app"} {
		if node[k] != v {
			t.Errorf("node span: %q = %q, want %q", k, node[k], v)
		}
	}
	ev := spans[1].Events[0]
	got := map[string]int64{}
	for _, kv := range ev.Attributes {
		if _, ok := got[kv.Key]; ok {
			t.Fatalf("event: key %q more than once", kv.Key)
		}
		got[kv.Key] = kv.Value.GetIntValue()
	}
	if len(got) != 2 || got["e"] != 8 || got["f\uFFFD"] != 10 {
		t.Errorf("event attributes = %v, want e=8 and f\uFFFD=10", got)
	}
	// Left out: r\xff; k\xff, output.o\xc3 (for Attrs), app_id (for the
	// conventions); e=7, f\x80.
	if st := e.Stats(); st.AttrsReplaced != 6 {
		t.Errorf("AttrsReplaced = %d, want 6", st.AttrsReplaced)
	}
	if d := spans[1].DroppedAttributesCount; d != 1 {
		t.Errorf("node dropped_attributes_count = %d, want 1 (app_id)", d)
	}
	if d := spans[0].DroppedAttributesCount; d != 0 {
		t.Errorf("run dropped_attributes_count = %d, want 0", d)
	}
	// Repaired as written: k\xfe and f\x81 (r\xff, k\xff, o\xc3 and
	// f\x80 are left out).
	if st := e.Stats(); st.InvalidUTF8 != 2 {
		t.Errorf("InvalidUTF8 = %d, want 2", st.InvalidUTF8)
	}
	// Once the scratch has grown, the repaired check allocates nothing.
	buf := e.AppendTraces(nil, []*encode.Run{r})
	testkit.WantAllocs(t, 0, func() { buf = e.AppendTraces(buf[:0], []*encode.Run{r}) })
}

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
