package encode_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/testkit"
)

// review11Run is a run whose node repeats a key in its Input and in an
// INFO entry given as data, and carries the GenAI conventions' Attrs:
// the paths this session changed (appendObject's repeated-key bits and
// appendObjectOnce, runlogAppendPyDictOnce, attrsMayRepeat's mask).
func review11Run() *encode.Run {
	str := encode.StringValue
	nd := &encode.Node{SpanID: encode.SpanID{2}, NodeID: "llm_1", NodeType: "llm", NodeName: "chat",
		StartUnixNano: 1e18, EndUnixNano: 1e18 + 5e6,
		Input: []encode.Attr{{Key: "q", Value: str("a")}, {Key: "in1", Value: str("b")}, {Key: "q", Value: str("c")}},
		Attrs: []encode.Attr{{Key: "gen_ai.operation.name", Value: str("chat")}, {Key: "gen_ai.request.model", Value: str("m")},
			{Key: "gen_ai.provider.name", Value: str("p")}},
		Events: []encode.Event{{Kind: encode.EventInfo, TimeUnixNano: 1e18 + 1e6,
			Attrs: []encode.Attr{{Key: "k", Value: str("1")}, {Key: "k", Value: str("2")}}}}}
	return &encode.Run{TraceID: encode.TraceID{1}, SpanID: encode.SpanID{1}, SID: "sid", AppID: "app", FlowID: "flow",
		StartUnixNano: 1e18, EndUnixNano: 1e18 + 6e6, Nodes: []*encode.Node{nd}}
}

// TestReview11Allocs: the run log and the spans of review11Run allocate
// nothing once their buffers have grown, and the run log names q once,
// with its last value.
func TestReview11Allocs(t *testing.T) {
	r := review11Run()
	buf := encode.AppendRunLog(nil, r)
	var log struct {
		Trace []struct {
			Data struct {
				Input json.RawMessage `json:"input"`
			} `json:"data"`
		} `json:"trace"`
	}
	if err := json.Unmarshal(buf, &log); err != nil {
		t.Fatalf("run log: %v\n%s", err, buf)
	}
	if in := string(log.Trace[0].Data.Input); strings.Count(in, `"q"`) != 1 || !strings.Contains(in, `"q":"c"`) {
		t.Errorf("input = %s, want q once, its last value c", in)
	}
	testkit.WantAllocs(t, 0, func() { buf = encode.AppendRunLog(buf[:0], r) })
	e := encode.NewEncoder(encode.Resource{ServiceName: "svc"})
	runs := []*encode.Run{r}
	buf = e.AppendTraces(buf[:0], runs)
	testkit.WantAllocs(t, 0, func() { buf = e.AppendTraces(buf[:0], runs) })
	buf = e.AppendLogs(buf[:0], runs)
	testkit.WantAllocs(t, 0, func() { buf = e.AppendLogs(buf[:0], runs) })
}

// TestReview11PyDictOnce: an INFO entry given as data that repeats a key
// writes it once in its dict text, with its last value.
func TestReview11PyDictOnce(t *testing.T) {
	out := string(encode.AppendRunLog(nil, review11Run()))
	if strings.Count(out, `'k'`) != 1 || !strings.Contains(out, `'k': '2'`) {
		t.Errorf("run log %s: want the dict's k once, its last value 2", out)
	}
}
