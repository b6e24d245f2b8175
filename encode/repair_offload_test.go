package encode_test

import (
	"context"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/protobuf/proto"

	"github.com/flowtel/flowtel/encode"
)

// TestRepairedSpanOffloadsOnce covers a span written again because a
// repaired key met another ("k\xff" and "k\xfe" are both "k\uFFFD":
// nodeRepaired, runRepaired) whose events are offloaded: each large
// event text, and each event's attributes given as data, is queued once,
// so the store holds exactly the objects the spans link to and
// OffloadStats counts each once. (The first writing, thrown away, had
// queued them as well, and the store held as many objects again, which no
// span linked to.)
func TestRepairedSpanOffloadsOnce(t *testing.T) {
	dir := t.TempDir()
	store, err := encode.NewFSStore(dir, "https://oss.example/b/")
	if err != nil {
		t.Fatal(err)
	}
	o := encode.NewOffloader(store, encode.OffloadConfig{})
	str, i64 := encode.StringValue, encode.Int64Value
	big := strings.Repeat("长", encode.SpanEventOffloadThreshold/3+1) // offloaded: 10 KiB and more
	large := strings.Repeat("v", 2*encode.DefaultOffloadThreshold)   // an attribute value: never offloaded in a span
	events := func() []encode.Event {
		return []encode.Event{
			{Kind: encode.EventInfo, Message: big},
			{Kind: encode.EventError, Message: big},
			{Kind: encode.EventInfo, Attrs: []encode.Attr{{Key: "out", Value: str(big)}}},
		}
	}
	nd := &encode.Node{SpanID: encode.SpanID{3}, NodeID: "llm:1", Events: events(),
		Input: []encode.Attr{{Key: "q", Value: str(large)}},
		// k\xff and k\xfe meet once repaired; input.q repeats Input's q.
		Attrs: []encode.Attr{{Key: "k\xff", Value: str(large)}, {Key: "input.q", Value: str(large)}, {Key: "k\xfe", Value: i64(2)}}}
	run := &encode.Run{TraceID: encode.TraceID{1}, SpanID: encode.SpanID{2}, SID: "spf0001@hf1", Events: events(),
		Attrs: []encode.Attr{{Key: "r\xff", Value: str(large)}, {Key: "r\uFFFD", Value: i64(1)}},
		Nodes: []*encode.Node{nd}}
	e := encode.NewEncoder(encode.Resource{ServiceName: "svc"})
	e.SetOffloader(o)
	spans := encodeSpans(t, e, run)
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	links := map[string]bool{}
	for _, sp := range spans {
		if a := spanAttrs(t, sp); len(sp.Events) != 3 || len(a["r\uFFFD"]+a["k\uFFFD"]) != 1 || len(a["input.q"]) != len(large) && sp.Name != "run" {
			t.Fatalf("span %q: %d events, attributes %.60q", sp.Name, len(sp.Events), a)
		}
		for _, ev := range sp.Events {
			v := ev.Attributes[0].Value.GetStringValue()
			link, ok := strings.CutPrefix(v, "trace_link: ")
			if ev.Attributes[0].Key == "trace_link" {
				link, ok = v, true
			}
			if !ok || links[link] {
				t.Fatalf("span %q event %q: %.60q, not a new link", sp.Name, ev.Attributes[0].Key, v)
			}
			links[link] = true
			if b, err := os.ReadFile(dir + "/" + strings.TrimPrefix(link, "https://oss.example/b/")); err != nil || len(b) < len(big) {
				t.Fatalf("%s: %d bytes stored, %v", link, len(b), err)
			}
		}
	}
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	st := o.Stats()
	if len(links) != 6 || len(files) != len(links) || st.Enqueued != 6 || st.Offloaded != 6 {
		t.Errorf("%d links, %d objects stored, stats %+v: want 6 of each", len(links), len(files), st)
	}
	// Left out: r\xff; k\xff, input.q of Input (Attrs' wins).
	if n := e.Stats().AttrsReplaced; n != 3 {
		t.Errorf("AttrsReplaced = %d, want 3", n)
	}
}

