package encode

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/flowtel/flowtel/internal/race"
	"github.com/flowtel/flowtel/internal/testkit"
)

// runlogGoldenRun is a small run with every kind of field set.
func runlogGoldenRun() *Run {
	const t0 = int64(1_700_000_000_000_000_000)
	n1 := &Node{
		SpanID: SpanID{1, 2, 3, 4, 5, 6, 7, 8}, NodeID: "llm:1", NodeType: "llm", NodeName: "LLM",
		Next:          []string{"message:2"},
		StartUnixNano: t0 + 1_000_000, EndUnixNano: t0 + 2_500_000_000,
		FirstFrameUnixNano: t0 + 1_000_000 + 1_234_999_999,
		FirstTokenCostNano: 1_234_999_999, HasFirstTokenCost: true,
		LLMOutput: "hi \"there\"\n",
		Input:     []Attr{{"q", StringValue("hello")}, {"n", Int64Value(-3)}},
		Output:    []Attr{{"f", Float64Value(0.5)}, {"nan", Float64Value(math.NaN())}, {"ok", BoolValue(true)}},
		Config:    []Attr{{"b", BytesValue([]byte{0xff, 0, 1})}, {"e", Value{}}},
		Usage:     Usage{1, 2, 3, 6}, HasUsage: true,
		Events: []Event{
			{TimeUnixNano: t0 + 2_000_000, Kind: EventInfo, Message: "step"},
			{TimeUnixNano: t0 + 3_000_000, Kind: EventException, Type: "ValueError", Message: "bad"},
		},
		Status: StatusError,
	}
	n2 := &Node{
		SpanID: SpanID{9, 9, 9, 9, 9, 9, 9, 9}, NodeID: "message:2", NodeType: "message",
		StartUnixNano: t0 + 3_000_000_000, EndUnixNano: t0 + 3_000_000_000,
		Status: StatusError, StatusMessage: "node not ended", Incomplete: true,
	}
	return &Run{
		TraceID: TraceID{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00, 0x11, 1, 1, 1, 1, 1, 1, 1, 1},
		SpanID:  SpanID{7, 7, 7, 7, 7, 7, 7, 7},
		FlowID:  "flow1", SID: "spf00390001@hf17e12ef9c00a4bb202", AppID: "app", UID: "u",
		BotID: "bot", ChatID: "c", Sub: "spf", Caller: "x", LogCaller: "y",
		Question: "q\u2028", Answer: "a\xff\xfeb",
		StartUnixNano: t0, EndUnixNano: t0 + 4_000_000_000,
		Srv:    []Attr{{"host", StringValue("h")}},
		SrvTag: []Attr{{"dc", StringValue("hf")}},
		Code:   0, Message: "Success",
		Usage: Usage{1, 2, 3, 6},
		Nodes: []*Node{n1, n2},
	}
}

// runlogUTC writes the logs' time text in UTC, so that tests do not
// depend on the host's zone.
var runlogUTC = &RunLogOptions{Location: time.UTC}

func TestRunLogGolden(t *testing.T) {
	got := string(AppendRunLogOptions(nil, runlogGoldenRun(), runlogUTC))
	want := `{"service_id":"flow1","flow_id":"flow1","sid":"spf00390001@hf17e12ef9c00a4bb202",` +
		`"app_id":"app","uid":"u","bot_id":"bot","chat_id":"c","sub":"spf","caller":"x","log_caller":"y",` +
		`"question":"q\u2028","answer":"a` + "\uFFFD" + `b",` +
		`"start_time":1700000000000,"end_time":1700000004000,"duration":4000,"first_frame_duration":3000,` +
		`"srv":{"host":"h"},"srv_tag":{"dc":"hf"},"status":{"code":0,"message":"Success"},` +
		`"usage":{"question_tokens":1,"prompt_tokens":2,"completion_tokens":3,"total_tokens":6},` +
		`"version":"v2.0.0","trace":[` +
		`{"id":"aabbccddeeff00110102030405060708","sid":"spf00390001@hf17e12ef9c00a4bb202",` +
		`"node_id":"llm:1","node_type":"llm","node_name":"LLM","func_id":"llm:1","func_type":"llm","func_name":"LLM",` +
		`"next_log_ids":["aabbccddeeff00110909090909090909"],"start_time":1700000000001,"end_time":1700000002500,"duration":2499,` +
		`"first_frame_duration":1234,"node_first_cost_time":1.23,"llm_output":"hi \"there\"\n","running_status":false,` +
		`"data":{"input":{"q":"hello","n":-3},"output":{"f":0.5,"nan":null,"ok":true},"config":{"b":"/wAB","e":null},` +
		`"usage":{"question_tokens":1,"prompt_tokens":2,"completion_tokens":3,"total_tokens":6}},` +
		`"logs":["{\"level\": \"INFO\", \"message\": \"step\", \"time\": \"2023-11-14 22:13:20\"}",` +
		`"{\"level\": \"ERROR\", \"message\": \"bad\", \"time\": \"2023-11-14 22:13:20\"}"]},` +
		`{"id":"aabbccddeeff00110909090909090909","sid":"spf00390001@hf17e12ef9c00a4bb202",` +
		`"node_id":"message:2","node_type":"message","node_name":"","func_id":"message:2","func_type":"message","func_name":"",` +
		`"next_log_ids":[],"start_time":1700000003000,"end_time":1700000003000,"duration":0,` +
		`"first_frame_duration":-1,"node_first_cost_time":-1,"llm_output":"","running_status":false,` +
		`"data":{"input":{},"output":{},"config":{},` +
		`"usage":{"question_tokens":0,"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}},` +
		`"logs":[],"status_message":"node not ended","incomplete":true}]}`
	if got != want {
		t.Fatalf("run log differs\n got: %s\nwant: %s", got, want)
	}
}

// TestRunLogKeysOnce checks that a key the caller set twice (Input("x")
// then Input("x") again, an srv key) is written once in its object, as the
// original's Python dicts hold it: at its first place, with its last
// value, for short and long values, typed and offloaded ones alike; the
// allocation budget is unchanged.
func TestRunLogKeysOnce(t *testing.T) {
	long := strings.Repeat("v", 40)
	n := &Node{NodeID: "llm:1",
		Input: []Attr{{"x", Int64Value(1)}, {"y", StringValue("a")}, {"x", StringValue("b")}, {"z", BoolValue(true)},
			{"y", StringValue(long)}, {"x", Float64Value(2.5)}},
		Output: []Attr{{"out", StringValue("1")}, {"out", StringValue("2")}},
		Config: []Attr{{"t", Int64Value(1)}, {"u", Int64Value(2)}, {"t", Int64Value(3)}},
	}
	r := &Run{Nodes: []*Node{n}, Srv: []Attr{{"k", StringValue("1")}, {"k", StringValue("2")}}}
	got := string(AppendRunLogOptions(nil, r, runlogUTC))
	for _, want := range []string{
		`"data":{"input":{"x":2.5,"y":"` + long + `","z":true},"output":{"out":"2"},"config":{"t":3,"u":2},`,
		`"srv":{"k":"2"},"srv_tag":{}`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("run log %s\nwant it to hold %s", got, want)
		}
	}
	buf := AppendRunLog(nil, r)
	testkit.WantAllocs(t, 0, func() { buf = AppendRunLog(buf[:0], r) })
}

func TestRunLogStructuredLogs(t *testing.T) {
	got := string(AppendRunLogOptions(nil, runlogGoldenRun(), &RunLogOptions{StructuredLogs: true}))
	want := `"logs":[{"level":"INFO","message":"step","time":1700000000002},` +
		`{"level":"ERROR","message":"bad","time":1700000000003}]}`
	if !strings.Contains(got, want) {
		t.Fatalf("structured logs: %s\nwant it to contain %s", got, want)
	}
}

// TestRunLogLogEntry checks that each logs entry is a JSON string that
// decodes to the original's JSON text of {"level","message","time"}.
func TestRunLogLogEntry(t *testing.T) {
	loc := time.FixedZone("CST", 8*3600)
	for _, msg := range []string{"", "plain", `q"uote\back`, "new\nline\t\x01", "世界\u2028", "a\xffb", "</script>"} {
		r := &Run{Nodes: []*Node{{Events: []Event{{TimeUnixNano: 1_759_039_385_999_000_000, Kind: EventError, Message: msg}}}}}
		var m struct {
			Trace []struct{ Logs []string }
		}
		if err := json.Unmarshal(AppendRunLogOptions(nil, r, &RunLogOptions{Location: loc}), &m); err != nil {
			t.Fatal(err)
		}
		text := m.Trace[0].Logs[0]
		wantPrefix := `{"level": "ERROR", "message": `
		wantSuffix := `, "time": "2025-09-28 14:03:05"}`
		if !strings.HasPrefix(text, wantPrefix) || !strings.HasSuffix(text, wantSuffix) {
			t.Fatalf("entry of %q = %s", msg, text)
		}
		var entry map[string]string
		if err := json.Unmarshal([]byte(text), &entry); err != nil {
			t.Fatalf("entry of %q is not JSON: %s: %v", msg, text, err)
		}
		if entry["message"] != runlogRefString(msg) || entry["level"] != "ERROR" {
			t.Errorf("entry of %q decodes to %q", msg, entry)
		}
	}
}

