package engine

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
)

// modelNode is what a node of TestPlainFlagModel recorded, as the engine
// should export it.
type modelNode struct {
	typ                 string
	input, output, conf []string // key=value
	attrs, next         []string
	events              int
	status              string // ok, error, cancelled
	code                int64
	hasCode             bool
	open                bool // never ended: closed with its run
}

// modelAttrs makes k attributes of hostile shapes: short strings, values
// past smallValue (counted in big), Bytes values (copied into the
// record), integers.
func modelAttrs(rng *rand.Rand, prefix string, k int) ([]Attr, []string) {
	attrs := make([]Attr, k)
	want := make([]string, k)
	for i := range attrs {
		key := prefix + strconv.Itoa(i)
		switch rng.IntN(6) {
		case 0:
			v := strings.Repeat("L", 1000+rng.IntN(100)) + key
			attrs[i], want[i] = String(key, v), key+"="+v
		case 1:
			b := []byte("bytes-" + key)
			attrs[i], want[i] = Bytes(key, b), key+"=b:"+string(b)
		case 2:
			attrs[i], want[i] = Int64(key, int64(i)), key+"="+strconv.Itoa(i)
		default:
			attrs[i], want[i] = String(key, "v"+key), key+"=v"+key
		}
	}
	return attrs, want
}

// modelShow writes exported attributes as modelAttrs's want does.
func modelShow(attrs []encode.Attr) []string {
	out := make([]string, len(attrs))
	for i, a := range attrs {
		switch a.Value.Kind() {
		case encode.KindBytes:
			out[i] = a.Key + "=b:" + a.Value.Str()
		case encode.KindInt64:
			out[i] = a.Key + "=" + strconv.FormatInt(a.Value.Int64(), 10)
		default:
			out[i] = a.Key + "=" + a.Value.Str()
		}
	}
	return out
}

// TestPlainFlagModel drives runs of random nodes (plain ones, whose
// records the pipeline reads on three lines and releases without a reset,
// and rich ones: lists off the pool or past Limits.Attrs, Bytes values,
// next ids past the 16 Next compares before its map, repeated, events,
// codes, failures, cancels, span attributes, nodes never ended) through
// reused run and node records, with stale calls of every rare method
// after each node's End, and compares every exported node and the node
// metrics with a model of what each node recorded: nothing of a record's
// earlier node, nothing of a stale call, every node folded once with its
// status. With several goroutines (each owning its runs) under -race.
func TestPlainFlagModel(t *testing.T) {
	for _, goroutines := range []int{1, 3} {
		t.Run(strconv.Itoa(goroutines), func(t *testing.T) { plainFlagModel(t, goroutines) })
	}
}

