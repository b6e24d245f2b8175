package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestRun checks that the example prints one JSON document with the
// original's fields, its failed tool node and its summed usage.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out, true); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		SID    string `json:"sid"`
		Status struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"status"`
		Usage struct {
			TotalTokens int `json:"total_tokens"`
		} `json:"usage"`
		Version string `json:"version"`
		Trace   []struct {
			NodeID        string   `json:"node_id"`
			RunningStatus bool     `json:"running_status"`
			NextLogIDs    []string `json:"next_log_ids"`
			Logs          []string `json:"logs"`
		} `json:"trace"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.Bytes())
	}
	if doc.SID != "spf00390001@hf17e12ef9c00a4bb202" || doc.Status.Code != 20001 || doc.Usage.TotalTokens != 396 ||
		doc.Version != "v2.0.0" || len(doc.Trace) != 3 {
		t.Fatalf("document: %+v", doc)
	}
	if tool := doc.Trace[2]; tool.NodeID != "plugin:1" || tool.RunningStatus || len(tool.Logs) != 1 {
		t.Errorf("tool node: %+v", tool)
	}
	if llm := doc.Trace[1]; len(llm.NextLogIDs) != 1 || !llm.RunningStatus {
		t.Errorf("llm node: %+v", llm)
	}
}