// TestRunLogClock compares the clock that keeps a day of a zone offset
// (runlogClock) with time.Time's text for the same seconds: runs of
// nearby times, jumps between days and zones, daylight-saving changes
// (New York's, Lord Howe's half hour), times before 1970 and the extremes.
func TestRunLogClock(t *testing.T) {
	var zones []*time.Location
	for _, name := range []string{"America/New_York", "Australia/Lord_Howe", "Asia/Shanghai", "Europe/Dublin"} {
		if loc, err := time.LoadLocation(name); err == nil {
			zones = append(zones, loc)
		}
	}
	zones = append(zones, time.UTC, time.Local, time.FixedZone("odd", -(3*3600+25*60+7)))
	rng := rand.New(rand.NewPCG(3, 4))
	var c runlogClock
	var got, want []byte
	check := func(ns int64, loc *time.Location) {
		t.Helper()
		got = c.appendTime(got[:0], ns, loc)
		want = runlogAppendLocalTime(want[:0], ns, loc)
		if !bytes.Equal(got, want) {
			t.Fatalf("appendTime(%d, %s) = %s, want %s", ns, loc, got, want)
		}
	}
	for _, loc := range zones {
		for _, ns := range []int64{math.MinInt64, math.MinInt64 + 1, -1, 0, 1, 999_999_999, 1_000_000_000, math.MaxInt64} {
			check(ns, loc)
		}
		// Steps of a few minutes across two years: every transition.
		ns := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
		for range 2 * 365 * 24 * 12 {
			ns += rng.Int64N(10 * 60 * 1e9)
			check(ns, loc)
		}
	}
	for range 200_000 {
		ns := rng.Int64() - rng.Int64()/2
		switch rng.IntN(3) {
		case 0: // nearby
			ns = 1_700_000_000_000_000_000 + rng.Int64N(3*24*3600*1e9)
		case 1: // before 1970
			ns = -rng.Int64N(1 << 62)
		}
		check(ns, zones[rng.IntN(len(zones))])
	}
}

func TestRunLogFirstFrame(t *testing.T) {
	const t0 = int64(1_700_000_000_000_000_000)
	node := func(id string, start int64) *Node {
		return &Node{NodeID: id, NodeType: "基础节点", StartUnixNano: t0 + start, EndUnixNano: t0 + start}
	}
	for _, tc := range []struct {
		name string
		r    *Run
		want string
	}{
		{"none", &Run{StartUnixNano: t0, Nodes: []*Node{node("llm:1", 5e6)}}, `"first_frame_duration":-1.0,`},
		{"message prefix, finish order", &Run{StartUnixNano: t0,
			Nodes: []*Node{node("llm:1", 1e6), node("node-end:x", 9e6), node("message:2", 7e6)}}, `"first_frame_duration":9,`},
		{"set by the owner", &Run{StartUnixNano: t0, FirstFrameUnixNano: t0 + 3e6,
			Nodes: []*Node{node("message:2", 7e6)}}, `"first_frame_duration":3,`},
		{"id without colon", &Run{StartUnixNano: t0, Nodes: []*Node{node("message", 4e6)}}, `"first_frame_duration":4,`},
	} {
		if got := string(AppendRunLog(nil, tc.r)); !strings.Contains(got, tc.want) {
			t.Errorf("%s: %s\nwant it to contain %s", tc.name, got, tc.want)
		}
	}
}

func TestRunLogNextLogIDs(t *testing.T) {
	const t0 = int64(1_700_000_000_000_000_000)
	// A loop: a:1 -> b:1 -> a:1 -> b:1, and an id that never ran.
	a1 := &Node{SpanID: SpanID{1}, NodeID: "a:1", StartUnixNano: t0 + 1, Next: []string{"b:1", "never:1"}}
	b1 := &Node{SpanID: SpanID{2}, NodeID: "b:1", StartUnixNano: t0 + 2, Next: []string{"a:1"}}
	a2 := &Node{SpanID: SpanID{3}, NodeID: "a:1", StartUnixNano: t0 + 3, Next: []string{"b:1"}}
	b2 := &Node{SpanID: SpanID{4}, NodeID: "b:1", StartUnixNano: t0 + 4}
	r := &Run{TraceID: TraceID{0xab}, Nodes: []*Node{b2, a1, b1, a2}}
	var m struct {
		Trace []struct {
			ID         string   `json:"id"`
			NextLogIDs []string `json:"next_log_ids"`
		}
	}
	if err := json.Unmarshal(AppendRunLog(nil, r), &m); err != nil {
		t.Fatal(err)
	}
	id := func(n *Node) string { return fmt.Sprintf("%x%x", r.TraceID[:8], n.SpanID[:]) }
	want := [][]string{{}, {id(b1)}, {id(a2)}, {id(b2)}}
	for i, tr := range m.Trace {
		if fmt.Sprint(tr.NextLogIDs) != fmt.Sprint(want[i]) {
			t.Errorf("node %d next_log_ids %v, want %v", i, tr.NextLogIDs, want[i])
		}
	}
}

func TestRunLogServiceIDFallback(t *testing.T) {
	for _, tc := range []struct {
		serviceID, sub, want string
	}{
		{"svc", "SparkAgent", "svc"},
		{"", "SparkAgent", "bot"},
		{"", "spf", "flow"},
		{"", "", "flow"},
	} {
		r := &Run{ServiceID: tc.serviceID, Sub: tc.sub, BotID: "bot", FlowID: "flow"}
		var m map[string]any
		if err := json.Unmarshal(AppendRunLog(nil, r), &m); err != nil {
			t.Fatal(err)
		}
		if m["service_id"] != tc.want {
			t.Errorf("service_id with ServiceID %q, Sub %q = %v, want %q", tc.serviceID, tc.sub, m["service_id"], tc.want)
		}
	}
}

func TestRunLogIncompleteRun(t *testing.T) {
	r := &Run{Code: 10500, StatusMessage: "run closed after idle timeout", Status: StatusError, Incomplete: true}
	got := AppendRunLog(nil, r)
	want := `"status":{"code":10500,"message":"run closed after idle timeout","incomplete":true}`
	if !bytes.Contains(got, []byte(want)) {
		t.Fatalf("incomplete run: %s\nwant it to contain %s", got, want)
	}
	r.Message = "engine message"
	got = AppendRunLog(nil, r)
	want = `"status":{"code":10500,"message":"engine message","incomplete":true}`
	if !bytes.Contains(got, []byte(want)) {
		t.Fatalf("incomplete run with Message: %s\nwant it to contain %s", got, want)
	}
}

func TestRunLogTimes(t *testing.T) {
	for _, tc := range []struct {
		ns   int64
		want int64
	}{{0, 0}, {999_999, 0}, {1_000_000, 1}, {-1, -1}, {-1_000_000, -1}, {-1_000_001, -2}} {
		if got := runlogMillis(tc.ns); got != tc.want {
			t.Errorf("runlogMillis(%d) = %d, want %d", tc.ns, got, tc.want)
		}
	}
	for _, tc := range []struct {
		ns   int64
		want string
	}{
		{0, "0.0"}, {4_999_999, "0.0"}, {5_000_000, "0.01"}, {1_234_999_999, "1.23"}, {1_200_000_000, "1.2"},
		{1_235_000_000, "1.24"}, {100 * 1e9, "100.0"}, {-5_000_000, "-0.01"}, {-1_000_000_000, "-1.0"},
		{-4_000_000, "0.0"},
	} {
		if got := string(runlogAppendCentis(nil, tc.ns)); got != tc.want {
			t.Errorf("runlogAppendCentis(%d) = %s, want %s", tc.ns, got, tc.want)
		}
	}
}

// TestJSONAppendStringProperty checks, over random strings heavy in the
// characters that need care, that the output is valid JSON, decodes to the
// input with invalid UTF-8 repaired as strings.ToValidUTF8 does, and holds
// no raw control character, U+2028 or U+2029.
func TestJSONAppendStringProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"a", "bcdefghi", "\"", "\\", "\n", "\x00", "\x1f", "\x7f", "é", "世", "😀",
		"\u2028", "\u2029", "\xff", "\xe4\xb8", "\xed\xa0\x80", "\xc0\xaf", "<>&", " ", "\uFFFD"}
	for i := range 20000 {
		var sb strings.Builder
		for range rng.IntN(40) {
			sb.WriteString(pieces[rng.IntN(len(pieces))])
		}
		s := sb.String()
		if i%100 == 0 { // Also cover long ASCII runs, for the eight-byte path.
			s = strings.Repeat("abcdefg ", rng.IntN(10)) + s + strings.Repeat("z", rng.IntN(20))
		}
		out := jsonAppendString([]byte("x"), s)[1:]
		if !json.Valid(out) {
			t.Fatalf("invalid JSON for %q: %s", s, out)
		}
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		if want := strings.ToValidUTF8(s, "\uFFFD"); got != want {
			t.Fatalf("decode(encode(%q)) = %q, want %q", s, got, want)
		}
		body := out[1 : len(out)-1]
		if bytes.ContainsAny(body, "\u2028\u2029") || bytes.ContainsFunc(body, func(r rune) bool { return r < 0x20 }) {
			t.Fatalf("raw control or line separator in %q", out)
		}
		if !utf8.Valid(out) {
			t.Fatalf("output not UTF-8: %q", out)
		}
	}
}