func plainFlagModel(t *testing.T, goroutines int) {
	const attrLimit = 40
	sink := &MemorySink{}
	e, err := New(WithSink(sink), WithBatch(64, time.Millisecond), WithLimits(Limits{Attrs: attrLimit}))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	types := []string{"start", "llm", "tool", "code", "end", "message", strings.Repeat("t", idFloor+1)}
	var mu sync.Mutex
	want := map[string]*modelNode{}
	var orphans []Node
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 16))
			for run := range 150 {
				r := e.StartRun(RunInfo{FlowID: "f"})
				var open []Node
				// A quarter of the runs have 33 to 102 nodes, mostly of
				// one type: the metrics record durations 32 at a time
				// (hdr RecordAll), and a kept series is replaced with
				// durations pending.
				nodes, single := 1+rng.IntN(40), rng.IntN(4) == 0
				if single {
					nodes = 33 + rng.IntN(70)
				}
				for i := range nodes {
					name := fmt.Sprintf("g%d-r%d-n%d", g, run, i)
					m := &modelNode{typ: types[rng.IntN(len(types))], status: "ok"}
					if single && rng.IntN(8) != 0 {
						m.typ = "llm"
					}
					n := r.StartNode("id:"+strconv.Itoa(i), m.typ, name)
					room := attrLimit
					list := func(prefix string, add func(...Attr)) []string {
						a, w := modelAttrs(rng, prefix, rng.IntN(14))
						add(a...)
						k := min(len(a), room)
						room -= k
						return w[:k]
					}
					m.input = list("in", n.Input)
					if rng.IntN(2) == 0 {
						m.output = list("out", n.Output)
					}
					if rng.IntN(3) == 0 {
						m.conf = list("cfg", n.Config)
					}
					if rng.IntN(4) == 0 { // a second call on a list
						m.input = append(m.input, list("in2-", n.Input)...)
					}
					rich := rng.IntN(3) == 0
					if rich {
						switch rng.IntN(7) {
						case 0:
							var ids []string
							for j := range 10 + rng.IntN(20) {
								ids = append(ids, "next:"+strconv.Itoa(j%13+rng.IntN(2)*j))
							}
							n.Next(ids...)
							n.Next(ids[:5]...)
							seen := map[string]bool{}
							for _, id := range ids {
								if !seen[id] && room > 0 {
									seen[id] = true
									m.next = append(m.next, id)
									room--
								}
							}
						case 1:
							n.Info("entry")
							m.events++
						case 2:
							n.SetCode(7)
							m.code, m.hasCode = 7, true
						case 3:
							n.Error("bad")
							m.events++
							m.status = "error"
						case 4:
							m.attrs = list("span", n.SetAttributes)
						case 5:
							n.FirstFrame()
						case 6:
							n.Usage(Usage{PromptTokens: 1, TotalTokens: 1})
						}
					}
					mu.Lock()
					want[name] = m
					mu.Unlock()
					switch rng.IntN(12) {
					case 0:
						n.Fail("failed")
						m.events++
						m.status = "error"
					case 1:
						n.Cancel("")
						m.status = "cancelled"
					case 2:
						// Closed by the pipeline with its run: exported
						// with its identity alone, incomplete.
						open = append(open, n)
						*m = modelNode{typ: m.typ, status: "error", open: true}
						continue
					default:
						n.End()
					}
					// Stale calls: after End every call is a no-op.
					n.Input(String("stale", "x"))
					n.Output(Bytes("stale", []byte("x")))
					n.SetAttributes(String("stale", "x"))
					n.Next("stale:1")
					n.Info("stale")
					n.SetCode(9)
					n.Fail("stale")
					n.End()
				}
				r.End(0, "")
				mu.Lock()
				orphans = append(orphans, open...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The nodes left open were closed with their runs (a call between
	// the run's End and the pipeline's read may still land, as a branch
	// ending with its run does): their owners' calls now write to
	// orphaned records, which nothing reads.
	for _, n := range orphans {
		n.Input(String("late", "x"))
		n.Next("late:1")
		n.End()
	}
	got := 0
	for _, run := range sink.Runs() {
		for _, n := range run.Nodes {
			got++
			m := want[n.NodeName]
			if m == nil {
				t.Fatalf("node %q exported, never started", n.NodeName)
			}
			check := func(what string, got, want []string) {
				t.Helper()
				if strings.Join(got, ",") != strings.Join(want, ",") {
					t.Fatalf("node %q %s = %q, want %q", n.NodeName, what, got, want)
				}
			}
			check("input", modelShow(n.Input), m.input)
			check("output", modelShow(n.Output), m.output)
			check("config", modelShow(n.Config), m.conf)
			check("span attributes", modelShow(n.Attrs), m.attrs)
			check("next", n.Next, m.next)
			if len(n.Events) != m.events || n.HasCode != m.hasCode || n.Code != m.code {
				t.Fatalf("node %q: %d events, code %v %d; want %d, %v %d", n.NodeName, len(n.Events), n.HasCode, n.Code, m.events, m.hasCode, m.code)
			}
			status := "ok"
			switch {
			case n.Cancelled:
				status = "cancelled"
			case n.Status == encode.StatusError:
				status = "error"
			}
			if status != m.status {
				t.Fatalf("node %q exported %s, want %s", n.NodeName, status, m.status)
			}
			if n.EndUnixNano < n.StartUnixNano || n.StartUnixNano < run.StartUnixNano || n.EndUnixNano > run.EndUnixNano {
				t.Fatalf("node %q lies at %d..%d outside its run %d..%d", n.NodeName, n.StartUnixNano, n.EndUnixNano, run.StartUnixNano, run.EndUnixNano)
			}
		}
	}
	if got != len(want) {
		t.Fatalf("%d nodes exported, %d started", got, len(want))
	}
	incomplete := 0
	for _, m := range want {
		if m.open {
			incomplete++
		}
	}
	st := e.Stats()
	if st.InFlight != 0 || st.Dropped != 0 || st.Accepted != st.Exported || st.Exported != uint64(got+len(sink.Runs())) || st.NodesIncomplete != uint64(incomplete) {
		t.Fatalf("stats %+v: want every one of %d spans exported, %d nodes incomplete", st, got+len(sink.Runs()), incomplete)
	}
	// The metrics fold every node once, by type and status, and its
	// duration once.
	counts := map[string]int{}
	for _, m := range want {
		counts[fmt.Sprintf(`flowtel_node_executions_total{node_type=%q,status=%q}`, m.typ, m.status)]++
		counts[fmt.Sprintf(`flowtel_node_duration_microseconds_count{node_type=%q}`, m.typ)]++
	}
	prom := e.AppendPrometheus(nil)
	for series, n := range counts {
		if !bytes.Contains(prom, []byte(series+" "+strconv.Itoa(n)+"\n")) {
			i := bytes.Index(prom, []byte(series[:strings.IndexByte(series, '{')]))
			t.Fatalf("want %s %d in the metrics:\n%s", series, n, prom[max(i, 0):min(max(i, 0)+2000, len(prom))])
		}
	}
}

// shapeSink records, for every node exported, what a reused record could
// carry over from the node it held before.
type shapeSink struct {
	mu    sync.Mutex
	nodes map[string]string
}

func (s *shapeSink) Export(runs []*encode.Run) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range runs {
		for i := range r.Nodes {
			n := r.Nodes[i]
			s.nodes[n.NodeName] = nodeShape(n)
		}
	}
	return nil
}
func (s *shapeSink) ForceFlush(context.Context) error { return nil }
func (s *shapeSink) Shutdown(context.Context) error   { return nil }

func nodeShape(n *encode.Node) string {
	return fmt.Sprintf("in=%d out=%d cfg=%d attrs=%d next=%d events=%d usage=%v/%d code=%v/%d kind=%d status=%d/%q llm=%q ftc=%v chunks=%d",
		len(n.Input), len(n.Output), len(n.Config), len(n.Attrs), len(n.Next), len(n.Events),
		n.HasUsage, n.Usage.PromptTokens, n.HasCode, n.Code, n.Kind, n.Status, n.StatusMessage, n.LLMOutput, n.HasFirstTokenCost, n.Chunks)
}

// TestPlainAndRichNodesReuse: in runs mixing plain nodes (ids, times,
// pooled lists) with nodes that set the rare fields (events, next ids,
// usage, code, span kind, status message, LLM output, chunks), the records
// released short (resetPlain) and in full are reused for one another, and
// every node is exported with what it set, nothing of a record's earlier
// node: every plain node as a plain one, every rich one as the first,
// whose record was fresh.
func TestPlainAndRichNodesReuse(t *testing.T) {
	s := &shapeSink{nodes: map[string]string{}}
	e, err := New(WithSink(s))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for run := range 200 {
		r := e.StartRun(RunInfo{FlowID: "f"})
		for i := range 8 {
			name := fmt.Sprintf("r%d-n%d", run, i)
			n := r.StartNode(fmt.Sprintf("a:%d", i), "a", name)
			n.Input(String("k", "v"), Int64("i", 1))
			if (run+i)%3 == 0 {
				n.Next("b:1", "c:2")
				n.InfoEvent(String("e", "v"))
				n.Usage(encode.Usage{PromptTokens: 5})
				n.SetCode(7)
				n.SetSpanKind(SpanKindClient)
				n.Fail("bad")
				n.LLMOutput("out")
				n.Chunk()
				n.SetAttributes(Int64("x", 1))
			} else {
				n.Output(String("o", "v"))
			}
			n.End()
			if (run+i)%3 == 0 {
				want[name] = "rich"
				continue
			}
			plain := &encode.Node{Input: make([]encode.Attr, 2), Output: make([]encode.Attr, 1)}
			want[name] = nodeShape(plain)
		}
		r.End(0, "")
		if run%20 == 19 {
			if err := e.ForceFlush(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The first rich node had a fresh record: every later one exports
	// as it did.
	rich := s.nodes["r0-n0"]
	if rich == "" {
		t.Fatal("r0-n0 not exported")
	}
	bad := 0
	for name, w := range want {
		if w == "rich" {
			w = rich
		}
		if got := s.nodes[name]; got != w && bad < 5 {
			bad++
			t.Errorf("%s: %s\n want %s", name, got, w)
		}
	}
}
