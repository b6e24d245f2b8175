package fuzz

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/flowtel/flowtel/encode"
)

// runlogKeys are the run record's fields, in the original's order.
var runlogKeys = []string{"service_id", "flow_id", "sid", "app_id", "uid", "bot_id", "chat_id", "sub",
	"caller", "log_caller", "question", "answer", "start_time", "end_time", "duration", "first_frame_duration",
	"srv", "srv_tag", "status", "usage", "version", "trace"}

// runlogNodeKeys are the node record's fields, in the original's order.
var runlogNodeKeys = []string{"id", "sid", "node_id", "node_type", "node_name", "func_id", "func_type",
	"func_name", "next_log_ids", "start_time", "end_time", "duration", "first_frame_duration",
	"node_first_cost_time", "llm_output", "running_status", "data", "logs"}

// runlogObjectKeys returns the member names of the JSON object b, in order.
func runlogObjectKeys(t *testing.T, b []byte) []string {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %v %v", tok, err)
	}
	var keys []string
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// runlogMillis is the run log's epoch milliseconds: the floor of ns / 1e6.
func runlogMillis(ns int64) int64 {
	ms := ns / 1e6
	if ns%1e6 != 0 && ns < 0 {
		ms--
	}
	return ms
}

// runlogDecode decodes b into a map with numbers as json.Number.
func runlogDecode(t *testing.T, b []byte, v any) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		t.Fatalf("decode: %v\n%s", err, b)
	}
}

// FuzzRunLog encodes a run built from the fuzzer's values, with and
// without a (closed, so truncating) Offloader, and checks that the output
// is valid JSON whose decoded fields match the record.
func FuzzRunLog(f *testing.F) {
	f.Add("question", "answer", "spf00390001@hf17e12ef9c00a4bb202", "key", int64(42), 0.5, true, []byte{0, 1, 2}, int64(1_700_000_000_000_000_000), int64(1_500_000_000))
	f.Add("", "", "", "", int64(-1), math.NaN(), false, []byte(nil), int64(0), int64(0))
	f.Add("\xff\xfe\u2028\"\\\n", "世界😀", "SparkAgent", "k\x00", int64(math.MinInt64), math.Inf(1), true, []byte("\xff"), int64(-5), int64(math.MaxInt64))
	f.Add(strings.Repeat("é", 100), strings.Repeat("a\x01", 70), "s", "dup", int64(1), 1e21, false, []byte("x"), int64(123456789), int64(987654321))
	// The caller's key repeats the input's "i" and the srv's "n".
	f.Add("q", "a", "s", "i", int64(7), 2.5, true, []byte("x"), int64(1_700_000_000_000_000_000), int64(1e9))
	f.Add("q", "a", "s", "n", int64(7), 2.5, true, []byte("x"), int64(1_700_000_000_000_000_000), int64(1e9))

	const threshold = 64
	closed := encode.NewOffloader(discardStore{}, encode.OffloadConfig{Threshold: threshold})
	if err := closed.Close(context.Background()); err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, s1, s2, s3, key string, i int64, fl float64, b bool, raw []byte, t0, d int64) {
		sub := "spf"
		if b {
			sub = "SparkAgent"
		}
		n := &encode.Node{
			SpanID: encode.SpanID{1, 2, 3, 4, 5, 6, 7, 8}, NodeID: s3, NodeType: "llm", NodeName: s1,
			Next:          []string{s2, s3},
			StartUnixNano: t0, EndUnixNano: t0 + d, FirstFrameUnixNano: t0 + d/2,
			LLMOutput: s2,
			Input: []encode.Attr{{Key: key, Value: encode.StringValue(s1)}, {Key: "i", Value: encode.Int64Value(i)},
				{Key: "f", Value: encode.Float64Value(fl)}, {Key: "b", Value: encode.BoolValue(b)},
				{Key: "raw", Value: encode.BytesValue(raw)}},
			Output: []encode.Attr{{Key: key, Value: encode.StringValue(s2)}},
			Usage:  encode.Usage{QuestionTokens: i, TotalTokens: d},
			Events: []encode.Event{
				{TimeUnixNano: t0, Kind: encode.EventInfo, Message: s2},
				{TimeUnixNano: t0 + d, Kind: encode.EventException, Type: s1, Message: s3},
				{TimeUnixNano: t0 + d, Kind: encode.EventError, Attrs: []encode.Attr{{Key: key, Value: encode.StringValue(s1)},
					{Key: s2, Value: encode.Float64Value(fl)}, {Key: "raw", Value: encode.BytesValue(raw)}, {Key: "i", Value: encode.Int64Value(i)}}},
			},
			Status: encode.StatusError, StatusMessage: s1, Incomplete: b,
		}
		r := &encode.Run{
			TraceID: encode.TraceID{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4},
			FlowID:  s1, SID: s3, AppID: s2, BotID: s2, Sub: sub, Question: s1, Answer: s2,
			StartUnixNano: t0, EndUnixNano: t0 + d,
			Srv:  []encode.Attr{{Key: key, Value: encode.StringValue(s3)}, {Key: "n", Value: encode.Int64Value(i)}},
			Code: i, Message: s2, Usage: encode.Usage{PromptTokens: i},
			Nodes: []*encode.Node{n}, Incomplete: !b, StatusMessage: s3,
		}
		for _, opts := range []*encode.RunLogOptions{nil, {Offloader: closed}, {StructuredLogs: true, Location: time.UTC}} {
			out := encode.AppendRunLogOptions(nil, r, opts)
			if !json.Valid(out) {
				t.Fatalf("invalid JSON: %q", out)
			}
			runlogCheck(t, r, out, opts != nil && opts.Offloader != nil, threshold)
		}
	})
}

