package encode_test

import (
	"strings"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/otlpref"
)

// TestNodeNamesLengths checks node_id, node_type and node_name of every
// length around the one-go writer's word stores and its limit (4, 8 and
// 16 bytes), in ASCII and with a byte from 0x80, valid or not, each in
// turn beside usual ones: decoded with the official decoder, each span
// is the reference's, as long as the official encoder makes it, and the
// repaired strings are counted as the reference counts them.
func TestNodeNamesLengths(t *testing.T) {
	e := encode.NewEncoder(encode.Resource{ServiceName: "s"})
	rb := &otlpref.Builder{}
	res := rb.Resource(encode.Resource{ServiceName: "s"})
	rb.Invalid = 0
	for n := range 19 {
		for _, high := range []string{"", "é", "\xff"} {
			s := strings.Repeat("abcdefghij", 2)[:n]
			if high != "" && n > 0 {
				s = s[:n/2] + high + s[n/2:]
			}
			for field := range 3 {
				names := [3]string{"llm:4f1c2a9e", "llm", "LLM 1"}
				names[field] = s
				run := &encode.Run{TraceID: encode.TraceID{1}, SpanID: encode.SpanID{1}, FlowID: "f", Nodes: []*encode.Node{
					{SpanID: encode.SpanID{2}, NodeID: names[0], NodeType: names[1], NodeName: names[2]},
					{SpanID: encode.SpanID{3}, NodeID: "tool:1", NodeType: "tool", NodeName: "Tool 2"},
				}}
				runs := []*encode.Run{run}
				before := e.Stats()
				rb.Invalid = 0
				want := rb.Traces(res, runs)
				out := e.AppendTraces(nil, runs)
				otlpCheckBatch(t, uint64(n), field, nil, out, &coltracepb.ExportTraceServiceRequest{}, want,
					before, e.Stats(), rb.Invalid, func(s encode.EncoderStats) uint64 { return s.Spans }, encode.NumSpans(runs))
			}
		}
	}
}