// jsonRefEscaped is the escaping rule of jsonAppendEscaped written rune by
// rune, for comparing bytes, not only decoded values.
func jsonRefEscaped(s string) string {
	var b strings.Builder
	inRun := false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r == utf8.RuneError && size == 1 {
			if !inRun {
				b.WriteString("\uFFFD")
			}
			inRun = true
			continue
		}
		inRun = false
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20, r == '\u2028', r == '\u2029':
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestJSONAppendEscapedBytes compares jsonAppendEscaped byte for byte with
// jsonRefEscaped, with the characters that need care at every offset of
// the eight-byte steps.
func TestJSONAppendEscapedBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	pieces := []string{"a", "bcdefghi", "abcdefghijklmnopq", "\"", "\\", "\n", "\r", "\t", "\b", "\f", "\x00", "\x1f",
		"\x7f", " ", "~", "é", "世", "😀", "\u2028", "\u2029", "\u2027", "\xff", "\xe4\xb8", "\xed\xa0\x80", "\uFFFD"}
	for range 50000 {
		var sb strings.Builder
		for range rng.IntN(30) {
			sb.WriteString(pieces[rng.IntN(len(pieces))])
		}
		s := sb.String()
		want := jsonRefEscaped(s)
		// Without and with room: the short path needs 16 spare bytes.
		for _, dst := range [][]byte{[]byte("x"), append(make([]byte, 0, 64), 'x')} {
			if got := string(jsonAppendEscaped(dst, s)[1:]); got != want {
				t.Fatalf("jsonAppendEscaped(%q) = %q, want %q", s, got, want)
			}
		}
	}
	// Each byte value at each position of plain strings of 1 to 17 bytes.
	dst := make([]byte, 0, 64)
	for n := 1; n <= 17; n++ {
		b := []byte(strings.Repeat("a", n))
		for pos := range n {
			for c := range 256 {
				b[pos] = byte(c)
				s := string(b)
				if got, want := string(jsonAppendEscaped(dst, s)), jsonRefEscaped(s); got != want {
					t.Fatalf("jsonAppendEscaped(%q) = %q, want %q", s, got, want)
				}
			}
			b[pos] = 'a'
		}
	}
}

// TestJSONIsPlain puts each byte value at each position of plain strings
// of 1 to 24 bytes.
func TestJSONIsPlain(t *testing.T) {
	if !jsonIsPlain("") {
		t.Fatal(`jsonIsPlain("") = false`)
	}
	for n := 1; n <= 24; n++ {
		b := []byte(strings.Repeat("a", n))
		for pos := range n {
			for c := range 256 {
				b[pos] = byte(c)
				if got, want := jsonIsPlain(string(b)), jsonPlain[c]; got != want {
					t.Fatalf("jsonIsPlain(%q) = %v, want %v", b, got, want)
				}
			}
			b[pos] = 'a'
		}
	}
}

// TestJSONCopyPlain puts each byte value at each position of plain
// strings of the lengths around jsonCopyPlain's blocks (16 bytes) and
// groups of four (64), and checks its answer against jsonPlain and its
// copy against the string, without a byte written past n.
func TestJSONCopyPlain(t *testing.T) {
	for _, n := range []int{16, 17, 31, 32, 33, 47, 63, 64, 65, 79, 80, 81, 95, 96, 97, 127, 128, 143, 144, 145, 200} {
		b := []byte(strings.Repeat("a", n))
		d := make([]byte, n+16)
		for pos := range n {
			for c := range 256 {
				b[pos] = byte(c)
				for i := range d {
					d[i] = 0xff
				}
				got := jsonCopyPlain(&d[0], &b[0], n)
				if want := jsonPlain[c]; got != want {
					t.Fatalf("jsonCopyPlain(%q) = %v, want %v", b, got, want)
				}
				if got && string(d[:n]) != string(b) {
					t.Fatalf("jsonCopyPlain(%q) copied %q", b, d[:n])
				}
				if strings.Count(string(d[n:]), "\xff") != len(d)-n {
					t.Fatalf("jsonCopyPlain(%q) wrote past n: %q", b, d[n:])
				}
			}
			b[pos] = 'a'
		}
	}
}

// TestJSONAppendShortMembers checks the members jsonAppendShortMembers
// writes and where it stops: keys and values of 0 to 17 bytes and values
// of up to 300 with each kind of byte at each position, values that are
// not strings (an integer whose bits look like a string's kind among
// them), strings that end near a page's end, values too long for
// maxValue or the room, and no byte written past the room it is given.
func TestJSONAppendShortMembers(t *testing.T) {
	// short reports whether a is a member jsonAppendShortMembersWords
	// writes: a string value, key and value of 1 to 16 plain bytes.
	short := func(a Attr) bool {
		return a.Value.kind() == KindString && len(a.Key) >= 1 && len(a.Key) <= 16 &&
			len(a.Value.str()) >= 1 && len(a.Value.str()) <= 16 && jsonIsPlain(a.Key) && jsonIsPlain(a.Value.str())
	}
	// On amd64 jsonAppendShortMembers also writes plain values up to
	// maxValue, and strings of up to 16 bytes when it can read them
	// whole in their page.
	inPage := func(s string) bool { return uintptr(unsafe.Pointer(unsafe.StringData(s)))%4096 <= 4096-16 }
	asm := runtime.GOARCH == "amd64"
	check3 := func(attrs []Attr, room, maxValue int) {
		t.Helper()
		// Each run also starts with a key bit seen before (the last
		// key's): it stops at the member of that bit.
		for _, words := range []bool{false, true} {
			for _, seen0 := range []uint64{0, keyBit(attrs[len(attrs)-1].Key)} {
				if words && room < len(attrs)*runlogMemberRoom {
					continue // the room appendObject always makes
				}
				wantK, pos, seen := 0, 0, seen0
				for _, a := range attrs {
					if seen&keyBit(a.Key) != 0 {
						break // a repeat or a collision: the caller's
					}
					v := a.Value.str()
					ok := short(a)
					if asm && !words {
						ok = a.Value.kind() == KindString && len(a.Key) >= 1 && len(a.Key) <= 16 && len(v) >= 1 && len(v) < maxValue &&
							jsonIsPlain(a.Key) && jsonIsPlain(v) && inPage(a.Key) && (len(v) > 16 || inPage(v)) &&
							pos+6+len(a.Key)+max(len(v), 16) <= room
					}
					if !ok {
						break
					}
					wantK++
					seen |= keyBit(a.Key)
					pos += 6 + len(a.Key) + len(v)
				}
				d := bytes.Repeat([]byte{0xee}, room+64)
				name := "jsonAppendShortMembers"
				var k, w int
				var bits uint64
				if words {
					name = "jsonAppendShortMembersWords"
					k, w, bits = jsonAppendShortMembersWords(&d[0], &attrs[0], len(attrs), seen0)
				} else {
					k, w, bits = jsonAppendShortMembers(&d[0], room, &attrs[0], len(attrs), maxValue, seen0)
				}
				var ref []byte
				for _, a := range attrs[:wantK] {
					ref = append(ref, `,"`+a.Key+`":"`+a.Value.str()+`"`...)
				}
				if k != wantK || string(d[:w]) != string(ref) || bits != seen {
					t.Fatalf("%s(%q, seen %#x) = %d members %q, bits %#x, want %d %q, %#x", name, attrs, seen0, k, d[:w], bits, wantK, ref, seen)
				}
				if bytes.Count(d[room:], []byte{0xee}) != len(d)-room {
					t.Fatalf("%s(%q) wrote past its room: %q", name, attrs, d[room:])
				}
			}
		}
	}
	check := func(attrs []Attr) {
		t.Helper()
		check3(attrs, len(attrs)*runlogMemberRoom, math.MaxInt)
	}
	next, last := Attr{"next", StringValue("member")}, Attr{"last", StringValue("member")}
	bytesOf := []byte{0, 0x1f, ' ', '"', '\\', 'a', 0x7e, 0x7f, 0x80, 0xe4, 0xff}
	for n := 0; n <= 17; n++ {
		for pos := range max(n, 1) {
			for _, c := range bytesOf {
				b := []byte(strings.Repeat("k", n))
				if n > 0 {
					b[pos] = c
				}
				for _, a := range []Attr{{string(b), StringValue("v")}, {"key", StringValue(string(b))}} {
					check([]Attr{next, a, last})
				}
			}
		}
	}
	for _, v := range []Value{{}, Int64Value(9), Int64Value(1), Float64Value(0.5), BoolValue(true), BytesValue([]byte("bytes"))} {
		check([]Attr{next, {"key", v}, last})
	}
	// A repeated key (or a collision of keyBit) stops it.
	check([]Attr{next, {"key", StringValue("v")}, next})
	// Long values: each kind of byte at the positions around each block,
	// the room and maxValue at and around what they need.
	for _, n := range []int{17, 31, 32, 33, 48, 63, 64, 65, 256, 300} {
		for pos := range n {
			if pos > 2 && pos < n-3 && pos%16 > 1 && pos%16 < 15 {
				continue
			}
			for _, c := range bytesOf {
				b := []byte(strings.Repeat("v", n))
				b[pos] = c
				attrs := []Attr{next, {"key", StringValue(string(b))}, last}
				// The first member writes 16 bytes, the second needs 9+n.
				for _, room := range []int{3*runlogMemberRoom + n, 25 + n, 24 + n} {
					check3(attrs, room, math.MaxInt)
				}
				check3(attrs, 3*runlogMemberRoom+n, n+1)
				check3(attrs, 3*runlogMemberRoom+n, n)
			}
		}
	}
	// Strings starting from 20 bytes before a page's end to 4 after it:
	// those that start less than 16 bytes before the end are not read.
	buf := make([]byte, 3*4096)
	page := int(-uintptr(unsafe.Pointer(&buf[0])) & 4095)
	for off := page + 4096 - 20; off < page+4096+4; off++ {
		copy(buf[off:], "0123456789abcdef")
		for n := 1; n <= 16; n++ {
			s := unsafe.String(&buf[off], n)
			if inPage(s) != ((off-page)%4096 <= 4096-16) {
				t.Fatalf("inPage at %d bytes into a page = %v", (off-page)%4096, inPage(s))
			}
			check([]Attr{next, {s, StringValue("v")}})
			check([]Attr{next, {"key", StringValue(s)}})
		}
	}
}

