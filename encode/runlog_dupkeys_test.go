package encode_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/testkit"
)

// jsonDuplicateName walks b with encoding/json's decoder and returns the
// first member name an object holds twice (with its path), or an error
// when b is not one JSON value.
func jsonDuplicateName(b []byte) (string, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	type frame struct {
		names  map[string]bool
		object bool
		key    bool // the next token of an object is a name
	}
	var stack []*frame
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.key {
			if tok == json.Delim('}') {
				stack = stack[:len(stack)-1]
				continue
			}
			name := tok.(string)
			if top.names[name] {
				return fmt.Sprintf("%q at offset %d", name, d.InputOffset()), nil
			}
			top.names[name] = true
			top.key = false
			continue
		}
		if top != nil && top.object {
			top.key = true // this token is the member's value
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{names: map[string]bool{}, object: true, key: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}

func TestJSONDuplicateName(t *testing.T) {
	for in, want := range map[string]string{
		`{"a":1,"b":{"a":2,"c":[{"a":1},{"a":2}]}}`: "",
		`{"a":1,"b":{"c":2,"c":3}}`:                 `"c" at offset 21`,
		`[{"x":{},"x":[]}]`:                         `"x" at offset 12`,
		`{"k\uFFFD":1,"k` + "\uFFFD" + `":2}`:       `"k` + "\uFFFD" + `" at offset 19`,
	} {
		if got, err := jsonDuplicateName([]byte(in)); got != want || err != nil {
			t.Errorf("jsonDuplicateName(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// dupKeysRun is a run whose node lists and event given as data hold keys
// that are one once written: repeated, or different only in invalid
// UTF-8 ("k\xff" and "k\xfe" are both "k\uFFFD" in JSON, 'k\ufffd' in the
// entry's Python text), in short and long lists (maxScanAttrs is 64).
func dupKeysRun(long int) *encode.Run {
	str, num := encode.StringValue, encode.Int64Value
	var many []encode.Attr
	for i := range long {
		many = append(many, encode.Attr{Key: "m" + strconv.Itoa(i), Value: num(int64(i))})
	}
	many = append(many, encode.Attr{Key: "z\xff", Value: num(1)}, encode.Attr{Key: "z\xfe\xfd", Value: num(2)})
	nd := &encode.Node{SpanID: encode.SpanID{3}, NodeID: "n1", NodeType: "llm", NodeName: "llm",
		Input:  []encode.Attr{{Key: "k\xff", Value: num(1)}, {Key: "k\xfe", Value: num(2)}},
		Output: []encode.Attr{{Key: "a", Value: str("x")}, {Key: "名\xff", Value: str("1")}, {Key: "b", Value: str("y")}, {Key: "名\uFFFD", Value: str("2")}},
		Config: many,
		Events: []encode.Event{{Kind: encode.EventInfo, TimeUnixNano: 1e18, Attrs: []encode.Attr{
			{Key: "k\xff", Value: num(1)}, {Key: "x", Value: str("s")}, {Key: "k\xfe", Value: num(2)}, {Key: "x", Value: str("t")},
			{Key: "first token cost: ", Value: encode.Float64Value(1.5)}, {Key: "p\xff\xfe", Value: num(3)}, {Key: "p\xff", Value: num(4)},
		}}}}
	return &encode.Run{TraceID: encode.TraceID{1}, SpanID: encode.SpanID{2}, SID: "spf0001@hf1", FlowID: "f",
		StartUnixNano: 1e18, EndUnixNano: 1e18 + 1e9, Nodes: []*encode.Node{nd}}
}

// TestRunLogKeysOnceRepaired: no object of the run log names a member
// twice, checked with encoding/json's decoder, when keys differ only in
// invalid UTF-8, with and without an Offloader, in short lists (the
// assembly's members and appendMember) and long ones (a map); each key
// keeps its first place and takes its last value, as the original's
// Python dict (and the span encoder, sameKeyRepaired). The INFO entry of
// an event given as data holds its dict's text with each key once too.
func TestRunLogKeysOnceRepaired(t *testing.T) {
	store, err := encode.NewFSStore(t.TempDir(), "https://oss.example/b/")
	if err != nil {
		t.Fatal(err)
	}
	o := encode.NewOffloader(store, encode.OffloadConfig{})
	defer func() { _ = o.Close(t.Context()) }()
	for _, long := range []int{0, 3, 70} {
		for _, off := range []*encode.Offloader{nil, o} {
			r := dupKeysRun(long)
			out := encode.AppendRunLogOptions(nil, r, &encode.RunLogOptions{Offloader: off, Location: time.UTC})
			if dup, err := jsonDuplicateName(out); dup != "" || err != nil {
				t.Fatalf("long %d, offloader %v: member named twice: %s (%v)\n%s", long, off != nil, dup, err, out)
			}
			var doc struct {
				Trace []struct {
					Data struct {
						Input, Output, Config json.RawMessage
					}
					Logs []string
				}
			}
			if err := json.Unmarshal(out, &doc); err != nil {
				t.Fatal(err)
			}
			d := doc.Trace[0].Data
			if got, want := string(d.Input), `{"k`+"\uFFFD"+`":2}`; got != want {
				t.Errorf("input %s, want %s", got, want)
			}
			if got, want := string(d.Output), `{"a":"x","名`+"\uFFFD"+`":"2","b":"y"}`; got != want {
				t.Errorf("output %s, want %s", got, want)
			}
			if !strings.HasSuffix(string(d.Config), `"z`+"\uFFFD"+`":2}`) || strings.Count(string(d.Config), ":") != long+1 {
				t.Errorf("config %s: want %d members, z\uFFFD once with 2", d.Config, long+1)
			}
			var entry struct{ Message string }
			if err := json.Unmarshal([]byte(doc.Trace[0].Logs[0]), &entry); err != nil {
				t.Fatal(err)
			}
			if want := `{'k` + "\uFFFD" + `': 2, 'x': 't', 'first token cost: ': 1.5, 'p` + "\uFFFD\uFFFD" + `': 3, 'p` + "\uFFFD" + `': 4}`; entry.Message != want {
				t.Errorf("entry message %s, want %s", entry.Message, want)
			}
		}
	}
}

// dupKeysOnce is attrs with each key once, at its first place with its
// last value, keys compared by canon.
func dupKeysOnce(attrs []encode.Attr, canon func(string) string) []encode.Attr {
	var out []encode.Attr
	at := map[string]int{}
	for _, a := range attrs {
		k := canon(a.Key)
		if i, ok := at[k]; ok {
			out[i].Value = a.Value
			continue
		}
		at[k] = len(out)
		out = append(out, a)
	}
	return out
}

// FuzzRunLogKeysOnce: for any keys, the run log's objects (short lists,
// and long ones past maxScanAttrs) name each member once, and are what
// the same lists with each key once write, keys compared as written
// (each maximal run of invalid UTF-8 one U+FFFD); the INFO entry of an
// event given as data is what its dict with each key once writes (each
// invalid byte one U+FFFD, as its Python text writes it).
func FuzzRunLogKeysOnce(f *testing.F) {
	for _, s := range []string{"k\xff\x00k\xfe", "a\x00a\x00b", "名\xff\x00名\uFFFD\x00x", "p\xff\xfe\x00p\xff\x00p\xfe\xfd", "\xff\x00\xfe\x00\"\x00'\x00'\xff"} {
		f.Add([]byte(s))
	}
	// A closed Offloader counts each value offered (Closed) and cuts it:
	// each key kept is offered once, none left out.
	closed := encode.NewOffloader(dupDiscardStore{}, encode.OffloadConfig{Threshold: 64})
	if err := closed.Close(context.Background()); err != nil {
		f.Fatal(err)
	}
	json := func(k string) string { return strings.ToValidUTF8(k, "\uFFFD") }
	py := func(k string) string { return string([]rune(k)) } // each invalid byte U+FFFD
	f.Fuzz(func(t *testing.T, data []byte) {
		keys := strings.Split(string(data), "\x00")
		if len(keys) > 40 {
			keys = keys[:40]
		}
		var attrs, long []encode.Attr
		for i, k := range keys {
			attrs = append(attrs, encode.Attr{Key: k, Value: encode.Int64Value(int64(i))})
		}
		for i := range 66 {
			long = append(long, encode.Attr{Key: "f" + strconv.Itoa(i), Value: encode.Int64Value(int64(i))})
		}
		long = append(long, attrs...)
		run := func(in, out, ev []encode.Attr) []byte {
			r := dupKeysRun(0)
			nd := r.Nodes[0]
			nd.Input, nd.Output, nd.Config = in, out, in[:len(in):len(in)]
			nd.Events[0].Attrs = ev
			return encode.AppendRunLogOptions(nil, r, &encode.RunLogOptions{Location: time.UTC})
		}
		got := run(attrs, long, attrs)
		if dup, err := jsonDuplicateName(got); dup != "" || err != nil {
			t.Fatalf("member named twice: %s (%v)\n%s", dup, err, got)
		}
		// The entry alone from the dict with each key once, the objects
		// from the lists with each key once.
		entry := func(b []byte) string { return string(b[bytes.Index(b, []byte(`"logs":[`)):]) }
		objects := func(b []byte) string { return string(b[:bytes.Index(b, []byte(`"logs":[`))]) }
		if want := run(attrs, long, dupKeysOnce(attrs, py)); entry(got) != entry(want) {
			t.Fatalf("entry %s, want %s", entry(got), entry(want))
		}
		if want := run(dupKeysOnce(attrs, json), dupKeysOnce(long, json), attrs); objects(got) != objects(want) {
			t.Fatalf("objects\n%s\nwant\n%s", objects(got), objects(want))
		}
		large := func(as []encode.Attr) []encode.Attr {
			var l []encode.Attr
			for i, a := range as {
				l = append(l, encode.Attr{Key: a.Key, Value: encode.StringValue(strings.Repeat("v", 64) + strconv.Itoa(i))})
			}
			return l
		}
		r := dupKeysRun(0)
		nd := r.Nodes[0]
		nd.Input, nd.Output, nd.Config, nd.Events = large(attrs), large(long), large(attrs[len(attrs)/2:]), nil
		before := closed.Stats().Closed
		out := encode.AppendRunLogOptions(nil, r, &encode.RunLogOptions{Offloader: closed})
		if dup, err := jsonDuplicateName(out); dup != "" || err != nil {
			t.Fatalf("with an Offloader, member named twice: %s (%v)\n%s", dup, err, out)
		}
		want := len(dupKeysOnce(nd.Input, json)) + len(dupKeysOnce(nd.Output, json)) + len(dupKeysOnce(nd.Config, json))
		if got := closed.Stats().Closed - before; got != uint64(want) {
			t.Fatalf("with an Offloader, %d values offered, want %d, one a key kept\n%s", got, want, out)
		}
	})
}

type dupDiscardStore struct{}

func (dupDiscardStore) Link(string) string                        { return "discard" }
func (dupDiscardStore) Put(context.Context, string, []byte) error { return nil }

// TestRunLogDataEventOffloaded: with an Offloader, the logs entry of an
// event given as data whose dict text is its threshold bytes or more is
// offloaded as a log message is (the original replaced any string of the
// document from 5088 bytes, log entries included): the entry keeps its
// level and time, its message is the link, and the store holds the text
// written without an Offloader. Up to Limits.EventAttrs values of
// Limits.ValueBytes each, left whole, took the record to megabytes. A
// smaller text stays in place.
func TestRunLogDataEventOffloaded(t *testing.T) {
	dir := t.TempDir()
	store, err := encode.NewFSStore(dir, "https://oss.example/b/")
	if err != nil {
		t.Fatal(err)
	}
	o := encode.NewOffloader(store, encode.OffloadConfig{})
	big := strings.Repeat("结果 \"q\" 'x' \\ ", encode.DefaultOffloadThreshold/8)
	mk := func() *encode.Run {
		r := dupKeysRun(0)
		r.Nodes[0].Events = []encode.Event{
			{Kind: encode.EventInfo, TimeUnixNano: 1e18, Attrs: []encode.Attr{{Key: "a", Value: encode.StringValue(big)}, {Key: "n", Value: encode.Int64Value(1)}}},
			{Kind: encode.EventInfo, TimeUnixNano: 1e18, Attrs: []encode.Attr{{Key: "small", Value: encode.StringValue("v")}}},
		}
		return r
	}
	type doc struct{ Trace []struct{ Logs []string } }
	messages := func(out []byte) []string {
		var d doc
		if err := json.Unmarshal(out, &d); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		var ms []string
		for _, l := range d.Trace[0].Logs {
			var e struct{ Level, Message, Time string }
			if err := json.Unmarshal([]byte(l), &e); err != nil || e.Level != "INFO" || e.Time == "" {
				t.Fatalf("entry %s: %v", l, err)
			}
			ms = append(ms, e.Message)
		}
		return ms
	}
	whole := messages(encode.AppendRunLogOptions(nil, mk(), &encode.RunLogOptions{Location: time.UTC}))
	if len(whole[0]) < encode.DefaultOffloadThreshold || whole[1] != `{'small': 'v'}` {
		t.Fatalf("messages without an Offloader: %.80q…, %q", whole[0], whole[1])
	}
	out := encode.AppendRunLogOptions(nil, mk(), &encode.RunLogOptions{Offloader: o, Location: time.UTC})
	got := messages(out)
	if err := o.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	link, ok := strings.CutPrefix(got[0], encode.OffloadedPrefix+"https://oss.example/b/")
	if !ok || got[1] != whole[1] || len(out) > 4096 {
		t.Fatalf("messages with an Offloader: %q, %q (record of %d bytes)", got[0], got[1], len(out))
	}
	stored, err := os.ReadFile(dir + "/" + link)
	if st := o.Stats(); err != nil || string(stored) != whole[0] || st.Enqueued != 1 || st.Offloaded != 1 {
		t.Errorf("stored %.80q… (%v), stats %+v: want the text written whole, once", stored, err, st)
	}
}

// repeatedKeyRun is a run whose node repeats a key in its Input and in an
// INFO entry given as data, and carries the GenAI conventions' Attrs:
// the paths that handle repeated keys (appendObject's repeated-key bits and
// appendObjectOnce, runlogAppendPyDictOnce, attrsMayRepeat's mask).
func repeatedKeyRun() *encode.Run {
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

// TestRepeatedKeyRunAllocs: the run log and the spans of repeatedKeyRun allocate
// nothing once their buffers have grown, and the run log names q once,
// with its last value.
func TestRepeatedKeyRunAllocs(t *testing.T) {
	r := repeatedKeyRun()
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

// TestRunLogPyDictOnce: an INFO entry given as data that repeats a key
// writes it once in its dict text, with its last value.
func TestRunLogPyDictOnce(t *testing.T) {
	out := string(encode.AppendRunLog(nil, repeatedKeyRun()))
	if strings.Count(out, `'k'`) != 1 || !strings.Contains(out, `'k': '2'`) {
		t.Errorf("run log %s: want the dict's k once, its last value 2", out)
	}
}

// jsonKeysOnce fails when an object of the JSON text b names a member
// twice.
func jsonKeysOnce(t *testing.T, b []byte) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	type frame struct {
		obj  bool
		seen map[string]bool
		key  bool // the next string is a key
	}
	var st []frame
	for {
		tok, err := d.Token()
		if err != nil {
			if len(st) != 0 {
				t.Fatalf("run log: %v\n%s", err, b)
			}
			return
		}
		if k, ok := tok.(string); ok && len(st) != 0 && st[len(st)-1].obj && st[len(st)-1].key {
			n := len(st)
			if st[n-1].seen[k] {
				t.Fatalf("run log names %q twice in an object:\n%s", k, b)
			}
			st[n-1].seen[k], st[n-1].key = true, false
			continue
		}
		switch tok {
		case json.Delim('{'):
			st = append(st, frame{obj: true, seen: map[string]bool{}, key: true})
			continue
		case json.Delim('['):
			st = append(st, frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			st = st[:len(st)-1]
		}
		if n := len(st); n != 0 && st[n-1].obj {
			st[n-1].key = true // a value ended
		}
	}
}

// TestRunLogKeysOnceRandom writes run logs whose node lists draw keys
// that repeat, as given or once repaired, some of them long, of short
// plain members and others (jsonAppendShortMembers' bits and
// appendMember), with and without an offloader: no object names a member
// twice.
func TestRunLogKeysOnceRandom(t *testing.T) {
	keys := []string{"q", "in0", "in1", "k\xff", "k\xfe", "k\uFFFD", "x", "", "a\"b", "é", "keykeykeykeykeyk", "keykeykeykeykeykey"}
	vals := []encode.Value{encode.StringValue("v"), encode.StringValue("vvvvvvvvvvvvvvvvvvvv"), encode.Int64Value(3),
		encode.StringValue("a\nb"), encode.StringValue(strings.Repeat("w", 100))}
	rng := rand.New(rand.NewPCG(11, 18))
	list := func(n int) []encode.Attr {
		as := make([]encode.Attr, rng.IntN(n+1))
		for i := range as {
			as[i] = encode.Attr{Key: keys[rng.IntN(len(keys))], Value: vals[rng.IntN(len(vals))]}
		}
		return as
	}
	o := encode.NewOffloader(discardStore{}, encode.OffloadConfig{Threshold: 64})
	defer o.Close(t.Context())
	for i := range 2000 {
		n := 6
		if i%40 == 0 {
			n = 90
		}
		nd := &encode.Node{SpanID: encode.SpanID{2}, NodeID: "n", NodeType: "t", StartUnixNano: 1e18, EndUnixNano: 1e18 + 1,
			Input: list(n), Output: list(n), Config: list(n),
			Events: []encode.Event{{Kind: encode.EventInfo, TimeUnixNano: 1e18, Attrs: list(n)}}}
		r := &encode.Run{TraceID: encode.TraceID{1}, SpanID: encode.SpanID{1}, SID: "s", Nodes: []*encode.Node{nd}}
		jsonKeysOnce(t, encode.AppendRunLog(nil, r))
		jsonKeysOnce(t, encode.AppendRunLogWith(nil, r, o))
		jsonKeysOnce(t, encode.AppendRunLogOptions(nil, r, &encode.RunLogOptions{StructuredLogs: true}))
	}
}

// discardStore takes every value and keeps none.
type discardStore struct{}

func (discardStore) Link(key string) string                    { return "mem:" + key }
func (discardStore) Put(context.Context, string, []byte) error { return nil }
