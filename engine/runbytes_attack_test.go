package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/encode"
)

// TestRunBytesCommonAttrs starts a run whose sid, app_id, uid and chat_id
// are each a value of Limits.ValueBytes (they come from a request) and
// gives it 64 nodes: every span of the run carries the four, so the run's
// encoded spans must still fit Limits.RunBytes (plus a little per span).
// Before, boundRun counted them once, the encoder wrote them on each of
// the 65 spans, and a run of 16 MiB RunBytes encoded to 65 MiB (with
// NodesPerRun's 1024 nodes, 1 GiB).
func TestRunBytesCommonAttrs(t *testing.T) {
	const nodes = 64
	sink := &MemorySink{}
	e, err := New(WithSink(sink))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	big := strings.Repeat("a", e.cfg.limits.ValueBytes)
	r := e.StartRun(RunInfo{SID: big, AppID: big, UID: big, ChatID: big})
	for i := 0; i < nodes; i++ {
		n := r.StartNode("n", "code", "n")
		n.Input(String("k", "v"))
		n.End()
	}
	r.End(0, "")
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	runs := sink.Runs()
	if len(runs) != 1 || len(runs[0].Nodes) != nodes {
		t.Fatalf("%d runs exported, want 1 with %d nodes", len(runs), nodes)
	}
	out := encode.NewEncoder(encode.Resource{}).AppendTraces(nil, []*encode.Run{&runs[0]})
	if limit := e.cfg.limits.RunBytes + (nodes+1)*4<<10; len(out) > limit {
		t.Errorf("the run's spans encode to %d bytes, above Limits.RunBytes %d + 4 KiB a span", len(out), e.cfg.limits.RunBytes)
	}
	if e.Stats().ValuesTruncated == 0 {
		t.Error("no cut counted in Stats.ValuesTruncated")
	}
	if got := runs[0].AppID; !strings.HasPrefix(big, got) || len(got) < idFloor {
		t.Errorf("app_id cut to %d bytes, want a prefix of at least %d", len(got), idFloor)
	}
}