// runlogCheck decodes out and checks it against r. When truncating, string
// values of threshold bytes or more must be the head of the value followed
// by the truncation marker.
func runlogCheck(t *testing.T, r *encode.Run, out []byte, truncating bool, threshold int) {
	t.Helper()
	if got := runlogObjectKeys(t, out); strings.Join(got, ",") != strings.Join(runlogKeys, ",") {
		t.Fatalf("run keys %v, want %v", got, runlogKeys)
	}
	runlogKeysOnce(t, out)
	var m map[string]any
	runlogDecode(t, out, &m)

	str := func(where string, got any, want string, large bool) {
		t.Helper()
		g, ok := got.(string)
		if !ok {
			t.Fatalf("%s = %#v, want a string", where, got)
		}
		if large && truncating && len(want) >= threshold {
			marker := encode.TruncatedMarker + strconv.Itoa(len(want)) + "]"
			head, ok := strings.CutSuffix(g, marker)
			if !ok || (utf8.ValidString(want) && len(g) > threshold-1) || !strings.HasPrefix(strings.ToValidUTF8(want, "\uFFFD"), strings.TrimSuffix(head, "\uFFFD")) {
				t.Fatalf("%s = %q, want a truncated %q", where, g, want)
			}
			return
		}
		if w := strings.ToValidUTF8(want, "\uFFFD"); g != w {
			t.Fatalf("%s = %q, want %q", where, g, w)
		}
	}
	num := func(where string, got any, want int64) {
		t.Helper()
		n, ok := got.(json.Number)
		if !ok || n.String() != strconv.FormatInt(want, 10) {
			t.Fatalf("%s = %#v, want %d", where, got, want)
		}
	}
	// times checks a record's start_time, end_time and duration (where
	// prefixes their names) and returns its start in milliseconds.
	times := func(where string, m map[string]any, startNano, endNano int64) int64 {
		start, end := runlogMillis(startNano), runlogMillis(endNano)
		num(where+"start_time", m["start_time"], start)
		num(where+"end_time", m["end_time"], end)
		num(where+"duration", m["duration"], end-start)
		return start
	}

	serviceID := r.FlowID
	if r.Sub == "SparkAgent" {
		serviceID = r.BotID
	}
	str("service_id", m["service_id"], serviceID, false)
	str("flow_id", m["flow_id"], r.FlowID, false)
	str("sid", m["sid"], r.SID, false)
	str("question", m["question"], r.Question, true)
	str("answer", m["answer"], r.Answer, true)
	times("", m, r.StartUnixNano, r.EndUnixNano)
	srv := m["srv"].(map[string]any)
	if r.Srv[0].Key != "n" {
		str("srv key", srv[strings.ToValidUTF8(r.Srv[0].Key, "\uFFFD")], r.Srv[0].Value.Str(), false)
	}
	num("srv.n", srv["n"], r.Srv[1].Value.Int64())
	status := m["status"].(map[string]any)
	num("status.code", status["code"], r.Code)
	msg := r.Message
	if msg == "" && r.Incomplete {
		msg = r.StatusMessage
	}
	str("status.message", status["message"], msg, false)
	if _, has := status["incomplete"]; has != r.Incomplete {
		t.Fatalf("status.incomplete present = %v, want %v", has, r.Incomplete)
	}
	num("usage.prompt_tokens", m["usage"].(map[string]any)["prompt_tokens"], r.Usage.PromptTokens)
	if m["version"] != encode.LogVersion {
		t.Fatalf("version = %v", m["version"])
	}

	trace := m["trace"].([]any)
	if len(trace) != len(r.Nodes) {
		t.Fatalf("%d node records, want %d", len(trace), len(r.Nodes))
	}
	for j, n := range r.Nodes {
		nm := trace[j].(map[string]any)
		keys := runlogNodeKeys
		if n.Incomplete {
			keys = append(keys[:len(keys):len(keys)], "status_message", "incomplete")
		}
		if j == 0 { // The order of the first node record's keys, from out.
			start := bytes.Index(out, []byte(`"trace":[`)) + len(`"trace":[`)
			var first json.RawMessage
			if err := json.NewDecoder(bytes.NewReader(out[start:])).Decode(&first); err != nil {
				t.Fatal(err)
			}
			if got := runlogObjectKeys(t, first); strings.Join(got, ",") != strings.Join(keys, ",") {
				t.Fatalf("node keys %v, want %v", got, keys)
			}
		}
		wantID := "deadbeef01020304" + "0102030405060708"
		if nm["id"] != wantID {
			t.Fatalf("node id = %v, want %s", nm["id"], wantID)
		}
		str("node_id", nm["node_id"], n.NodeID, false)
		str("func_id", nm["func_id"], n.NodeID, false)
		str("node_name", nm["node_name"], n.NodeName, false)
		str("llm_output", nm["llm_output"], n.LLMOutput, true)
		ns := times("node ", nm, n.StartUnixNano, n.EndUnixNano)
		if n.FirstFrameUnixNano != 0 {
			num("node first_frame_duration", nm["first_frame_duration"], runlogMillis(n.FirstFrameUnixNano)-ns)
		} else {
			num("node first_frame_duration", nm["first_frame_duration"], -1)
		}
		// The run's one node follows nothing: its next ids name no other
		// execution, and the log holds only resolved log ids.
		if next := nm["next_log_ids"].([]any); len(next) != 0 {
			t.Fatalf("next_log_ids %v, want none", next)
		}
		if nm["running_status"] != n.Running() {
			t.Fatalf("running_status = %v", nm["running_status"])
		}
		data := nm["data"].(map[string]any)
		in := data["input"].(map[string]any)
		num("input.i", in["i"], n.Input[1].Value.Int64())
		if fl := n.Input[2].Value.Float64(); math.IsNaN(fl) || math.IsInf(fl, 0) {
			if in["f"] != nil {
				t.Fatalf("input.f = %v, want null", in["f"])
			}
		} else if g, err := in["f"].(json.Number).Float64(); err != nil || g != fl {
			t.Fatalf("input.f = %v, want %v", in["f"], fl)
		}
		if in["b"] != n.Input[3].Value.Bool() {
			t.Fatalf("input.b = %v", in["b"])
		}
		if g, err := base64.StdEncoding.DecodeString(in["raw"].(string)); err != nil || !bytes.Equal(g, n.Input[4].Value.Bytes()) {
			t.Fatalf("input.raw = %v, want base64 of %q", in["raw"], n.Input[4].Value.Bytes())
		}
		if k := strings.ToValidUTF8(n.Input[0].Key, "\uFFFD"); k != "i" && k != "f" && k != "b" && k != "raw" {
			str("input[key]", in[k], n.Input[0].Value.Str(), true)
		}
		logs := nm["logs"].([]any)
		if len(logs) != len(n.Events) {
			t.Fatalf("%d logs, want %d", len(logs), len(n.Events))
		}
		l0, l1 := runlogEntry(t, logs[0]), runlogEntry(t, logs[1])
		if l0["level"] != "INFO" || l1["level"] != "ERROR" {
			t.Fatalf("levels %v %v", l0["level"], l1["level"])
		}
		str("logs[0].message", l0["message"], n.Events[0].Message, true)
		// An exception's log message is the error's text alone.
		str("logs[1].message", l1["message"], n.Events[1].Message, true)
		// An event given as data: Python's str() of a dict, one line, a
		// log message (offloaded, here truncated, when large).
		l2 := runlogEntry(t, logs[2])
		m2 := l2["message"].(string)
		if head, _, ok := strings.Cut(m2, encode.TruncatedMarker); ok && truncating {
			m2 = head + "}"
		}
		if l2["level"] != "ERROR" || !strings.HasPrefix(m2, "{") || !strings.HasSuffix(m2, "}") || strings.ContainsAny(m2, "\n\r") {
			t.Fatalf("logs[2] = %v, want an ERROR entry holding a dict's text", l2)
		}
		if _, has := nm["incomplete"]; has != n.Incomplete {
			t.Fatalf("node incomplete present = %v, want %v", has, n.Incomplete)
		}
	}
}

