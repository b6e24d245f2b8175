package encode_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
)

// This file is the golden test of the run trace log: one workflow run is
// captured by flowtel (engine to encode.AppendRunLog) and written by a
// test-only re-implementation of the original's trace log (its NodeLog,
// WorkflowLog and to_json, with Python's dict, int, float, str() and
// json.dumps), fed the same calls at the same clock readings. The two
// JSON documents are read as the original's consumers read them (Python's
// json.loads: objects in key order, the last of a duplicate key wins,
// numbers with a '.' or an exponent are floats) and compared field by
// field. Every difference must be one of the departures docs/original.md
// documents; each departure here names the heading that documents it.

// goldenWorkflow is the part of a workflow engine's tracing a porter maps
// from the original to flowtel: the run's calls.
type goldenWorkflow interface {
	srv(key, value string)
	answer(s string)
	startNode(nodeID, nodeType, nodeName string) goldenNode
	end(code int, msg string)
}

// goldenNode is a node execution's calls.
type goldenNode interface {
	next(nodeIDs ...string)
	input(key string, v any)
	output(key string, v any)
	config(key string, v any)
	usage(u encode.Usage)
	llmOutput(s string)
	firstFrame()
	firstTokenCost(d time.Duration)
	info(msg string)
	fail(err error)
	end()
}

// goldenScript is the workflow run: a start node, an LLM and a tool in
// parallel (the tool fails and ends first), a code node run twice by a
// loop, a message node streaming the answer, the end node. Node types are
// the DSL's display types, as the original's engine passes them.
func goldenScript(w goldenWorkflow) {
	w.srv("host", "10.0.0.1")
	w.srv("region", "hf")

	start := w.startNode("node-start:1", "基础节点", "开始")
	start.input("AGENT_USER_INPUT", "明天合肥天气怎么样？")
	start.next("spark-llm:1", "plugin:1")
	start.end()

	llm := w.startNode("spark-llm:1", "基础节点", "大模型")
	tool := w.startNode("plugin:1", "工具", "天气")
	llm.config("temperature", 0.5)
	llm.config("max_tokens", int64(2048))
	llm.config("stream", true)
	llm.input("prompt", "今天是周五。明天合肥天气怎么样？")
	tool.input("city", "合肥")
	tool.info("call weather api")
	tool.fail(errors.New("tool failed with 500"))
	llm.firstTokenCost(1204 * time.Millisecond)
	llm.info("llm first token cost: 1.2")
	llm.firstFrame()
	llm.llmOutput("明天合肥小雨，18–24 °C。")
	llm.output("output", "明天合肥小雨，18–24 °C。")
	llm.output("score", 2.0)
	llm.usage(encode.Usage{QuestionTokens: 12, PromptTokens: 340, CompletionTokens: 56, TotalTokens: 408})
	llm.next("code:1")
	llm.end()

	for i := range 2 {
		code := w.startNode("code:1", "代码", "格式化")
		code.input("round", int64(i))
		code.output("ok", true)
		if i == 0 {
			code.next("code:1")
		} else {
			code.next("message:1")
		}
		code.end()
	}

	msg := w.startNode("message:1", "基础节点", "消息")
	msg.firstFrame()
	msg.output("content", "明天小雨，记得带伞")
	msg.info("line\u2028separator")
	msg.next("node-end:1")
	msg.end()

	end := w.startNode("node-end:1", "基础节点", "结束")
	end.output("answer", "明天小雨，记得带伞")
	end.end()

	w.answer("明天小雨，记得带伞")
	w.end(0, "Success")
}

// --- flowtel -------------------------------------------------------------

type flowtelWorkflow struct {
	run   engine.Run
	spans []encode.SpanID // node span ids, in start order
}

// tick waits a little before each clock reading, so that every event
// falls in its own millisecond and the finish order is the script's.
func tick() { time.Sleep(1100 * time.Microsecond) }

