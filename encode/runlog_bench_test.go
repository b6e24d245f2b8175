package encode

import (
	"strconv"
	"strings"
	"testing"
)

// runlogLoadgenRun is a run shaped like cmd/loadgen's default workload:
// 8 nodes with 8 string attributes each (4 input, 2 output, 2 config),
// a 256-byte LLM output or tool result on some, usage and a log entry.
func runlogLoadgenRun() *Run {
	const t0 = workflowT0
	const text = "The quick brown fox consults the knowledge base and answers in streaming tokens. "
	payload := strings.Repeat(text, 4)[:256]
	vals := []string{"gpt-4o", "0.7", "zh-CN", "retrieval", "https://kb.internal/doc/42", "user question", "json", "42"}
	r := newWorkflowRun(runIdentity{FlowID: "flow-7b1c", AppID: "app-42", UID: "user-1001", BotID: "bot-3", ChatID: "chat-9", LogCaller: "chat"},
		"Summarise the quarterly report and list the three largest risks.",
		"Here is the summary you asked for.")
	r.Usage = Usage{150, 900, 300, 1200}
	types := []string{"start", "llm", "plugin", "code", "knowledge", "llm", "message", "end"}
	for i, typ := range types {
		id := typ + "::" + strconv.Itoa(1000+i)
		n := &Node{
			SpanID: SpanID{byte(i), 2, 3, 4, 5, 6, 7, 8}, NodeID: id, NodeType: typ, NodeName: "Node " + id,
			StartUnixNano: t0 + int64(i)*300_000_000, EndUnixNano: t0 + int64(i)*300_000_000 + 250_123_456,
			Usage: Usage{150, 900, 300, 1200}, HasUsage: typ == "llm",
			Status: StatusOK,
		}
		for j := 0; j < 4; j++ {
			n.Input = append(n.Input, Attr{"in" + strconv.Itoa(j), StringValue(vals[j])})
		}
		for j := 0; j < 2; j++ {
			n.Output = append(n.Output, Attr{"out" + strconv.Itoa(j), StringValue(vals[j+3])})
			n.Config = append(n.Config, Attr{"cfg" + strconv.Itoa(j), StringValue(vals[j+5])})
		}
		switch typ {
		case "llm":
			n.FirstFrameUnixNano = n.StartUnixNano + 80_000_000
			n.LLMOutput = payload
		case "plugin":
			n.Output[0] = Attr{"result", StringValue(payload)}
		case "message":
			n.Events = []Event{{TimeUnixNano: n.StartUnixNano + 1_000_000, Kind: EventInfo, Message: "message sent to the user"}}
		}
		if i+1 < len(types) {
			n.Next = []string{types[i+1] + "::" + strconv.Itoa(1001+i)}
		}
		r.Nodes = append(r.Nodes, n)
	}
	return r
}

// BenchmarkRunLogLoadgen writes the run trace log of a loadgen-shaped run,
// alone (json) and as 64 OTLP log records (logs, per run in ns/record).
func BenchmarkRunLogLoadgen(b *testing.B) {
	r := runlogLoadgenRun()
	b.Run("json", func(b *testing.B) {
		buf := AppendRunLog(nil, r)
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			buf = AppendRunLog(buf[:0], r)
		}
	})
	b.Run("json-zh", func(b *testing.B) {
		// The same run with its payloads in Chinese, as a Chinese LLM's.
		zh := *r
		zh.Nodes = nil
		payload := strings.Repeat("大模型根据知识库检索结果，以流式输出回答用户的问题。", 4)
		for _, n := range r.Nodes {
			c := *n
			if c.LLMOutput != "" {
				c.LLMOutput = payload
			}
			c.NodeName = "节点 " + c.NodeID
			zh.Nodes = append(zh.Nodes, &c)
		}
		buf := AppendRunLog(nil, &zh)
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			buf = AppendRunLog(buf[:0], &zh)
		}
	})
	b.Run("logs", func(b *testing.B) {
		runs := make([]*Run, 64)
		for i := range runs {
			runs[i] = r
		}
		benchAppendLogs(b, runs)
	})
}