// runlogKeysOnce fails when an object of the JSON b holds a key twice
// (data.input, output and config keep each key once, as the original's
// dicts).
func runlogKeysOnce(t *testing.T, b []byte) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	type level struct {
		keys  map[string]bool
		isKey bool // the next token of this object is a key
	}
	var stack []*level
	for {
		tok, err := d.Token()
		if err != nil {
			return // the end; json.Valid checked the rest
		}
		var top *level
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if k, ok := tok.(string); ok && top != nil && top.keys != nil && top.isKey {
			if top.keys[k] {
				t.Fatalf("key %q twice in an object of %s", k, b)
			}
			top.keys[k] = true
			top.isKey = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &level{keys: map[string]bool{}, isKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, &level{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value ended: the parent object's next token is a key.
		if len(stack) > 0 && stack[len(stack)-1].keys != nil {
			stack[len(stack)-1].isKey = true
		}
	}
}

// runlogEntry decodes a logs entry: the original's JSON string of
// {"level","message","time"} (time text "2006-01-02 15:04:05"), or the
// structured object.
func runlogEntry(t *testing.T, v any) map[string]any {
	t.Helper()
	if m, ok := v.(map[string]any); ok {
		return m
	}
	text, ok := v.(string)
	if !ok {
		t.Fatalf("logs entry %#v is neither a string nor an object", v)
	}
	if !strings.HasPrefix(text, `{"level": "`) {
		t.Fatalf("logs entry %q is not in the original's shape", text)
	}
	var m map[string]any
	runlogDecode(t, []byte(text), &m)
	tm, _ := m["time"].(string)
	if _, err := time.Parse(time.DateTime, tm); err != nil && !strings.HasPrefix(tm, "-") && len(tm) == len(time.DateTime) {
		t.Fatalf("logs entry time %q: %v", tm, err)
	}
	return m
}

type discardStore struct{}

func (discardStore) Link(string) string                        { return "discard" }
func (discardStore) Put(context.Context, string, []byte) error { return nil }