func (w *flowtelWorkflow) srv(k, v string) { w.run.Srv(k, v) }
func (w *flowtelWorkflow) answer(s string) { w.run.Answer(s) }
func (w *flowtelWorkflow) end(code int, msg string) {
	tick()
	w.run.End(code, msg)
}

func (w *flowtelWorkflow) startNode(id, typ, name string) goldenNode {
	tick()
	n := w.run.StartNode(id, typ, name)
	w.spans = append(w.spans, n.SpanContext().SpanID)
	return flowtelNode{n}
}

type flowtelNode struct{ n engine.Node }

func flowtelAttr(k string, v any) engine.Attr {
	switch v := v.(type) {
	case string:
		return engine.String(k, v)
	case int64:
		return engine.Int64(k, v)
	case float64:
		return engine.Float64(k, v)
	case bool:
		return engine.Bool(k, v)
	}
	panic(fmt.Sprintf("BUG: value %T", v))
}

func (f flowtelNode) next(ids ...string)             { f.n.Next(ids...) }
func (f flowtelNode) input(k string, v any)          { f.n.Input(flowtelAttr(k, v)) }
func (f flowtelNode) output(k string, v any)         { f.n.Output(flowtelAttr(k, v)) }
func (f flowtelNode) config(k string, v any)         { f.n.Config(flowtelAttr(k, v)) }
func (f flowtelNode) usage(u encode.Usage)           { f.n.Usage(u) }
func (f flowtelNode) llmOutput(s string)             { f.n.LLMOutput(s) }
func (f flowtelNode) firstTokenCost(d time.Duration) { f.n.FirstTokenCost(d) }
func (f flowtelNode) firstFrame()                    { tick(); f.n.FirstFrame() }
func (f flowtelNode) info(msg string)                { tick(); f.n.Info(msg) }
func (f flowtelNode) fail(err error)                 { tick(); f.n.RecordError(err) }
func (f flowtelNode) end()                           { tick(); f.n.End() }

// --- the original, re-implemented ----------------------------------------

// pyInt and pyFloat are Python's int and float, which json.dumps writes
// differently (2 and 2.0).
type (
	pyInt   int64
	pyFloat float64
)

// pyDict is a Python dict: keys in insertion order; setting a key that
// exists replaces its value in place.
type pyDict struct {
	keys []string
	vals map[string]any
}

func newPyDict() *pyDict { return &pyDict{vals: map[string]any{}} }

func (d *pyDict) set(k string, v any) *pyDict {
	if _, ok := d.vals[k]; !ok {
		d.keys = append(d.keys, k)
	}
	d.vals[k] = v
	return d
}

// pyFloatRepr is Python's repr of a float: the shortest text that reads
// back, with ".0" on integers, in exponent form below 1e-4 and from 1e16.
func pyFloatRepr(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	mant, exp, _ := strings.Cut(strconv.FormatFloat(f, 'e', -1, 64), "e")
	e, _ := strconv.Atoi(exp)
	if e >= -4 && e < 16 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	sign := "+"
	if e < 0 {
		sign, e = "-", -e
	}
	return fmt.Sprintf("%se%s%02d", mant, sign, e)
}