// TestRunLogRepeatedKeysOffloadOnce covers the run trace log's objects
// that repeat a key (or hold keys that are one once repaired), with an
// Offloader, through AppendLogs: an object that repeats a key is found
// before any member is written (appendObject
// then takes appendObjectOnce), so only the value kept, the last, is
// queued, and the store holds exactly the objects the bodies link to.
// (AppendLogs writes the body once: a body repaired as invalid UTF-8 is
// copied, not written again.)
func TestRunLogRepeatedKeysOffloadOnce(t *testing.T) {
	dir := t.TempDir()
	store, err := encode.NewFSStore(dir, "https://oss.example/b/")
	if err != nil {
		t.Fatal(err)
	}
	o := encode.NewOffloader(store, encode.OffloadConfig{})
	str := encode.StringValue
	big := func(tag string) string { return strings.Repeat(tag, encode.DefaultOffloadThreshold/len(tag)+1) }
	nd := &encode.Node{SpanID: encode.SpanID{3}, NodeID: "llm:1",
		// q repeats: the last value is kept and stored, the first not.
		// r\xff and r\xfe are one key once repaired (r\uFFFD): found
		// before any member is written too.
		Input: []encode.Attr{{Key: "q", Value: str(big("first "))}, {Key: "x", Value: str("s")}, {Key: "q", Value: str(big("last "))},
			{Key: "r\xff", Value: str(big("rfirst "))}, {Key: "r\xfe", Value: str(big("rlast "))}},
		// No key repeats as it is: s\xff and s\xfe, after the first
		// value queued (o1), are found before it is queued.
		Output: []encode.Attr{{Key: "o1", Value: str(big("o1 "))}, {Key: "o2", Value: str(big("o2 "))},
			{Key: "s\xff", Value: str(big("sfirst "))}, {Key: "s\xfe", Value: str(big("slast "))}},
		// The same keyBit (length, first and last bytes), distinct keys.
		Config: []encode.Attr{{Key: "axb", Value: str(big("c1 "))}, {Key: "ayb", Value: str(big("c2 "))}, {Key: "azb", Value: str("y")}},
		Events: []encode.Event{{Kind: encode.EventInfo, Message: big("log ")}}}
	run := &encode.Run{TraceID: encode.TraceID{1}, SpanID: encode.SpanID{2}, SID: "spf0001@hf1", Nodes: []*encode.Node{nd}}
	e := encode.NewEncoder(encode.Resource{ServiceName: "svc"})
	e.SetOffloader(o)
	var req collogspb.ExportLogsServiceRequest
	if err := proto.Unmarshal(e.AppendLogs(nil, []*encode.Run{run}), &req); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	body := req.ResourceLogs[0].ScopeLogs[0].LogRecords[0].Body.GetStringValue()
	stored := map[string]string{}
	for _, m := range regexp.MustCompile(`"`+encode.OffloadedPrefix+`https://oss\.example/b/([^"\\]+)`).FindAllStringSubmatch(body, -1) {
		b, err := os.ReadFile(dir + "/" + m[1])
		if _, ok := stored[m[1]]; ok || err != nil {
			t.Fatalf("link %s: twice, or not stored (%v)", m[1], err)
		}
		stored[m[1]] = string(b)
	}
	var values []string
	for _, v := range stored {
		values = append(values, strings.Fields(v)[0])
	}
	slices.Sort(values)
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	// last, rlast, o1, o2, slast, c1, c2, log.
	if st := o.Stats(); len(stored) != 8 || len(files) != 8 || st.Enqueued != 8 || st.Offloaded != 8 ||
		!slices.Equal(values, []string{"c1", "c2", "last", "log", "o1", "o2", "rlast", "slast"}) || strings.Contains(body, "first ") {
		t.Errorf("values stored %q, %d objects, stats %+v: want 8 of each, the first q, r and s nowhere", values, len(files), st)
	}
}