// TestRunLogObjectMembers writes random objects of members of every kind
// (short and long strings, text in other scripts, strings to escape,
// scalars) with appendObject, in buffers with little room and much, and
// compares them with the members written one by one by appendMember.
func TestRunLogObjectMembers(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 2))
	keys := []string{"a", "in0", "key-of-16-bytes!", "key of seventeen!", "键", "q\"k", ""}
	vals := []Value{StringValue("v"), StringValue("gpt-4o"), StringValue("sixteen bytes..."), StringValue("https://kb.internal/doc/42"),
		StringValue("节点"), StringValue("line\nbreak"), StringValue(""), Int64Value(9), Float64Value(0.5), BoolValue(true), {}}
	var f runlogField
	for range 5000 {
		attrs := make([]Attr, rng.IntN(7))
		for i := range attrs {
			// Distinct keys: a repeated key takes appendObjectOnce.
			attrs[i] = Attr{keys[rng.IntN(len(keys))] + strconv.Itoa(i), vals[rng.IntN(len(vals))]}
		}
		want := []byte{'{'}
		for i, a := range attrs {
			if i > 0 {
				want = append(want, ',')
			}
			want = f.appendMember(want, a.Key, a.Value)
		}
		want = append(want, '}')
		for _, dst := range [][]byte{nil, make([]byte, 3, 4), make([]byte, 0, 4096)} {
			if got := f.appendObject(dst, attrs); string(got[len(dst):]) != string(want) {
				t.Fatalf("appendObject(%q) = %s, want %s", attrs, got[len(dst):], want)
			}
		}
	}
}

// TestRunLogAppendNodeNames compares runlogAppendNodeNames with
// runlogAppendNodeNamesEscaped on node ids, types and names of 0 to 17
// bytes with each kind of byte at each position and on strings at a
// page's end: it writes the same text or, on amd64 only where its rule
// says so, nothing, and no byte past its room.
func TestRunLogAppendNodeNames(t *testing.T) {
	inPage := func(s string) bool { return uintptr(unsafe.Pointer(unsafe.StringData(s)))%4096 <= 4096-16 }
	short := func(s string) bool { return len(s) == 0 || len(s) <= 16 && jsonIsPlain(s) && inPage(s) }
	check := func(n *Node) {
		t.Helper()
		want := string(nodeNamesEscaped(n))
		d := bytes.Repeat([]byte{0xee}, runlogNodeNamesRoom+64)
		w := runlogAppendNodeNames(&d[0], n)
		if runtime.GOARCH != "amd64" || !short(n.NodeID) || !short(n.NodeType) || !short(n.NodeName) {
			if w != -1 {
				t.Fatalf("runlogAppendNodeNames(%q, %q, %q) = %d, want -1", n.NodeID, n.NodeType, n.NodeName, w)
			}
		} else if w < 0 || string(d[:w]) != want {
			t.Fatalf("runlogAppendNodeNames(%q, %q, %q) wrote %d bytes, want %q", n.NodeID, n.NodeType, n.NodeName, w, want)
		}
		if bytes.Count(d[runlogNodeNamesRoom:], []byte{0xee}) != len(d)-runlogNodeNamesRoom {
			t.Fatalf("runlogAppendNodeNames(%q, %q, %q) wrote past its room", n.NodeID, n.NodeType, n.NodeName)
		}
	}
	bytesOf := []byte{0, 0x1f, ' ', '"', '\\', 'a', 0x7e, 0x7f, 0x80, 0xe4, 0xff}
	for n := 0; n <= 17; n++ {
		for pos := range max(n, 1) {
			for _, c := range bytesOf {
				b := []byte(strings.Repeat("n", n))
				if n > 0 {
					b[pos] = c
				}
				s := string(b)
				check(&Node{NodeID: s, NodeType: "llm", NodeName: "LLM 1"})
				check(&Node{NodeID: "llm:1", NodeType: s, NodeName: "LLM 1"})
				check(&Node{NodeID: "llm:1", NodeType: "llm", NodeName: s})
				check(&Node{NodeID: s, NodeType: s, NodeName: s})
			}
		}
	}
	buf := make([]byte, 3*4096)
	page := int(-uintptr(unsafe.Pointer(&buf[0])) & 4095)
	for off := page + 4096 - 20; off < page+4096+4; off++ {
		copy(buf[off:], "0123456789abcdef")
		for n := 1; n <= 16; n++ {
			s := unsafe.String(&buf[off], n)
			check(&Node{NodeID: s, NodeType: "llm", NodeName: "LLM 1"})
			check(&Node{NodeID: "llm:1", NodeType: "llm", NodeName: s})
		}
	}
	// The longest text it writes: six values of 16 bytes.
	check(&Node{NodeID: "0123456789abcdef", NodeType: "0123456789abcdef", NodeName: "0123456789abcdef"})
}

// TestRunLogAppendInt compares runlogAppendInt with strconv.AppendInt.
func TestRunLogAppendInt(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	vals := []int64{0, 1, -1, 9, 10, 11, -9, -10, 99, 100, 101, -100, 999, 1000, 1e12, 1_700_000_000_123,
		math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1}
	for range 100000 {
		v := rng.Int64() >> rng.IntN(64)
		if rng.IntN(2) == 0 {
			v = -v
		}
		vals = append(vals, v)
	}
	for _, v := range vals {
		if got, want := string(runlogAppendInt([]byte("x"), v)[1:]), strconv.FormatInt(v, 10); got != want {
			t.Fatalf("runlogAppendInt(%d) = %q, want %q", v, got, want)
		}
	}
	// appendMillis keeps the digits above the last eight of the value
	// before: the values above, then pairs that share them, each written
	// twice, and the bounds of its own path.
	var w runlogWriter
	vals = append(vals, 1e8-1, 1e8, 1e8+1, 1e16-1, 1e16, 1e16+1, 1_700_000_000_000, 1_700_000_000_001, 1_699_999_999_999)
	for i := range 1000 {
		v := rng.Int64N(1e16)
		vals = append(vals, v, v, v+int64(i), v-v%1e8, v-v%1e8+1e8-1)
	}
	for _, v := range vals {
		if got, want := string(w.appendMillis([]byte("x"), v)[1:]), strconv.FormatInt(v, 10); got != want {
			t.Fatalf("appendMillis(%d) = %q, want %q", v, got, want)
		}
	}
}

func TestJSONSWARNeedsCare(t *testing.T) {
	// Each byte value in each of the eight positions, among safe bytes.
	for c := range 256 {
		want := c < 0x20 || c == '"' || c == '\\' || c >= 0x80
		for pos := range 8 {
			var b [8]byte
			for i := range b {
				b[i] = 'a'
			}
			b[pos] = byte(c)
			x := uint64(0)
			for i := 7; i >= 0; i-- {
				x = x<<8 | uint64(b[i])
			}
			if got := jsonSWARNeedsCare(x); got != want {
				t.Fatalf("byte %#x at %d: needs care = %v, want %v", c, pos, got, want)
			}
		}
	}
	// Every pair of byte values in two neighbouring positions, where a
	// carry out of the lower one could hide the upper one, among plain
	// bytes of both ends of the range.
	care := func(c int) bool { return c < 0x20 || c == '"' || c == '\\' || c >= 0x80 }
	for _, fill := range []byte{' ', '~', 0x7f} {
		for pos := range 7 {
			for c := range 256 {
				for d := range 256 {
					var x uint64
					for i := range 8 {
						x |= uint64(fill) << (8 * i)
					}
					x &^= 0xffff << (8 * pos)
					x |= uint64(c)<<(8*pos) | uint64(d)<<(8*pos+8)
					if got, want := jsonSWARNeedsCare(x), care(c) || care(d); got != want {
						t.Fatalf("bytes %#x %#x at %d among %#x: needs care = %v, want %v", c, d, pos, fill, got, want)
					}
				}
			}
		}
	}
}