// pyQuote is json.dumps of a str with ensure_ascii=False.
func pyQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if r < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// pyDumps is json.dumps(v, ensure_ascii=False): ", " and ": " separators.
func pyDumps(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		if v {
			return "true"
		}
		return "false"
	case pyInt:
		return strconv.FormatInt(int64(v), 10)
	case pyFloat:
		return pyFloatRepr(float64(v))
	case string:
		return pyQuote(v)
	case *pyDict:
		parts := make([]string, len(v.keys))
		for i, k := range v.keys {
			parts[i] = pyQuote(k) + ": " + pyDumps(v.vals[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = pyDumps(x)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	panic(fmt.Sprintf("BUG: pyDumps of %T", v))
}

// pyStr is Python's str() of a scalar.
func pyStr(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		if v {
			return "True"
		}
		return "False"
	case pyInt:
		return strconv.FormatInt(int64(v), 10)
	case pyFloat:
		return pyFloatRepr(float64(v))
	case string:
		return v
	}
	panic(fmt.Sprintf("BUG: pyStr of %T", v))
}

// pyValue converts a script value to Python's.
func pyValue(v any) any {
	switch v := v.(type) {
	case int64:
		return pyInt(v)
	case float64:
		return pyFloat(v)
	}
	return v
}

// origNodeLog is the original's NodeLog.
type origNodeLog struct {
	id, sid, nodeID, nodeType, nodeName string
	nextLogIDs                          []string // a set
	startTime, endTime, duration        pyInt
	firstFrameDuration                  any // int, -1 when none
	nodeFirstCostTime                   any // int -1 (the unvalidated default) or a float
	llmOutput                           string
	runningStatus                       bool
	input, output, config               *pyDict
	usage                               *pyDict
	logs                                []string
}

func newOrigNodeLog(id, sid, nodeID, nodeType, nodeName string) *origNodeLog {
	u := newPyDict().set("question_tokens", pyInt(0)).set("prompt_tokens", pyInt(0)).
		set("completion_tokens", pyInt(0)).set("total_tokens", pyInt(0))
	return &origNodeLog{id: id, sid: sid, nodeID: nodeID, nodeType: nodeType, nodeName: nodeName,
		firstFrameDuration: pyInt(-1), nodeFirstCostTime: pyInt(-1), runningStatus: true,
		input: newPyDict(), output: newPyDict(), config: newPyDict(), usage: u}
}

// setNextNodeID is set_next_node_id: a set add.
func (n *origNodeLog) setNextNodeID(id string) {
	if !slices.Contains(n.nextLogIDs, id) {
		n.nextLogIDs = append(n.nextLogIDs, id)
	}
}

func (n *origNodeLog) setStart(nowMs int64) { n.startTime = pyInt(nowMs) }
func (n *origNodeLog) setEnd(nowMs int64) {
	n.endTime = pyInt(nowMs)
	n.duration = n.endTime - n.startTime
}
func (n *origNodeLog) setFirstFrameDuration(nowMs int64) {
	n.firstFrameDuration = pyInt(nowMs) - n.startTime
}
func (n *origNodeLog) setNodeFirstCostTime(cost float64) { n.nodeFirstCostTime = pyFloat(cost) }

// appendInputData and appendOutputData store a non-str value as its
// json.dumps text.
func (n *origNodeLog) appendInputData(k string, v any) {
	if _, ok := v.(string); !ok {
		v = pyDumps(v)
	}
	n.input.set(k, v)
}

func (n *origNodeLog) appendOutputData(k string, v any) {
	if _, ok := v.(string); !ok {
		v = pyDumps(v)
	}
	n.output.set(k, v)
}

// appendConfigData stores str() of each value (value_to_str).
func (n *origNodeLog) appendConfigData(d *pyDict) {
	for _, k := range d.keys {
		n.config.set(k, pyStr(d.vals[k]))
	}
}

func (n *origNodeLog) appendUsageData(u encode.Usage) {
	n.usage.set("total_tokens", pyInt(u.TotalTokens)).set("question_tokens", pyInt(u.QuestionTokens)).
		set("prompt_tokens", pyInt(u.PromptTokens)).set("completion_tokens", pyInt(u.CompletionTokens))
}

// addLog is _add_log: the json.dumps text of the entry, the time as
// time.strftime("%Y-%m-%d %H:%M:%S", time.localtime()).
func (n *origNodeLog) addLog(level, content string, now time.Time) {
	entry := newPyDict().set("level", level).set("message", content).
		set("time", now.Local().Format("2006-01-02 15:04:05"))
	n.logs = append(n.logs, pyDumps(entry))
}

// dump is model_dump(mode="json") of the NodeLog.
func (n *origNodeLog) dump() *pyDict {
	next := make([]any, len(n.nextLogIDs))
	for i, id := range n.nextLogIDs {
		next[i] = id
	}
	logs := make([]any, len(n.logs))
	for i, l := range n.logs {
		logs[i] = l
	}
	data := newPyDict().set("input", n.input).set("output", n.output).set("config", n.config).set("usage", n.usage)
	return newPyDict().set("id", n.id).set("sid", n.sid).
		set("node_id", n.nodeID).set("node_type", n.nodeType).set("node_name", n.nodeName).
		set("func_id", n.nodeID).set("func_type", n.nodeType).set("func_name", n.nodeName).
		set("next_log_ids", next).set("start_time", n.startTime).set("end_time", n.endTime).
		set("duration", n.duration).set("first_frame_duration", n.firstFrameDuration).
		set("node_first_cost_time", n.nodeFirstCostTime).set("llm_output", n.llmOutput).
		set("running_status", n.runningStatus).set("data", data).set("logs", logs)
}

// origWorkflowLog is the original's WorkflowLog (a NodeTraceLog).
type origWorkflowLog struct {
	serviceID, flowID, sid, appID, uid, botID, chatID, sub, caller, logCaller string
	question, answer                                                          string
	startTime, endTime, duration                                              pyInt
	firstFrameDuration                                                        any // float -1.0 until set
	srv, srvTag                                                               *pyDict
	code                                                                      pyInt
	message                                                                   string
	usage                                                                     encode.Usage
	trace                                                                     []*origNodeLog
}

func (w *origWorkflowLog) addSrv(k, v string) {
	w.srv.set(k, v)
	w.srvTag.set(k, v)
}

// addNodeLog is WorkflowLog.add_node_log: the first message or node-end
// node by node id prefix sets the first frame, once.
func (w *origWorkflowLog) addNodeLog(nodes ...*origNodeLog) {
	if len(nodes) == 0 {
		return
	}
	if ff, ok := w.firstFrameDuration.(pyFloat); ok && ff == -1 {
		for _, n := range nodes {
			if typ := strings.Split(n.nodeID, ":")[0]; typ == "message" || typ == "node-end" {
				w.firstFrameDuration = n.startTime - w.startTime
				break
			}
		}
	}
	w.trace = append(w.trace, nodes...)
}

func (w *origWorkflowLog) setStatus(code int, msg string) { w.code, w.message = pyInt(code), msg }

// setEnd is set_end: the end time and the sum of the nodes' usage.
func (w *origWorkflowLog) setEnd(nowMs int64) {
	w.endTime = pyInt(nowMs)
	w.duration = w.endTime - w.startTime
	for _, n := range w.trace {
		w.usage.TotalTokens += int64(n.usage.vals["total_tokens"].(pyInt))
		w.usage.PromptTokens += int64(n.usage.vals["prompt_tokens"].(pyInt))
		w.usage.QuestionTokens += int64(n.usage.vals["question_tokens"].(pyInt))
		w.usage.CompletionTokens += int64(n.usage.vals["completion_tokens"].(pyInt))
	}
}

// toJSON is to_json without a large field service: model_dump, then
// process_data (a non-str value deeper than 4 levels becomes its
// json.dumps text), then json.dumps.
func (w *origWorkflowLog) toJSON() string {
	trace := make([]any, len(w.trace))
	for i, n := range w.trace {
		trace[i] = n.dump()
	}
	usage := newPyDict().set("question_tokens", pyInt(w.usage.QuestionTokens)).set("prompt_tokens", pyInt(w.usage.PromptTokens)).
		set("completion_tokens", pyInt(w.usage.CompletionTokens)).set("total_tokens", pyInt(w.usage.TotalTokens))
	root := newPyDict().set("service_id", w.serviceID).set("flow_id", w.flowID).set("sid", w.sid).
		set("app_id", w.appID).set("uid", w.uid).set("bot_id", w.botID).set("chat_id", w.chatID).
		set("sub", w.sub).set("caller", w.caller).set("log_caller", w.logCaller).
		set("question", w.question).set("answer", w.answer).
		set("start_time", w.startTime).set("end_time", w.endTime).set("duration", w.duration).
		set("first_frame_duration", w.firstFrameDuration).set("srv", w.srv).set("srv_tag", w.srvTag).
		set("status", newPyDict().set("code", w.code).set("message", w.message)).
		set("usage", usage).set("version", "v2.0.0").set("trace", trace)
	var process func(v any, depth int) any
	process = func(v any, depth int) any {
		if _, isStr := v.(string); depth > 4 && !isStr {
			return pyDumps(v)
		}
		switch v := v.(type) {
		case *pyDict:
			d := newPyDict()
			for _, k := range v.keys {
				d.set(k, process(v.vals[k], depth+1))
			}
			return d
		case []any:
			l := make([]any, len(v))
			for i, x := range v {
				l[i] = process(x, depth+1)
			}
			return l
		}
		return v
	}
	return pyDumps(process(root, 0))
}

// origWorkflow drives the original's classes with the clock readings
// flowtel took for the same calls.
type origWorkflow struct {
	log     *origWorkflowLog
	run     encode.Run
	spans   []encode.SpanID
	started int
	waiting []origWait // next node ids not yet started
}

type origWait struct {
	from   *origNodeLog
	nodeID string
}

// ms is the original's int(time.time() * 1000) for a clock reading of ns.
// It divides in integers: time.time()'s float64 rounds to ~256 ns at this
// magnitude, so modelling it through a float moved a reading within that
// of a millisecond boundary into the next millisecond and failed the
// comparison about once in 4,000 timestamps. That rounding is when the
// clock was read, not what the original does with the reading.
func ms(ns int64) int64 { return ns / int64(time.Millisecond) }

func newOrigWorkflow(run encode.Run, spans []encode.SpanID, info engine.RunInfo) *origWorkflow {
	serviceID := info.FlowID
	if info.Sub == "SparkAgent" {
		serviceID = info.BotID
	}
	return &origWorkflow{run: run, spans: spans, log: &origWorkflowLog{
		serviceID: serviceID, flowID: info.FlowID, sid: info.SID, appID: info.AppID, uid: info.UID,
		botID: info.BotID, chatID: info.ChatID, sub: info.Sub, caller: info.Caller, logCaller: info.LogCaller,
		question: info.Question, startTime: pyInt(ms(run.StartUnixNano)), firstFrameDuration: pyFloat(-1),
		srv: newPyDict(), srvTag: newPyDict(),
	}}
}

func (w *origWorkflow) srv(k, v string) { w.log.addSrv(k, v) }
func (w *origWorkflow) answer(s string) { w.log.answer = s }
func (w *origWorkflow) end(code int, msg string) {
	w.log.setStatus(code, msg)
	w.log.setEnd(ms(w.run.EndUnixNano))
}

// startNode makes the NodeLog of the execution flowtel started as the
// same call, with flowtel's id (the original's is a random uuid4 hex),
// and adds its id to the nodes waiting for this node id.
func (w *origWorkflow) startNode(nodeID, nodeType, nodeName string) goldenNode {
	span := w.spans[w.started]
	w.started++
	var cap *encode.Node
	for _, n := range w.run.Nodes {
		if n.SpanID == span {
			cap = n
		}
	}
	id := fmt.Sprintf("%x%x", w.run.TraceID[:8], span[:])
	n := newOrigNodeLog(id, w.log.sid, nodeID, nodeType, nodeName)
	n.setStart(ms(cap.StartUnixNano))
	w.waiting = slices.DeleteFunc(w.waiting, func(x origWait) bool {
		if x.nodeID == nodeID {
			x.from.setNextNodeID(id)
			return true
		}
		return false
	})
	return &origNode{w: w, n: n, cap: cap}
}

type origNode struct {
	w    *origWorkflow
	n    *origNodeLog
	cap  *encode.Node // flowtel's record of the same execution, for its clock readings
	logs int
}

func (o *origNode) next(ids ...string) {
	for _, id := range ids {
		o.w.waiting = append(o.w.waiting, origWait{o.n, id})
	}
}
func (o *origNode) input(k string, v any)  { o.n.appendInputData(k, pyValue(v)) }
func (o *origNode) output(k string, v any) { o.n.appendOutputData(k, pyValue(v)) }
func (o *origNode) config(k string, v any) { o.n.appendConfigData(newPyDict().set(k, pyValue(v))) }
func (o *origNode) usage(u encode.Usage)   { o.n.appendUsageData(u) }
func (o *origNode) llmOutput(s string)     { o.n.llmOutput = s }
func (o *origNode) firstFrame()            { o.n.setFirstFrameDuration(ms(o.cap.FirstFrameUnixNano)) }

// firstTokenCost is what the original's LLM client passes:
// round(time.time() - start_time, 2).
func (o *origNode) firstTokenCost(d time.Duration) {
	o.n.setNodeFirstCostTime(math.Round(d.Seconds()*100) / 100)
}

func (o *origNode) logTime() time.Time {
	t := time.Unix(0, o.cap.Events[o.logs].TimeUnixNano)
	o.logs++
	return t
}
func (o *origNode) info(msg string) { o.n.addLog("INFO", msg, o.logTime()) }

// fail is the original's exception path: error log of str(e), running
// status false, end.
func (o *origNode) fail(err error) {
	o.n.addLog("ERROR", err.Error(), o.logTime())
	o.n.runningStatus = false
	o.end()
}

func (o *origNode) end() {
	o.n.setEnd(ms(o.cap.EndUnixNano))
	o.w.log.addNodeLog(o.n)
}

// --- reading and comparing -----------------------------------------------

// pyLoads reads JSON text as Python's json.loads does.
func pyLoads(t *testing.T, text []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(text))
	d.UseNumber()
	var read func() any
	read = func() any {
		tok, err := d.Token()
		if err != nil {
			t.Fatalf("read %s: %v", text, err)
		}
		switch tok := tok.(type) {
		case json.Delim:
			switch tok {
			case '{':
				o := newPyDict()
				for d.More() {
					k, err := d.Token()
					if err != nil {
						t.Fatal(err)
					}
					o.set(k.(string), read())
				}
				d.Token()
				return o
			case '[':
				l := []any{}
				for d.More() {
					l = append(l, read())
				}
				d.Token()
				return l
			}
		case json.Number:
			if strings.ContainsAny(tok.String(), ".eE") {
				f, _ := tok.Float64()
				return pyFloat(f)
			}
			i, _ := tok.Int64()
			return pyInt(i)
		case float64:
			return pyFloat(tok)
		}
		return tokOrNil(tok)
	}
	return read()
}

func tokOrNil(tok json.Token) any {
	if tok == nil {
		return nil
	}
	return tok
}

// goldenDiff is one field where flowtel's log differs from the original's.
type goldenDiff struct {
	path          string
	flowtel, orig any
}

// goldenCompare walks both documents and returns every difference.
// next_log_ids is a set in the original (its order is Python's hash
// order): it is compared as one.
func goldenCompare(path string, got, want any) []goldenDiff {
	switch w := want.(type) {
	case *pyDict:
		g, ok := got.(*pyDict)
		if !ok {
			return []goldenDiff{{path, got, want}}
		}
		var diffs []goldenDiff
		if !slices.Equal(g.keys, w.keys) {
			diffs = append(diffs, goldenDiff{path + " (keys)", g.keys, w.keys})
		}
		for _, k := range w.keys {
			if gv, ok := g.vals[k]; ok {
				diffs = append(diffs, goldenCompare(path+"."+k, gv, w.vals[k])...)
			}
		}
		return diffs
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []goldenDiff{{path, got, want}}
		}
		if strings.HasSuffix(path, ".next_log_ids") {
			gs, ws := fmt.Sprint(g), fmt.Sprint(w)
			slices.SortFunc(g, func(a, b any) int { return strings.Compare(a.(string), b.(string)) })
			slices.SortFunc(w, func(a, b any) int { return strings.Compare(a.(string), b.(string)) })
			if !reflect.DeepEqual(g, w) {
				return []goldenDiff{{path, gs, ws}}
			}
			return nil
		}
		var diffs []goldenDiff
		for i := range w {
			diffs = append(diffs, goldenCompare(fmt.Sprintf("%s[%d]", path, i), g[i], w[i])...)
		}
		return diffs
	}
	if !reflect.DeepEqual(got, want) {
		return []goldenDiff{{path, got, want}}
	}
	return nil
}

