package encode

import (
	"strconv"
	"testing"

	"github.com/flowtel/flowtel/internal/race"

	colt "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TestManyAttrsOnce encodes a node whose lists repeat keys, among them,
// across them and against the span's own keys, with few attributes (the
// keys compared) and with more than maxScanAttrs (a map): both keep the
// same value per key and drop as many. Then a node of 2^20 attributes
// encodes (Limits.Attrs allows 65,536, a caller of the encoder any
// number): before, the check compared each key with every other, a node
// of 40,000 took 16 s to encode, and this one ran into go test's timeout.
func TestManyAttrsOnce(t *testing.T) {
	s := func(k string, v int) Attr { return Attr{Key: k, Value: Int64Value(int64(v))} }
	span := func(fillers int) (map[string]int64, uint32) {
		nd := &Node{NodeID: "n", SpanID: SpanID{2}, StartUnixNano: 1, EndUnixNano: 2,
			Input:  []Attr{s("a", 1), s("b", 2), s("a", 3)},
			Output: []Attr{s("a", 4)},
			Config: []Attr{s("c", 5)},
			Attrs:  []Attr{s("input.b", 6), s("x", 7), s("x", 8), s("sid", 9), s("output.a", 10)}}
		for i := 0; i < fillers; i++ {
			nd.Attrs = append(nd.Attrs, s("f"+strconv.Itoa(i), i))
		}
		r := &Run{SID: "the-sid", TraceID: TraceID{1}, SpanID: SpanID{1}, StartUnixNano: 1, EndUnixNano: 2, Nodes: []*Node{nd}}
		var req colt.ExportTraceServiceRequest
		if err := proto.Unmarshal(NewEncoder(Resource{}).AppendTraces(nil, []*Run{r}), &req); err != nil {
			t.Fatal(err)
		}
		sp := req.ResourceSpans[0].ScopeSpans[0].Spans[1]
		got := map[string]int64{}
		for _, kv := range sp.Attributes {
			if _, dup := got[kv.Key]; dup {
				t.Fatalf("%d fillers: key %q twice", fillers, kv.Key)
			}
			got[kv.Key] = kv.Value.GetIntValue()
			if kv.Key == "sid" && kv.Value.GetStringValue() != "the-sid" {
				t.Errorf("%d fillers: sid = %v, want the run's", fillers, kv.Value)
			}
		}
		return got, sp.DroppedAttributesCount
	}
	few, fewDropped := span(0)
	many, manyDropped := span(2 * maxScanAttrs)
	for k, v := range few {
		if many[k] != v {
			t.Errorf("%s: %d with a map, %d compared", k, many[k], v)
		}
	}
	if len(many) != len(few)+2*maxScanAttrs || manyDropped != fewDropped || few["input.a"] != 3 || few["input.b"] != 6 || few["output.a"] != 10 || few["x"] != 8 {
		t.Errorf("compared: %v (%d dropped); with a map: %d keys (%d dropped)", few, fewDropped, len(many), manyDropped)
	}

	n := 1 << 20
	if race.Enabled {
		n = 1 << 16 // the race detector's slowdown: the map path still runs
	}
	attrs := make([]Attr, n)
	for i := range attrs {
		attrs[i] = s("k"+strconv.Itoa(i), i)
	}
	r := &Run{TraceID: TraceID{1}, SpanID: SpanID{1}, StartUnixNano: 1, EndUnixNano: 2,
		Nodes: []*Node{{NodeID: "n", SpanID: SpanID{2}, StartUnixNano: 1, EndUnixNano: 2, Attrs: attrs}}}
	if b := NewEncoder(Resource{}).AppendTraces(nil, []*Run{r}); len(b) < n*4 {
		t.Errorf("%d attributes encoded to %d bytes", n, len(b))
	}
}
