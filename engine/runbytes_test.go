package engine

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
)

// runBytes sums the strings and bytes of a run as boundRun counts them.
func runBytes(r *encode.Run) (total, ids int) {
	add := func(s string) { total += len(s) }
	attrs := func(as []encode.Attr) {
		for _, a := range as {
			add(a.Key)
			if a.Value.Kind() == encode.KindString || a.Value.Kind() == encode.KindBytes {
				total += len(a.Value.Str())
			}
			ids++
		}
	}
	events := func(evs []encode.Event) {
		for _, ev := range evs {
			add(ev.Message)
			add(ev.Type)
			add(ev.Stacktrace)
			attrs(ev.Attrs)
			ids++
		}
	}
	for _, s := range []string{r.TraceState, r.ServiceID, r.FlowID, r.SID, r.AppID, r.UID, r.BotID, r.ChatID, r.Sub,
		r.Caller, r.LogCaller, r.Question, r.Answer, r.Message, r.StatusMessage} {
		add(s)
	}
	ids += 11
	attrs(r.Srv)
	attrs(r.SrvTag)
	attrs(r.Attrs)
	events(r.Events)
	for _, n := range r.Nodes {
		for _, s := range append([]string{n.NodeID, n.NodeType, n.NodeName, n.SpanName[0], n.SpanName[1], n.LLMOutput, n.StatusMessage}, n.Next...) {
			add(s)
		}
		ids += 5 + len(n.Next)
		attrs(n.Input)
		attrs(n.Output)
		attrs(n.Config)
		attrs(n.Attrs)
		events(n.Events)
	}
	return total, ids
}

// TestRunBytesBound: whatever a run references, what the pipeline hands
// the sink holds at most Limits.RunBytes plus idFloor per identity
// string, every span is there with its identity, and a run within the
// bound is left as it was.
func TestRunBytesBound(t *testing.T) {
	const budget = 64 << 10
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		sink := &MemorySink{}
		e, err := New(WithSink(sink), WithBatch(1, time.Millisecond), WithLimits(Limits{RunBytes: budget, ValueBytes: 32 << 10, Attrs: 64}))
		if err != nil {
			t.Fatal(err)
		}
		doc := strings.Repeat("é", 1+rng.IntN(16<<10))
		nodes := 1 + rng.IntN(64)
		r := e.StartRun(RunInfo{FlowID: "f", Question: doc[:rng.IntN(len(doc)/2+1)*2]})
		r.SetAttributes(String("run.doc", doc))
		want := 0
		for i := range nodes {
			id := "n:" + strings.Repeat("x", rng.IntN(300))
			n := r.StartNode(id, "code", "node")
			for k := range rng.IntN(8) {
				n.Input(String("in"+string(rune('a'+k)), doc))
			}
			// Values around smallValue, past the record's pool (32).
			for k := range rng.IntN(48) {
				v := doc[:min(len(doc), rng.IntN(3<<10))/2*2]
				n.SetAttributes(String(strings.Repeat("k", 1+rng.IntN(2000))+string(rune('a'+k%26)), v))
			}
			if rng.IntN(3) == 0 {
				n.InfoEvent(String("ev", doc), Bytes("evb", []byte(doc)))
				n.LLMOutput(doc)
				n.Next("n:" + doc[:min(len(doc), 600)/2*2])
			}
			if rng.IntN(3) == 0 {
				n.Output(Bytes("blob", []byte(doc)))
			}
			if rng.IntN(4) == 0 {
				n.Error(doc)
			}
			if rng.IntN(4) == 0 {
				n.recordException(errors.New(doc), "", rng.IntN(2) == 0) // otelbridge's RecordError
			}
			n.End()
			want = i + 2
		}
		r.End(0, doc[:len(doc)/2*2])
		if err := e.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		runs := sink.Runs()
		if len(runs) != 1 || len(runs[0].Nodes) != nodes || int(e.Stats().Exported) != want {
			t.Fatalf("seed %d: %d runs, stats %+v", seed, len(runs), e.Stats())
		}
		got, ids := runBytes(&runs[0])
		if got > budget+ids*idFloor {
			t.Fatalf("seed %d: the run holds %d bytes, above %d + %d identity strings of %d", seed, got, budget, ids, idFloor)
		}
		for _, n := range runs[0].Nodes {
			if !strings.HasPrefix(n.NodeID, "n:") || n.NodeName != "node" {
				t.Fatalf("seed %d: node identity lost: %q %q", seed, n.NodeID, n.NodeName)
			}
		}
	}
	// Exceptions recorded through the bridge's hook alone take a run past
	// RunBytes: their texts count in the bound as the caller writes them.
	{
		sink := &MemorySink{}
		e, err := New(WithSink(sink), WithBatch(1, time.Millisecond), WithLimits(Limits{RunBytes: budget, ValueBytes: 32 << 10}))
		if err != nil {
			t.Fatal(err)
		}
		doc := strings.Repeat("x", 30<<10)
		r := e.StartRun(RunInfo{FlowID: "f"})
		for range 4 {
			n := r.StartNode("n:1", "code", "node")
			n.recordException(errors.New(doc), "", true)
			n.End()
		}
		r.End(0, "")
		if err := e.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		got, ids := runBytes(&sink.Runs()[0])
		if got > budget+ids*idFloor {
			t.Fatalf("exceptions through the hook: the run holds %d bytes, above %d + %d identity strings of %d", got, budget, ids, idFloor)
		}
	}
	// Within the bound, values are left whole and nothing is counted.
	sink := &MemorySink{}
	e, err := New(WithSink(sink), WithBatch(1, time.Millisecond), WithLimits(Limits{RunBytes: budget, ValueBytes: 32 << 10}))
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Repeat("d", 30<<10)
	r := e.StartRun(RunInfo{FlowID: "f"})
	n := r.StartNode("n:1", "code", "node")
	n.Input(String("a", doc), String("b", doc[:1000]))
	n.End()
	r.End(0, "")
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	in := sink.Runs()[0].Nodes[0].Input
	if len(in) != 2 || in[0].Value.Str() != doc || in[1].Value.Str() != doc[:1000] || e.Stats().ValuesTruncated != 0 {
		t.Fatalf("a run within RunBytes was cut: %d values, stats %+v", len(in), e.Stats())
	}
}
