package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
)

// dslNode is a node of a workflow DSL, as a workflow engine holds it.
type dslNode struct {
	id, typ, name string
	next          []string
	run           func(n engine.Node, in string) (string, error)
}

// runLogSink writes each finished run's trace log, in the original's
// shape, where the original's Kafka producer sent it (here: a slice).
type runLogSink struct {
	mu   sync.Mutex
	buf  []byte
	logs []string
}

func (s *runLogSink) Export(runs []*encode.Run) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range runs {
		s.buf = encode.AppendRunLog(s.buf[:0], r)
		s.logs = append(s.logs, string(s.buf)) // a real sink hands s.buf to its producer
	}
	return nil
}
func (s *runLogSink) ForceFlush(context.Context) error { return nil }
func (s *runLogSink) Shutdown(context.Context) error   { return nil }

// Example_porting is the engine loop of docs/porting.md: a workflow run
// whose nodes stream, call tools and fail, traced with flowtel's calls
// where the original made its NodeLog, WorkflowLog and span calls.
func Example_porting() {
	sink := &runLogSink{}
	e, err := engine.New(engine.WithSink(sink))
	if err != nil {
		panic(err)
	}

	flow := []dslNode{
		{id: "node-start:1", typ: "基础节点", name: "开始", next: []string{"spark-llm:1"},
			run: func(n engine.Node, in string) (string, error) { return in, nil }},
		{id: "spark-llm:1", typ: "基础节点", name: "大模型", next: []string{"plugin:1"},
			run: func(n engine.Node, in string) (string, error) {
				n.Config(engine.String("model", "spark-4"), engine.Float64("temperature", 0.5))
				start := time.Now()
				var out strings.Builder
				for i, chunk := range []string{"明天", "小雨"} {
					if i == 0 {
						n.FirstTokenCost(time.Since(start)) // set_node_first_cost_time
						n.FirstFrame()                      // set_first_frame_duration
					}
					out.WriteString(chunk)
				}
				n.LLMOutput(out.String())
				n.Usage(engine.Usage{PromptTokens: 340, CompletionTokens: 56, TotalTokens: 396})
				return out.String(), nil
			}},
		{id: "plugin:1", typ: "工具", name: "天气", next: []string{"message:1"},
			run: func(n engine.Node, in string) (string, error) {
				n.Info("call weather api")
				return "", errors.New("tool failed with 500")
			}},
	}

	run := e.StartRun(engine.RunInfo{ // WorkflowLog(...) and the root span
		FlowID: "7263485716151312384", Sub: "spf", AppID: "app", UID: "u", ChatID: "c",
		SID: "spf00390001@hf17e12ef9c00a4bb202", Question: "明天合肥天气怎么样？",
	})
	run.Srv("region", "hf") // add_srv: srv and srv_tag
	in, code, msg := "明天合肥天气怎么样？", 0, "Success"
	for _, d := range flow {
		n := run.StartNode(d.id, d.typ, d.name) // NodeLog + set_start + span run_node:{id}
		n.Input(engine.String("input", in))     // append_input_data
		out, err := d.run(n, in)                // an LLM node calls n.FirstTokenCost and n.FirstFrame
		if err != nil {
			n.RecordError(err) // record_exception, add_error_log(str(e)), running_status false, set_end
			code, msg = 20001, err.Error()
			break
		}
		n.Output(engine.String("output", out)) // append_output_data
		n.Next(d.next...)                      // set_next_node_id, resolved to log ids
		n.End()                                // set_end + add_node_log
		in = out
	}
	run.End(code, msg) // set_status + set_end + the request metrics; the sink gets the run
	if err := e.Shutdown(context.Background()); err != nil {
		panic(err)
	}

	log := sink.logs[0]
	fmt.Println(strings.Contains(log, `"status":{"code":20001,"message":"tool failed with 500"}`))
	fmt.Println(strings.Contains(log, `"srv_tag":{"region":"hf"}`))
	fmt.Println(strings.Contains(log, `\"message\": \"tool failed with 500\"`))
	// Output:
	// true
	// true
	// true
}