// runlogRefPyRepr is Python's repr of a float, from strconv's shortest
// digits: fixed notation from 1e-4 to below 1e16 with ".0" on integers,
// exponent form with at least two exponent digits outside.
func runlogRefPyRepr(f float64) string {
	_, exp, _ := strings.Cut(strconv.FormatFloat(f, 'e', -1, 64), "e")
	e, _ := strconv.Atoi(exp)
	if f != 0 && (e < -4 || e >= 16) {
		return strconv.FormatFloat(f, 'e', -1, 64)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// TestJSONAppendFloatMatchesPython compares jsonAppendFloat with the text
// Python 3 printed for repr() of the same values, and with
// runlogRefPyRepr over random bit patterns.
func TestJSONAppendFloatMatchesPython(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		want string
	}{
		{0.0, "0.0"}, {math.Copysign(0, -1), "-0.0"}, {1.0, "1.0"}, {-1.0, "-1.0"}, {0.1, "0.1"}, {2.0, "2.0"},
		{1e-4, "0.0001"}, {9.999e-05, "9.999e-05"}, {1e-05, "1e-05"}, {1.5e-10, "1.5e-10"}, {1e-06, "1e-06"},
		{123456789.125, "123456789.125"}, {1e15, "1000000000000000.0"}, {1e16, "1e+16"},
		{9999999999999998.0, "9999999999999998.0"}, {1.5e16, "1.5e+16"}, {1e21, "1e+21"}, {1e300, "1e+300"},
		{5e-324, "5e-324"}, {math.MaxFloat64, "1.7976931348623157e+308"}, {0.000123, "0.000123"},
		{12345678901234567890.0, "1.2345678901234567e+19"}, {0.30000000000000004, "0.30000000000000004"},
		{100.0, "100.0"},
		{math.NaN(), "null"}, {math.Inf(1), "null"}, {math.Inf(-1), "null"},
	} {
		if got := string(jsonAppendFloat(nil, tc.f)); got != tc.want {
			t.Errorf("jsonAppendFloat(%v) = %s, Python %s", tc.f, got, tc.want)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		f := math.Float64frombits(rng.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		if got, want := string(jsonAppendFloat(nil, f)), runlogRefPyRepr(f); got != want {
			t.Fatalf("jsonAppendFloat(%v) = %s, want %s", f, got, want)
		}
	}
}

// TestJSONAppendDecimal compares jsonAppendFloat with runlogRefPyRepr
// over the values its decimal path takes (m/10^k) and their neighbours,
// which must fall back to strconv.
func TestJSONAppendDecimal(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	check := func(f float64) {
		t.Helper()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return // TestJSONAppendFloatMatchesPython covers null
		}
		want := runlogRefPyRepr(f)
		if got := string(jsonAppendFloat(nil, f)); got != want {
			t.Fatalf("jsonAppendFloat(%v) = %s, want %s", f, got, want)
		}
	}
	for _, f := range []float64{1e-6, 1e-7, 1.5e-6, 0.7, 0.1, 0.2, 0.3, 2.5, 0.93125, 1 << 50, 1<<50 - 1, 1<<50 + 1,
		(1<<50 - 1) / 1e8, 1e15, 1e15 + 0.5, 9.999999999999998, 123456789.125, 0.000123} {
		check(f)
		check(-f)
		check(math.Nextafter(f, 0))
		check(math.Nextafter(f, 2*f))
	}
	for range 2_000_000 {
		k := rng.IntN(12)
		m := rng.Int64N(1 << (1 + rng.IntN(53)))
		f := float64(m) / math.Pow(10, float64(k))
		switch rng.IntN(4) {
		case 0:
			f = -f
		case 1:
			f = math.Nextafter(f, math.Inf(1))
		case 2:
			f = math.Float64frombits(math.Float64bits(f) + uint64(rng.IntN(5)) - 2)
		}
		check(f)
	}
}

// runlogObj is an ordered JSON object for the reference encoder.
type runlogObj []runlogKV

type runlogKV struct {
	K string
	V any
}

// MarshalJSON writes o's members in order.
func (o runlogObj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(strings.ToValidUTF8(kv.K, "\uFFFD"))
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(kv.V)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// runlogRefString is what a string becomes in the run log.
func runlogRefString(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

func runlogRefValue(v Value) any {
	switch v.Kind() {
	case KindString:
		return runlogRefString(v.Str())
	case KindInt64:
		return v.Int64()
	case KindFloat64:
		f := v.Float64()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil
		}
		return json.RawMessage(runlogRefPyRepr(f))
	case KindBool:
		return v.Bool()
	case KindBytes:
		return append([]byte{}, v.Bytes()...)
	}
	return nil
}

// runlogRefAttrs is attrs as the original's Python dict holds them: a
// key set again keeps its first place and takes the new value. Keys are
// compared as written, invalid UTF-8 repaired ("k\xff" and "k\xfe" are
// one key).
func runlogRefAttrs(attrs []Attr) runlogObj {
	o := runlogObj{}
	at := map[string]int{}
	for _, a := range attrs {
		k := strings.ToValidUTF8(a.Key, "\uFFFD")
		if i, ok := at[k]; ok {
			o[i].V = runlogRefValue(a.Value)
			continue
		}
		at[k] = len(o)
		o = append(o, runlogKV{a.Key, runlogRefValue(a.Value)})
	}
	return o
}

func runlogRefUsage(u Usage) runlogObj {
	return runlogObj{{"question_tokens", u.QuestionTokens}, {"prompt_tokens", u.PromptTokens},
		{"completion_tokens", u.CompletionTokens}, {"total_tokens", u.TotalTokens}}
}

func runlogRefMillis(ns int64) int64 {
	// In integers: float64(ns) keeps 53 bits, so it rounds a time of
	// this century to 256 ns, 1639208394420999999 up to the next
	// millisecond.
	ms := ns / 1e6
	if ns%1e6 < 0 {
		ms--
	}
	return ms
}

// runlogRefPyFloat is Python's text of round(seconds, 2) for ns.
func runlogRefPyFloat(ns int64) json.RawMessage {
	c := math.Round(float64(ns) / 1e7)
	s := strconv.FormatFloat(c/100, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	if s == "-0.0" {
		s = "0.0"
	}
	return json.RawMessage(s)
}

// runlogRefEntry is the original's logs entry: the JSON text Python's
// json.dumps writes for {"level","message","time"}, time in UTC.
func runlogRefEntry(level, msg string, ns int64) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(runlogRefString(msg)); err != nil {
		panic(err)
	}
	tm := time.Unix(0, ns).UTC().Format("2006-01-02 15:04:05")
	return `{"level": "` + level + `", "message": ` + strings.TrimSuffix(b.String(), "\n") + `, "time": "` + tm + `"}`
}

// runlogReference builds the run log of r with encoding/json, from the
// original's rules (docs/original.md) rather than from the encoder's code.
func runlogReference(r *Run) runlogObj {
	serviceID := r.ServiceID
	if serviceID == "" {
		serviceID = r.FlowID
		if r.Sub == "SparkAgent" {
			serviceID = r.BotID
		}
	}
	start, end := runlogRefMillis(r.StartUnixNano), runlogRefMillis(r.EndUnixNano)
	var ffd any = json.RawMessage("-1.0")
	if r.FirstFrameUnixNano != 0 {
		ffd = runlogRefMillis(r.FirstFrameUnixNano) - start
	} else {
		for _, n := range r.Nodes {
			if typ := strings.Split(n.NodeID, ":")[0]; typ == "message" || typ == "node-end" {
				ffd = runlogRefMillis(n.StartUnixNano) - start
				break
			}
		}
	}
	status := runlogObj{{"code", r.Code}, {"message", runlogRefString(r.Message)}}
	if r.Incomplete {
		if r.Message == "" {
			status[1].V = runlogRefString(r.StatusMessage)
		}
		status = append(status, runlogKV{"incomplete", true})
	}
	trace := []any{}
	for _, n := range r.Nodes {
		id := fmt.Sprintf("%x%x", r.TraceID[:8], n.SpanID[:])
		next := []string{}
		for _, x := range n.Next {
			var follow *Node
			for _, m := range r.Nodes {
				if m != n && m.NodeID == x && m.StartUnixNano >= n.StartUnixNano &&
					(follow == nil || m.StartUnixNano < follow.StartUnixNano) {
					follow = m
				}
			}
			if follow != nil {
				next = append(next, fmt.Sprintf("%x%x", r.TraceID[:8], follow.SpanID[:]))
			}
		}
		ns, ne := runlogRefMillis(n.StartUnixNano), runlogRefMillis(n.EndUnixNano)
		var nffd int64 = -1
		var cost any = -1
		if n.FirstFrameUnixNano != 0 {
			nffd = runlogRefMillis(n.FirstFrameUnixNano) - ns
		}
		if n.HasFirstTokenCost {
			cost = runlogRefPyFloat(n.FirstTokenCostNano)
		}
		logs := []any{}
		for _, e := range n.Events {
			level := "ERROR"
			if e.Kind == EventInfo {
				level = "INFO"
			}
			logs = append(logs, runlogRefEntry(level, e.Message, e.TimeUnixNano))
		}
		no := runlogObj{
			{"id", id}, {"sid", runlogRefString(r.SID)},
			{"node_id", runlogRefString(n.NodeID)}, {"node_type", runlogRefString(n.NodeType)}, {"node_name", runlogRefString(n.NodeName)},
			{"func_id", runlogRefString(n.NodeID)}, {"func_type", runlogRefString(n.NodeType)}, {"func_name", runlogRefString(n.NodeName)},
			{"next_log_ids", next}, {"start_time", ns}, {"end_time", ne}, {"duration", ne - ns},
			{"first_frame_duration", nffd}, {"node_first_cost_time", cost},
			{"llm_output", runlogRefString(n.LLMOutput)}, {"running_status", n.Status != StatusError},
			{"data", runlogObj{{"input", runlogRefAttrs(n.Input)}, {"output", runlogRefAttrs(n.Output)},
				{"config", runlogRefAttrs(n.Config)}, {"usage", runlogRefUsage(n.Usage)}}},
			{"logs", logs},
		}
		if n.Incomplete {
			no = append(no, runlogKV{"status_message", runlogRefString(n.StatusMessage)}, runlogKV{"incomplete", true})
		}
		trace = append(trace, no)
	}
	return runlogObj{
		{"service_id", runlogRefString(serviceID)}, {"flow_id", runlogRefString(r.FlowID)}, {"sid", runlogRefString(r.SID)},
		{"app_id", runlogRefString(r.AppID)}, {"uid", runlogRefString(r.UID)}, {"bot_id", runlogRefString(r.BotID)},
		{"chat_id", runlogRefString(r.ChatID)}, {"sub", runlogRefString(r.Sub)}, {"caller", runlogRefString(r.Caller)},
		{"log_caller", runlogRefString(r.LogCaller)}, {"question", runlogRefString(r.Question)}, {"answer", runlogRefString(r.Answer)},
		{"start_time", start}, {"end_time", end}, {"duration", end - start}, {"first_frame_duration", ffd},
		{"srv", runlogRefAttrs(r.Srv)}, {"srv_tag", runlogRefAttrs(r.SrvTag)}, {"status", status},
		{"usage", runlogRefUsage(r.Usage)}, {"version", "v2.0.0"}, {"trace", trace},
	}
}

// runlogTokens returns the JSON token stream of b, numbers as json.Number.
func runlogTokens(t *testing.T, b []byte) []any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var toks []any
	for {
		tok, err := d.Token()
		if err != nil {
			if err.Error() == "EOF" {
				return toks
			}
			t.Fatalf("decode %s: %v", b, err)
		}
		toks = append(toks, tok)
	}
}

// runlogRandString returns a random string: empty, short, unicode, invalid
// UTF-8 or long.
func runlogRandString(rng *rand.Rand) string {
	pieces := []string{"a", "node", "\"q\"", "\\", "\n\t", "\x01", "é", "世界", "😀", "\u2028", "\xff", "\xe4\xb8"}
	switch rng.IntN(10) {
	case 0:
		return ""
	case 1:
		return strings.Repeat("long text ", rng.IntN(800))
	}
	var sb strings.Builder
	for range rng.IntN(12) {
		sb.WriteString(pieces[rng.IntN(len(pieces))])
	}
	return sb.String()
}

func runlogRandValue(rng *rand.Rand) Value {
	switch rng.IntN(7) {
	case 0:
		return StringValue(runlogRandString(rng))
	case 1:
		return Int64Value(int64(rng.Uint64()))
	case 2:
		return Float64Value([]float64{0, 1.5, -2e-9, 1e22, math.NaN(), math.Inf(-1), rng.NormFloat64()}[rng.IntN(7)])
	case 3:
		return BoolValue(rng.IntN(2) == 0)
	case 4:
		b := make([]byte, rng.IntN(20))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return BytesValue(b)
	case 5:
		return Value{}
	}
	return StringValue("v")
}

func runlogRandAttrs(rng *rand.Rand, maxN int) []Attr {
	attrs := make([]Attr, rng.IntN(maxN+1))
	for i := range attrs {
		attrs[i] = Attr{Key: runlogRandString(rng), Value: runlogRandValue(rng)}
	}
	return attrs
}

// runlogRandRun returns a random run: 0..N nodes, attributes, events,
// errors, incomplete records.
func runlogRandRun(rng *rand.Rand) *Run {
	t0 := int64(1_600_000_000_000_000_000) + rng.Int64N(1e17)
	if rng.IntN(20) == 0 {
		t0 = 0
	}
	r := &Run{
		ServiceID: []string{"", "svc"}[rng.IntN(2)], FlowID: runlogRandString(rng), SID: runlogRandString(rng),
		AppID: runlogRandString(rng), UID: runlogRandString(rng), BotID: runlogRandString(rng), ChatID: runlogRandString(rng),
		Sub: []string{"SparkAgent", "spf", ""}[rng.IntN(3)], Caller: runlogRandString(rng), LogCaller: runlogRandString(rng),
		Question: runlogRandString(rng), Answer: runlogRandString(rng),
		StartUnixNano: t0, EndUnixNano: t0 + rng.Int64N(1e11),
		Srv: runlogRandAttrs(rng, 3), SrvTag: runlogRandAttrs(rng, 3),
		Code: rng.Int64N(20000) - 1, Message: runlogRandString(rng),
		Usage:      Usage{rng.Int64N(1e6), rng.Int64N(1e6), rng.Int64N(1e6), rng.Int64N(1e6)},
		Incomplete: rng.IntN(5) == 0, StatusMessage: runlogRandString(rng),
	}
	if rng.IntN(4) == 0 {
		r.FirstFrameUnixNano = t0 + rng.Int64N(1e10)
	}
	ids := []string{"message:1", "node-end:1", "llm:1", "message", "x:1"}
	for i := range 16 {
		r.TraceID[i] = byte(rng.Uint32())
	}
	for range rng.IntN(6) {
		n := &Node{
			NodeID: []string{runlogRandString(rng), ids[rng.IntN(len(ids))]}[rng.IntN(2)], NodeType: []string{"llm", "message", "node-end", "start", "code"}[rng.IntN(5)],
			NodeName: runlogRandString(rng), StartUnixNano: t0 + rng.Int64N(1e10),
			LLMOutput: runlogRandString(rng), Input: runlogRandAttrs(rng, 8), Output: runlogRandAttrs(rng, 8),
			Config: runlogRandAttrs(rng, 3), Usage: Usage{rng.Int64N(100), rng.Int64N(100), rng.Int64N(100), rng.Int64N(100)},
			Status: StatusCode(rng.IntN(3)), StatusMessage: runlogRandString(rng), Incomplete: rng.IntN(6) == 0,
		}
		n.EndUnixNano = n.StartUnixNano + rng.Int64N(1e10)
		if rng.IntN(2) == 0 {
			n.FirstFrameUnixNano = n.StartUnixNano + rng.Int64N(1e10)
		}
		if rng.IntN(2) == 0 {
			n.FirstTokenCostNano, n.HasFirstTokenCost = rng.Int64N(1e11), true
		}
		for i := range 8 {
			n.SpanID[i] = byte(rng.Uint32())
		}
		for range rng.IntN(3) {
			n.Next = append(n.Next, []string{runlogRandString(rng), ids[rng.IntN(len(ids))]}[rng.IntN(2)])
		}
		for range rng.IntN(4) {
			n.Events = append(n.Events, Event{TimeUnixNano: n.StartUnixNano + rng.Int64N(1e9), Kind: EventKind(rng.IntN(3)),
				Message: runlogRandString(rng), Type: runlogRandString(rng), Stacktrace: runlogRandString(rng)})
		}
		r.Nodes = append(r.Nodes, n)
	}
	return r
}

// TestRunLogMatchesReference checks, for random runs, that the encoder's
// JSON is valid and has the same token stream (names, order, values) as
// the reference built with encoding/json.
func TestRunLogMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var buf []byte
	runs := 1000
	if race.Enabled {
		runs = 200
	}
	for i := range runs {
		r := runlogRandRun(rng)
		buf = AppendRunLogOptions(buf[:0], r, runlogUTC)
		if !json.Valid(buf) {
			t.Fatalf("run %d: invalid JSON: %s", i, buf)
		}
		want, err := json.Marshal(runlogReference(r))
		if err != nil {
			t.Fatal(err)
		}
		got, ref := runlogTokens(t, buf), runlogTokens(t, want)
		if len(got) != len(ref) {
			t.Fatalf("run %d: %d tokens, reference %d\n got: %s\nwant: %s", i, len(got), len(ref), buf, want)
		}
		for j := range got {
			if got[j] != ref[j] {
				t.Fatalf("run %d: token %d = %#v, reference %#v\n got: %s\nwant: %s", i, j, got[j], ref[j], buf, want)
			}
		}
	}
}

func TestRunLogAppends(t *testing.T) {
	r := runlogGoldenRun()
	prefix := []byte("prefix")
	out := AppendRunLog(prefix, r)
	if !bytes.HasPrefix(out, prefix) || !bytes.Equal(out[len(prefix):], AppendRunLog(nil, r)) {
		t.Fatal("AppendRunLog does not append to dst")
	}
	if !bytes.Equal(AppendRunLogWith(nil, r, nil), AppendRunLog(nil, r)) {
		t.Fatal("AppendRunLogWith(nil offloader) differs from AppendRunLog")
	}
}

func TestRunLogAllocs(t *testing.T) {
	r := runlogBenchRun()
	// A run with a value over the threshold, written whole without an
	// Offloader.
	large := runlogBenchRun()
	large.Answer = strings.Repeat("é", DefaultOffloadThreshold)
	buf := make([]byte, 0, 1<<16)
	testkit.WantAllocs(t, 0, func() { buf = AppendRunLog(buf[:0], r) })
	testkit.WantAllocs(t, 0, func() { buf = AppendRunLog(buf[:0], large) })
	golden := runlogGoldenRun()
	testkit.WantAllocs(t, 0, func() { buf = AppendRunLog(buf[:0], golden) })
}

// workflowT0 is when the hand-written workflow runs start.
const workflowT0 = int64(1_700_000_000_000_000_000)

// runIdentity is what tells one hand-written workflow run from another.
type runIdentity struct{ FlowID, AppID, UID, BotID, ChatID, LogCaller string }

// newWorkflowRun returns a successful run of 3.46 s from workflowT0 with the
// identity, question and answer given, and the ids, SID, sub and caller
// every hand-written workflow run shares.
func newWorkflowRun(id runIdentity, question, answer string) *Run {
	return &Run{
		TraceID: TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, SpanID: SpanID{1, 1, 1, 1, 1, 1, 1, 1},
		SID: "spf00390001@hf17e12ef9c00a4bb202", Sub: "spf", Caller: "workflow",
		FlowID: id.FlowID, AppID: id.AppID, UID: id.UID, BotID: id.BotID, ChatID: id.ChatID, LogCaller: id.LogCaller,
		Question: question, Answer: answer,
		StartUnixNano: workflowT0, EndUnixNano: workflowT0 + 3_456_789_012,
		Code: 0, Message: "Success",
	}
}

// runlogBenchRun is a run of 10 nodes with 8 attributes and one log entry
// each, shaped like a real workflow's.
func runlogBenchRun() *Run {
	const t0 = workflowT0
	r := newWorkflowRun(runIdentity{FlowID: "7263485716151312384", AppID: "a1b2c3d4", UID: "user-42",
		BotID: "bot-9", ChatID: "chat-7f3a", LogCaller: "sparkflow"},
		"What is the weather in Hefei tomorrow, and should I bring an umbrella?",
		"Tomorrow in Hefei: light rain, 18–24 °C. Yes, bring an umbrella.")
	r.Srv = []Attr{{"host", StringValue("10.0.0.1")}, {"region", StringValue("hf")}}
	r.SrvTag = []Attr{{"env", StringValue("prod")}}
	r.Usage = Usage{12, 340, 56, 408}
	types := []string{"start", "llm", "code", "plugin", "knowledge", "decision", "llm", "variable", "message", "node-end"}
	for i, typ := range types {
		id := typ + ":" + strconv.Itoa(i)
		n := &Node{
			SpanID: SpanID{byte(i), 2, 3, 4, 5, 6, 7, 8}, NodeID: id, NodeType: typ, NodeName: "Node " + id,
			StartUnixNano: t0 + int64(i)*300_000_000, EndUnixNano: t0 + int64(i)*300_000_000 + 250_000_000,
			FirstFrameUnixNano: t0 + int64(i)*300_000_000 + 80_000_000,
			LLMOutput:          "The forecast says light rain with a high of 24 degrees.",
			Input: []Attr{
				{"query", StringValue("weather Hefei tomorrow")},
				{"top_k", Int64Value(5)},
				{"temperature", Float64Value(0.7)},
				{"stream", BoolValue(true)},
			},
			Output: []Attr{
				{"text", StringValue("light rain, 18-24 C, wind NE 3")},
				{"score", Float64Value(0.93125)},
				{"tokens", Int64Value(56)},
			},
			Config:   []Attr{{"model", StringValue("spark-4.0-ultra")}},
			Usage:    Usage{1, 34, 5, 40},
			HasUsage: true,
			Events:   []Event{{TimeUnixNano: t0 + int64(i)*300_000_000 + 1_000_000, Kind: EventInfo, Message: "node started"}},
			Status:   StatusOK,
		}
		if i+1 < len(types) {
			n.Next = []string{types[i+1] + ":" + strconv.Itoa(i+1)}
		}
		r.Nodes = append(r.Nodes, n)
	}
	return r
}

// runlogStructRun and runlogStructNode are the run log as Go structs, the
// way a service using encoding/json would write it.
type runlogStructRun struct {
	ServiceID          string              `json:"service_id"`
	FlowID             string              `json:"flow_id"`
	SID                string              `json:"sid"`
	AppID              string              `json:"app_id"`
	UID                string              `json:"uid"`
	BotID              string              `json:"bot_id"`
	ChatID             string              `json:"chat_id"`
	Sub                string              `json:"sub"`
	Caller             string              `json:"caller"`
	LogCaller          string              `json:"log_caller"`
	Question           string              `json:"question"`
	Answer             string              `json:"answer"`
	StartTime          int64               `json:"start_time"`
	EndTime            int64               `json:"end_time"`
	Duration           int64               `json:"duration"`
	FirstFrameDuration int64               `json:"first_frame_duration"`
	Srv                map[string]any      `json:"srv"`
	SrvTag             map[string]any      `json:"srv_tag"`
	Status             runlogStructStatus  `json:"status"`
	Usage              runlogStructUsage   `json:"usage"`
	Version            string              `json:"version"`
	Trace              []*runlogStructNode `json:"trace"`
}

type runlogStructStatus struct {
	Code    int64  `json:"code"`
	Message string `json:"message"`
}

type runlogStructUsage struct {
	QuestionTokens   int64 `json:"question_tokens"`
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	TotalTokens      int64 `json:"total_tokens"`
}

type runlogStructNode struct {
	ID                 string           `json:"id"`
	SID                string           `json:"sid"`
	NodeID             string           `json:"node_id"`
	NodeType           string           `json:"node_type"`
	NodeName           string           `json:"node_name"`
	FuncID             string           `json:"func_id"`
	FuncType           string           `json:"func_type"`
	FuncName           string           `json:"func_name"`
	NextLogIDs         []string         `json:"next_log_ids"`
	StartTime          int64            `json:"start_time"`
	EndTime            int64            `json:"end_time"`
	Duration           int64            `json:"duration"`
	FirstFrameDuration int64            `json:"first_frame_duration"`
	NodeFirstCostTime  float64          `json:"node_first_cost_time"`
	LLMOutput          string           `json:"llm_output"`
	RunningStatus      bool             `json:"running_status"`
	Data               runlogStructData `json:"data"`
	Logs               []string         `json:"logs"`
}

type runlogStructData struct {
	Input  map[string]any    `json:"input"`
	Output map[string]any    `json:"output"`
	Config map[string]any    `json:"config"`
	Usage  runlogStructUsage `json:"usage"`
}

type runlogStructLog struct {
	Level   string `json:"level"`
	Message string `json:"message"`
	Time    string `json:"time"`
}

func runlogStructMap(attrs []Attr) map[string]any {
	m := make(map[string]any, len(attrs))
	for _, a := range attrs {
		m[a.Key] = runlogRefValue(a.Value)
	}
	return m
}

func runlogStructUsageOf(u Usage) runlogStructUsage {
	return runlogStructUsage(u)
}

// runlogStructFirstFrame returns the run's first frame in ms, or -1.
func runlogStructFirstFrame(r *Run) int64 {
	if ff, ok := r.FirstFrameMillis(); ok {
		return ff
	}
	return -1
}

// runlogToStruct builds the struct form of r, as a service would for each
// run before calling json.Marshal.
func runlogToStruct(r *Run) *runlogStructRun {
	s := &runlogStructRun{
		ServiceID: r.FlowID, FlowID: r.FlowID, SID: r.SID, AppID: r.AppID, UID: r.UID, BotID: r.BotID,
		ChatID: r.ChatID, Sub: r.Sub, Caller: r.Caller, LogCaller: r.LogCaller, Question: r.Question, Answer: r.Answer,
		StartTime: r.StartUnixNano / 1e6, EndTime: r.EndUnixNano / 1e6, Duration: (r.EndUnixNano - r.StartUnixNano) / 1e6,
		FirstFrameDuration: runlogStructFirstFrame(r),
		Srv:                runlogStructMap(r.Srv), SrvTag: runlogStructMap(r.SrvTag),
		Status: runlogStructStatus{r.Code, r.Message}, Usage: runlogStructUsageOf(r.Usage), Version: LogVersion,
	}
	for _, n := range r.Nodes {
		sn := &runlogStructNode{
			ID: fmt.Sprintf("%x%x", r.TraceID[:8], n.SpanID[:]), SID: r.SID,
			NodeID: n.NodeID, NodeType: n.NodeType, NodeName: n.NodeName, FuncID: n.NodeID, FuncType: n.NodeType, FuncName: n.NodeName,
			NextLogIDs: n.Next, StartTime: n.StartUnixNano / 1e6, EndTime: n.EndUnixNano / 1e6,
			Duration: (n.EndUnixNano - n.StartUnixNano) / 1e6, FirstFrameDuration: (n.FirstFrameUnixNano - n.StartUnixNano) / 1e6,
			NodeFirstCostTime: math.Round(float64(n.FirstTokenCostNano)/1e7) / 100,
			LLMOutput:         n.LLMOutput, RunningStatus: n.Running(),
			Data: runlogStructData{Input: runlogStructMap(n.Input), Output: runlogStructMap(n.Output),
				Config: runlogStructMap(n.Config), Usage: runlogStructUsageOf(n.Usage)},
		}
		for _, e := range n.Events {
			entry, err := json.Marshal(runlogStructLog{"INFO", e.Message, time.Unix(0, e.TimeUnixNano).Format("2006-01-02 15:04:05")})
			if err != nil {
				panic(err)
			}
			sn.Logs = append(sn.Logs, string(entry))
		}
		s.Trace = append(s.Trace, sn)
	}
	return s
}

// BenchmarkRunLogJSON encodes a run of 10 nodes × 8 attributes (+1 log
// entry each): flowtel's encoder, encoding/json on the struct form built
// once (marshal only), and encoding/json including building the structs.
func BenchmarkRunLogJSON(b *testing.B) {
	r := runlogBenchRun()
	size := len(AppendRunLog(nil, r))
	b.Run("flowtel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(size))
		buf := make([]byte, 0, 2*size)
		for b.Loop() {
			buf = AppendRunLog(buf[:0], r)
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		s := runlogToStruct(r)
		b.ReportAllocs()
		b.SetBytes(int64(size))
		for b.Loop() {
			if _, err := json.Marshal(s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json-build", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(size))
		for b.Loop() {
			if _, err := json.Marshal(runlogToStruct(r)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestLogsRepairBody checks the repair of a body found invalid, which
// AppendRunLogWith never writes.
func TestLogsRepairBody(t *testing.T) {
	e := NewEncoder(Resource{ServiceName: "s"})
	body := strings.Repeat("x\xff\xfey", 50)
	dst := append([]byte("head"), body...)
	got := e.repairBody(dst, len("head"))
	if want := "head" + strings.ToValidUTF8(body, "\uFFFD"); string(got) != want {
		t.Fatalf("repairBody = %q, want %q", got, want)
	}
}

// TestEncoderRunLogOptions checks that AppendLogs writes the run log
// bodies as SetRunLogOptions says.
func TestEncoderRunLogOptions(t *testing.T) {
	e := NewEncoder(Resource{ServiceName: "s"})
	r := runlogGoldenRun()
	if out := e.AppendLogs(nil, []*Run{r}); !bytes.Contains(out, []byte(`"logs":["{\"level\": \"INFO\", \"message\": \"step\"`)) {
		t.Fatalf("default body lacks the original's log entries: %q", out)
	}
	e.SetRunLogOptions(RunLogOptions{StructuredLogs: true})
	if out := e.AppendLogs(nil, []*Run{r}); !bytes.Contains(out, []byte(`"logs":[{"level":"INFO","message":"step","time":1700000000002}`)) {
		t.Fatalf("structured body lacks structured log entries: %q", out)
	}
}

// TestRunLogEventAttrs checks the log entry of an event given as data:
// its message is the text Python 3 printed for str() of the same dict.
func TestRunLogEventAttrs(t *testing.T) {
	for _, tc := range []struct {
		attrs []Attr
		want  string
	}{
		{[]Attr{{"llm first token cost: ", Float64Value(1.2)}}, `{'llm first token cost: ': 1.2}`},
		{[]Attr{{"q", StringValue("it's")}, {"n", Int64Value(3)}, {"b", BoolValue(true)}, {"f", Float64Value(2)},
			{"x", Value{}}, {"u", StringValue("世界\u2028\x01\t\\")}, {"nan", Float64Value(math.NaN())},
			{"by", BytesValue([]byte("a\xff'"))}, {"dq", StringValue(`say "hi"`)}, {"both", StringValue(`it's "x"`)}},
			`{'q': "it's", 'n': 3, 'b': True, 'f': 2.0, 'x': None, 'u': '世界\u2028\x01\t\\', 'nan': nan, 'by': b"a\xff'", 'dq': 'say "hi"', 'both': 'it\'s "x"'}`},
	} {
		r := &Run{Nodes: []*Node{{Events: []Event{{Kind: EventInfo, Attrs: tc.attrs}}}}}
		for _, structured := range []bool{false, true} {
			var m struct {
				Trace []struct{ Logs []json.RawMessage }
			}
			if err := json.Unmarshal(AppendRunLogOptions(nil, r, &RunLogOptions{StructuredLogs: structured}), &m); err != nil {
				t.Fatal(err)
			}
			raw := m.Trace[0].Logs[0]
			var text string
			if json.Unmarshal(raw, &text) == nil {
				raw = json.RawMessage(text)
			}
			var entry struct{ Message string }
			if err := json.Unmarshal(raw, &entry); err != nil {
				t.Fatalf("entry %s: %v", raw, err)
			}
			if entry.Message != tc.want {
				t.Errorf("structured %v: message %s, want %s", structured, entry.Message, tc.want)
			}
		}
	}
}

// TestRunLogNextLogIDsIndexed checks that runs past runlogLinearNodes,
// whose next_log_ids are resolved through a sorted index, resolve them as
// the scan (and the reference) does: loops, equal start times, ids that
// never ran.
func TestRunLogNextLogIDsIndexed(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	ids := []string{"a:1", "b:1", "c:1", "message:1", "never:1"}
	for range 50 {
		r := &Run{TraceID: TraceID{1, 2}, StartUnixNano: 1e18}
		for i := range 40 + rng.IntN(200) {
			n := &Node{SpanID: SpanID{byte(i), byte(i >> 8), 1}, NodeID: ids[rng.IntN(4)], StartUnixNano: 1e18 + rng.Int64N(50)}
			for range rng.IntN(3) {
				n.Next = append(n.Next, ids[rng.IntN(len(ids))])
			}
			r.Nodes = append(r.Nodes, n)
		}
		got := AppendRunLogOptions(nil, r, runlogUTC)
		want, err := json.Marshal(runlogReference(r))
		if err != nil {
			t.Fatal(err)
		}
		if g, w := runlogTokens(t, got), runlogTokens(t, want); fmt.Sprint(g) != fmt.Sprint(w) {
			t.Fatalf("indexed next_log_ids differ from the reference\n got: %s\nwant: %s", got, want)
		}
	}
}

// TestRunlogHex8 checks runlogHex8 against encoding/hex: every byte value
// in every position, and random ids.
func TestRunlogHex8(t *testing.T) {
	check := func(b [8]byte) {
		t.Helper()
		var got [16]byte
		runlogHex8(got[:], b)
		if want := hex.EncodeToString(b[:]); string(got[:]) != want {
			t.Fatalf("runlogHex8(%x) = %q, want %q", b, got, want)
		}
	}
	for pos := range 8 {
		for c := range 256 {
			var b [8]byte
			b[pos] = byte(c)
			check(b)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		var b [8]byte
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		check(b)
	}
}

// TestJSONSWARASCIICare checks jsonSWARASCIICare against the byte-wise
// rule, mark by mark: every pair of byte values in two neighbouring
// positions (where a carry could blur the upper one) among bytes of both
// ends of the range, high ones included.
func TestJSONSWARASCIICare(t *testing.T) {
	care := func(c byte) bool { return c < 0x20 || c == '"' || c == '\\' }
	for _, fill := range []byte{' ', '~', 0x7f, 0x80, 0xff} {
		for pos := range 7 {
			for c := range 256 {
				for d := range 256 {
					var b [8]byte
					for i := range b {
						b[i] = fill
					}
					b[pos], b[pos+1] = byte(c), byte(d)
					x := utf8Load64(string(b[:]))
					got := jsonSWARASCIICare(x)
					for i := range b {
						if mark := got>>(8*i+7)&1 == 1; mark != care(b[i]) {
							t.Fatalf("bytes %x: byte %d marked %v, want %v", b, i, mark, care(b[i]))
						}
					}
				}
			}
		}
	}
}

// nodeNamesEscaped is what runlogAppendNodeNamesEscaped writes for n.
func nodeNamesEscaped(n *Node) []byte {
	b, _ := runlogAppendNodeNamesEscaped(nil, n)
	return b
}
