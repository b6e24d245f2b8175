package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestBottleneckToolCallsApart runs LLM and tool nodes through the real
// embedded receiver and reads the report's bottleneck table: an LLM
// node's tool call (StartChild) is ranked as "tool-call", one for each
// LLM node, apart from the workflow's "tool" nodes. The calls had the
// tool nodes' type, and the "tool" row held both (no "tool-call" row).
func TestBottleneckToolCallsApart(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"-workload=synthetic", "-mix=llm=1,tool=1", "-shape=chain", "-duration=300ms", "-rate=500",
		"-json", "-progress=false"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errb.String())
	}
	var rep struct {
		Reconciled  bool            `json:"reconciled"`
		Bottlenecks []bottleneckRow `json:"node_bottlenecks"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, out.String())
	}
	if !rep.Reconciled {
		t.Fatal("the run does not reconcile")
	}
	rows := map[string]bottleneckRow{}
	for _, r := range rep.Bottlenecks {
		rows[r.NodeType] = r
	}
	llm, tool, call := rows["llm"], rows["tool"], rows[toolCallType]
	if llm.Count == 0 || tool.Count == 0 || call.Count != llm.Count || call.ErrorRate != 0 {
		t.Errorf("llm %d, tool %d, %s %d (error rate %v): want a call for each LLM node, apart from the tool nodes, none failed",
			llm.Count, tool.Count, toolCallType, call.Count, call.ErrorRate)
	}
	var text bytes.Buffer
	writeBottlenecks(&text, rep.Bottlenecks)
	if !strings.Contains(text.String(), " "+toolCallType+" ") {
		t.Errorf("the text table has no %s row:\n%s", toolCallType, text.String())
	}
}