// goldenDeparture is a documented departure: the heading of
// docs/original.md that documents it, and whether a difference is it.
type goldenDeparture struct {
	heading string
	is      func(d goldenDiff) bool
}

// goldenDepartures are the departures a run can show.
var goldenDepartures = []goldenDeparture{
	{"Typed values in data", func(d goldenDiff) bool {
		// The original stores input and output values as their
		// json.dumps text, config values as their str(), and to_json
		// turns the node usage counts (5 levels deep) into their text;
		// flowtel keeps the values typed.
		s, ok := d.orig.(string)
		if !ok || !goldenDataPath(d.path) {
			return false
		}
		if strings.Contains(d.path, ".data.config.") {
			return s == pyStr(d.flowtel)
		}
		return s == pyDumps(d.flowtel)
	}},
	{"U+2028 and U+2029 escaped", func(d goldenDiff) bool {
		g, ok1 := d.flowtel.(string)
		w, ok2 := d.orig.(string)
		unescape := strings.NewReplacer(`\u2028`, "\u2028", `\u2029`, "\u2029")
		return ok1 && ok2 && g != w && unescape.Replace(g) == w
	}},
}

// goldenDataPath reports whether path is a value of a node's data maps.
func goldenDataPath(path string) bool {
	for _, m := range []string{".data.input.", ".data.output.", ".data.config.", ".data.usage."} {
		if strings.Contains(path, m) {
			return true
		}
	}
	return false
}

