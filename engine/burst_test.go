package engine

import (
	"context"
	"testing"
	"time"
)

// TestBurstOfRunEndsLosesNothing ends 10,000 runs of 8 nodes each in one
// burst, from one goroutine, into an engine with the default settings and
// a sink that copies every run: thousands of agent runs answered by one
// upstream at once. The burst is far faster than the pipeline exports, and
// it all lands on the caller's P. With rings sized by hand (1024 slots per
// shard) most of it was dropped as ring_full whatever the average rate; the
// rings are now derived from Limits.RunsInFlight and a full shard spills
// into the others, so every run in flight has a slot and nothing is lost.
func TestBurstOfRunEndsLosesNothing(t *testing.T) {
	const runs, nodes = 10_000, 8
	sink := &MemorySink{}
	e, err := New(WithSink(sink))
	if err != nil {
		t.Fatal(err)
	}
	if slots := e.ring.Shards() * e.ring.Capacity(); slots < e.cfg.limits.RunsInFlight {
		t.Fatalf("rings hold %d runs, fewer than RunsInFlight %d", slots, e.cfg.limits.RunsInFlight)
	}
	in := []Attr{String("model", "gpt-4o"), String("prompt", "summarise the report"), Int("max_tokens", 1200)}
	open := make([]Run, runs)
	for i := range open {
		r := e.StartRun(RunInfo{FlowID: "flow-burst", UID: "user-1"})
		for j := range nodes {
			n := r.StartNode("llm:1", "llm", "LLM")
			n.Input(in...)
			n.Output(String("answer", "42"))
			if j == nodes-1 {
				n.Info("message sent to the user")
			}
			n.End()
		}
		open[i] = r
	}
	for i := range open {
		open[i].End(0, "success")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	s := e.Stats()
	checkIdentity(t, s)
	if want := uint64(runs * (1 + nodes)); s.Accepted != want || s.Exported != want || s.Dropped != 0 {
		t.Fatalf("accepted %d, exported %d, dropped %d %v; want %d accepted and exported, none dropped",
			s.Accepted, s.Exported, s.Dropped, s.DroppedBy, want)
	}
	if got := len(sink.Runs()); got != runs {
		t.Fatalf("sink got %d runs, want %d", got, runs)
	}
}

// TestRingCapacity checks the ring sizes derived from the runs in flight.
func TestRingCapacity(t *testing.T) {
	for _, c := range []struct {
		shards, runs int
		p            Policy
		want         int
	}{
		{2, 16384, DropNewest, 8192},
		{3, 10000, DropNewest, 4096}, // 3334 rounded up
		{64, 16384, DropOldest, 256},
		{1, 1, DropNewest, 2},
		{2, 16384, Block, 1024}, // a quarter would be 2048 a shard
		{2, 100, Block, 8},      // a quarter is 12 a shard, rounded down
		{4, 1, Block, 2},
	} {
		if got := ringCapacity(c.shards, c.runs, c.p); got != c.want {
			t.Errorf("ringCapacity(%d shards, %d runs, %v) = %d, want %d", c.shards, c.runs, c.p, got, c.want)
		}
	}
}
