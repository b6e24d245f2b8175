package encode

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/protobuf/proto"
)

// runlogASCII returns s with each byte from 0x80 replaced by 'x'.
func runlogASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 0x80 {
			return 'x'
		}
		return r
	}, strings.ToValidUTF8(s, "x"))
}

// runlogMapAttrs replaces the keys and string values of attrs by f's.
func runlogMapAttrs(attrs []Attr, f func(string) string) {
	for i := range attrs {
		attrs[i].Key = f(attrs[i].Key)
		if attrs[i].Value.kind() == KindString {
			attrs[i].Value = StringValue(f(attrs[i].Value.str()))
		}
	}
}

// runlogMapRun replaces every string of r by f's.
func runlogMapRun(r *Run, f func(string) string) {
	for _, p := range []*string{&r.ServiceID, &r.FlowID, &r.SID, &r.AppID, &r.UID, &r.BotID, &r.ChatID,
		&r.Sub, &r.Caller, &r.LogCaller, &r.Question, &r.Answer, &r.Message, &r.StatusMessage} {
		*p = f(*p)
	}
	runlogMapAttrs(r.Srv, f)
	runlogMapAttrs(r.SrvTag, f)
	for _, n := range r.Nodes {
		for _, p := range []*string{&n.NodeID, &n.NodeType, &n.NodeName, &n.LLMOutput, &n.StatusMessage} {
			*p = f(*p)
		}
		for i := range n.Next {
			n.Next[i] = f(n.Next[i])
		}
		runlogMapAttrs(n.Input, f)
		runlogMapAttrs(n.Output, f)
		runlogMapAttrs(n.Config, f)
		for i := range n.Events {
			e := &n.Events[i]
			e.Message, e.Type, e.Stacktrace = f(e.Message), f(e.Type), f(e.Stacktrace)
			runlogMapAttrs(e.Attrs, f)
		}
	}
}

// runlogASCIIBut makes every string of r ASCII (escapes kept: quotes,
// backslashes and control characters still take the escaping paths) but
// the keep-th one, which becomes text, and returns how many strings r has.
func runlogASCIIBut(r *Run, keep int, text string) int {
	k := 0
	runlogMapRun(r, func(s string) string {
		k++
		if k-1 == keep {
			return text
		}
		return runlogASCII(s)
	})
	return k
}

// runlogRandText returns runlogRandString's strings and, as often, text
// of 1 to 80 pieces that needs no escape: ASCII, or with bytes from 0x80
// (other scripts), the shapes each fast path of the writer takes.
func runlogRandText(rng *rand.Rand) string {
	if rng.IntN(2) == 0 {
		return runlogRandString(rng)
	}
	pieces := []string{"a", "node ", "x", "é", "世界", "😀", "\u00e9"}
	var sb strings.Builder
	for range 1 + rng.IntN([]int{4, 16, 80}[rng.IntN(3)]) {
		sb.WriteString(pieces[rng.IntN(len(pieces))])
	}
	return sb.String()
}

// TestRunLogHighProperty is the property test of AppendLogs's UTF-8
// check, which runs only on the bodies the writer says may hold a byte
// from 0x80 (appendRunLog's high): on random runs, invalid UTF-8, text in
// other scripts, escapes, events given as data and both log entry shapes
// included, and on the same runs made ASCII but for one string, a body
// reported ASCII is
// ASCII, and the body of each log record, read with the official decoder,
// is exactly what the check on every body gave: the run log JSON with each
// run of invalid UTF-8 replaced by U+FFFD.
func TestRunLogHighProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	e := NewEncoder(Resource{ServiceName: "s"})
	var buf, out []byte
	ascii := 0
	for i := range 3000 {
		r := runlogRandRun(rng)
		for _, n := range r.Nodes {
			for k := range n.Events {
				if rng.IntN(3) == 0 {
					n.Events[k].Attrs = runlogRandAttrs(rng, 3)
				}
			}
		}
		// One run in three as it is, the others ASCII but for one of
		// their strings (or none), so that no other string's bytes hide
		// a string reported ASCII that is not.
		if i%3 != 0 {
			runlogASCIIBut(r, rng.IntN(runlogASCIIBut(r, -1, "")+1), runlogRandText(rng))
		}
		opts := RunLogOptions{Location: time.UTC, StructuredLogs: rng.IntN(3) == 0}
		var clock runlogClock
		var high bool
		buf, high = appendRunLog(buf[:0], r, &opts, &clock)
		if !high {
			ascii++
			for j, c := range buf {
				if c >= 0x80 {
					t.Fatalf("run %d: body reported ASCII has byte %#x at %d: %q", i, c, j, buf)
				}
			}
		}
		e.SetRunLogOptions(opts)
		out = e.AppendLogs(out[:0], []*Run{r})
		var req collogspb.ExportLogsServiceRequest
		if err := proto.Unmarshal(out, &req); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		got := req.ResourceLogs[0].ScopeLogs[0].LogRecords[0].Body.GetStringValue()
		if want := strings.ToValidUTF8(string(AppendRunLogOptions(nil, r, &opts)), "\uFFFD"); got != want {
			t.Fatalf("run %d: body\n %q\nwant\n %q", i, got, want)
		}
	}
	if ascii < 300 {
		t.Fatalf("only %d of the bodies reported ASCII: the property is hardly tested", ascii)
	}
}