func TestRunLogGoldenOriginal(t *testing.T) {
	sink := &engine.MemorySink{}
	e, err := engine.New(engine.WithSink(sink), engine.WithBatch(64, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	info := engine.RunInfo{
		SID: "spf00390001@hf17e12ef9c00a4bb202", FlowID: "7263485716151312384", BotID: "bot-9", Sub: "spf",
		AppID: "a1b2c3d4", UID: "user-42", ChatID: "chat-7f3a", Caller: "workflow", LogCaller: "sparkflow",
		Question: "明天合肥天气怎么样？",
	}
	fw := &flowtelWorkflow{run: e.StartRun(info)}
	goldenScript(fw)
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	runs := sink.Runs()
	if len(runs) != 1 {
		t.Fatalf("%d runs", len(runs))
	}
	got := encode.AppendRunLog(nil, &runs[0])

	ow := newOrigWorkflow(runs[0], fw.spans, info)
	goldenScript(ow)
	want := ow.log.toJSON()
	if !utf8.ValidString(want) || !json.Valid([]byte(want)) {
		t.Fatalf("the original's JSON is not valid: %s", want)
	}

	doc, err := os.ReadFile("../docs/original.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, d := range goldenCompare("$", pyLoads(t, got), pyLoads(t, []byte(want))) {
		i := slices.IndexFunc(goldenDepartures, func(dep goldenDeparture) bool { return dep.is(d) })
		if i < 0 {
			t.Errorf("%s: flowtel %#v, the original %#v: not a documented departure", d.path, d.flowtel, d.orig)
			continue
		}
		seen[goldenDepartures[i].heading]++
	}
	for _, dep := range goldenDepartures {
		if !bytes.Contains(doc, []byte("### "+dep.heading)) {
			t.Errorf("docs/original.md has no heading %q", "### "+dep.heading)
		}
		t.Logf("departure %q: %d fields", dep.heading, seen[dep.heading])
	}
	if t.Failed() {
		t.Logf("flowtel:      %s", got)
		t.Logf("the original: %s", want)
	}
}
