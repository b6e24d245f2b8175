package export

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/valyala/bytebufferpool"
	"google.golang.org/protobuf/proto"

	"github.com/flowtel/flowtel/internal/otlptest"
)

// TestEnqueueContextSplitAccounting: a batch larger than MaxRequestBytes
// that EnqueueContext splits, into a full queue whose receiver never
// answers, under Block with an hour's BlockTimeout: the wait ends with the
// context, every part not queued is dropped as a block timeout, and the
// accounting identity holds in the caller's count, as with Enqueue.
func TestEnqueueContextSplitAccounting(t *testing.T) {
	cfg := testConfig(ProtocolGRPC, "http://"+otlptest.ReserveAddr(t))
	cfg.MaxRequestBytes = 4000
	cfg.QueueBytes = 8000
	cfg.Block = true
	cfg.BlockTimeout = time.Hour
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req, names := bigRequest(Metrics, rand.New(rand.NewPCG(1, 2)), 100)
	body, _ := proto.Marshal(req)
	buf := bytebufferpool.Get()
	buf.B = append(buf.B[:0], body...)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan bool, 1)
	go func() { done <- e.EnqueueContext(ctx, Metrics, buf, len(names)) }()
	select {
	case ok := <-done:
		if ok {
			t.Error("a batch of more than the queue holds accepted whole")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("EnqueueContext did not return when its context ended")
	}
	st := e.Stats().Signals[Metrics]
	if st.Enqueued != uint64(len(names)) || st.DroppedBy[DropBlockTimeout] == 0 || st.Dropped != st.DroppedBy[DropBlockTimeout] {
		t.Errorf("stats %+v: want the %d points given, the parts not queued dropped as block timeouts", st, len(names))
	}
	sctx, scancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer scancel()
	_ = e.Shutdown(sctx)
	checkIdentity(t, e.Stats())
}
