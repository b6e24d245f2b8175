package fuzz

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/otlpref"
)

// fastBad are the bytes that take a string off the encoders' ASCII fast
// paths: control bytes and NUL, quote and backslash (the run log's), DEL,
// text of other scripts, U+2028, and bytes that are not UTF-8.
var fastBad = []string{"\x00", "\x1f", "\n", "\"", "\\", "\x7f", "é", "世", "😀", "\u2028", "\x80", "\xff", "\xe2\x80", "\xed\xa0\x80"}

// fastString returns a string of n bytes of printable ASCII, which the
// encoders' fast paths take (a node span's name, the usual event's
// message, a long attribute value copied as it is tested), with, half the
// time, one of fastBad at a random place, which sends it back to the
// general path from wherever the fast path found it.
func fastString(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(' ' + rng.IntN(0x7f-' '))
	}
	s := string(b)
	if n > 0 && rng.IntN(2) == 0 {
		at := rng.IntN(n)
		s = s[:at] + fastBad[rng.IntN(len(fastBad))] + s[at:]
	}
	return s
}

// fastLen returns a length around the fast paths' bounds: node names of
// 4 to 16 bytes, event messages of 8 to 64, long values from 17 bytes to
// past 8 KiB.
func fastLen(rng *rand.Rand) int {
	switch rng.IntN(5) {
	case 0:
		return rng.IntN(20)
	case 1:
		return 4 + rng.IntN(13)
	case 2:
		return 60 + rng.IntN(10)
	case 3:
		return 17 + rng.IntN(300)
	default:
		return 8<<10 - 40 + rng.IntN(80)
	}
}

// fastBatch returns runs shaped as the encoders' fast paths expect (ASCII
// node ids, usual INFO and ERROR events, long ASCII values under ASCII
// keys), each string off them at a random byte half the time.
func fastBatch(rng *rand.Rand, maxRuns, maxNodes int) []*encode.Run {
	str := func() string { return fastString(rng, fastLen(rng)) }
	var runs []*encode.Run
	for i := range 1 + rng.IntN(maxRuns) {
		r := &encode.Run{TraceID: encode.TraceID{byte(i + 1)}, SpanID: encode.SpanID{byte(i + 1)}, FlowID: str(), SID: str(),
			AppID: str(), Question: str(), Answer: str(), StartUnixNano: 1e18, EndUnixNano: 1e18 + 5e9}
		for j := range rng.IntN(maxNodes + 1) {
			n := &encode.Node{SpanID: encode.SpanID{byte(i + 1), byte(j + 1)}, NodeID: str(), NodeType: str(), NodeName: str(),
				StartUnixNano: 1e18 + 1e6, EndUnixNano: 1e18 + 2e9, LLMOutput: str()}
			for k := range rng.IntN(6) {
				key := fastString(rng, 1+rng.IntN(20))
				if rng.IntN(3) != 0 {
					key = "k" + strconv.Itoa(k)
				}
				n.Input = append(n.Input, encode.Attr{Key: key, Value: encode.StringValue(str())})
			}
			n.Output = []encode.Attr{{Key: "answer", Value: encode.StringValue(str())}}
			for range rng.IntN(3) {
				n.Events = append(n.Events, encode.Event{TimeUnixNano: 1e18 + 3e6, Kind: encode.EventKind(rng.IntN(2)), Message: str()})
			}
			for range rng.IntN(3) {
				n.Next = append(n.Next, str())
			}
			r.Nodes = append(r.Nodes, n)
		}
		runs = append(runs, r)
	}
	return runs
}

// checkFastBatch encodes runs as traces and logs and compares what the
// official decoder reads with the reference (internal/otlpref).
func checkFastBatch(t *testing.T, runs []*encode.Run) {
	t.Helper()
	res := encode.Resource{ServiceName: "svc"}
	e := encode.NewEncoder(res)
	var rb otlpref.Builder
	encCheck(t, &coltracepb.ExportTraceServiceRequest{}, rb.Traces(rb.Resource(res), runs), e.AppendTraces(nil, runs))
	encCheck(t, &collogspb.ExportLogsServiceRequest{}, rb.Logs(rb.Resource(res), runs), e.AppendLogs(nil, runs))
}

// TestEncodeFastPathsProperty: 300 batches shaped for the encoders' fast
// paths, strings of ASCII around their length bounds with one byte that
// is not taken at a random place half the time, decode as the reference
// says, as traces and as logs (FuzzEncodeTraces's raw bytes are rarely
// all ASCII, so they seldom reach those paths).
func TestEncodeFastPathsProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 64))
	for range 300 {
		checkFastBatch(t, fastBatch(rng, 3, 4))
	}
}

// FuzzEncodeFastPaths is TestEncodeFastPathsProperty on a run of up to
// two nodes drawn from the fuzzer's seed, with its string as every value
// (cut or repeated to the length drawn).
func FuzzEncodeFastPaths(f *testing.F) {
	f.Add(uint64(1), "node:1")
	f.Add(uint64(2), "a message of ascii text that is long enough for the long writer")
	f.Add(uint64(3), "\"quoted\"\x00")
	f.Fuzz(func(t *testing.T, seed uint64, s string) {
		runs := fastBatch(rand.New(rand.NewPCG(seed, 2)), 1, 2)
		if s == "" {
			checkFastBatch(t, runs)
			return
		}
		fill := func(v *string) {
			if n := len(*v); n > 0 {
				*v = strings.Repeat(s, n/len(s)+1)[:n]
			}
		}
		for _, r := range runs {
			fill(&r.FlowID)
			fill(&r.Question)
			for _, n := range r.Nodes {
				fill(&n.NodeID)
				fill(&n.NodeName)
				fill(&n.LLMOutput)
				for i := range n.Events {
					fill(&n.Events[i].Message)
				}
				for i := range n.Input {
					v := n.Input[i].Value.Str()
					fill(&v)
					n.Input[i].Value = encode.StringValue(v)
				}
			}
		}
		checkFastBatch(t, runs)
	})
}
