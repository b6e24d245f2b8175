// Command runlog prints the run trace log one ported workflow run yields:
// the JSON document the original shipped to Kafka, as flowtel writes it,
// for a porter to hold against the consumers of that topic.
//
//	go run ./examples/runlog           # the document, one line
//	go run ./examples/runlog -indent   # indented, to read
//
// The run is docs/porting.md's engine loop: a start node, an LLM node
// that streams and reports usage, and a tool that fails. Nothing is sent
// anywhere: the engine's sink writes the document with
// encode.AppendRunLog, as a sink producing to Kafka would.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
)

func main() {
	indent := flag.Bool("indent", false, "indent the JSON (the original's messages are one line)")
	flag.Parse()
	if err := run(os.Stdout, *indent); err != nil {
		fmt.Fprintln(os.Stderr, "runlog:", err)
		os.Exit(1)
	}
}

// logSink keeps the run trace log of each run it is given.
type logSink struct {
	mu   sync.Mutex
	logs [][]byte
}

func (s *logSink) Export(runs []*encode.Run) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range runs {
		// The document must not point into r after Export returns:
		// AppendRunLog copies what it writes.
		s.logs = append(s.logs, encode.AppendRunLog(nil, r))
	}
	return nil
}
func (s *logSink) ForceFlush(context.Context) error { return nil }
func (s *logSink) Shutdown(context.Context) error   { return nil }

// run traces one workflow run and writes its trace log to w.
func run(w io.Writer, indent bool) error {
	sink := &logSink{}
	e, err := engine.New(engine.WithSink(sink))
	if err != nil {
		return err
	}
	r := e.StartRun(engine.RunInfo{FlowID: "7263485716151312384", Sub: "spf", AppID: "app", UID: "u", ChatID: "c",
		SID: "spf00390001@hf17e12ef9c00a4bb202", Question: "明天合肥天气怎么样？"})
	r.Srv("region", "hf")

	start := r.StartNode("node-start:1", "基础节点", "开始")
	start.Input(engine.String("AGENT_USER_INPUT", "明天合肥天气怎么样？"))
	start.Next("spark-llm:1")
	start.End()

	llm := r.StartNode("spark-llm:1", "基础节点", "大模型")
	llm.Config(engine.String("model", "spark-4"), engine.Float64("temperature", 0.5), engine.Int64("max_tokens", 2048))
	llm.FirstTokenCost(1200 * time.Millisecond)
	llm.FirstFrame()
	llm.Info("llm first token")
	llm.LLMOutput("明天小雨")
	llm.Output(engine.String("output", "明天小雨"))
	llm.Usage(engine.Usage{PromptTokens: 340, CompletionTokens: 56, TotalTokens: 396})
	llm.Next("plugin:1")
	llm.End()

	tool := r.StartNode("plugin:1", "工具", "天气")
	tool.Input(engine.String("city", "合肥"))
	tool.RecordError(errors.New("tool failed with 500"))
	r.End(20001, "tool failed with 500")

	if err := e.Shutdown(context.Background()); err != nil {
		return err
	}
	if len(sink.logs) != 1 {
		return fmt.Errorf("%d run logs, want 1", len(sink.logs))
	}
	doc := sink.logs[0]
	if indent {
		var b bytes.Buffer
		if err := json.Indent(&b, doc, "", "  "); err != nil {
			return err
		}
		doc = b.Bytes()
	}
	_, err = fmt.Fprintf(w, "%s\n", doc)
	return err
}
