package export

import (
	"context"
	"errors"
	"testing"

	"github.com/valyala/bytebufferpool"
)

// TestZeroExporter: the zero Exporter acts as one shut down instead of
// panicking (Enqueue dereferenced nil, Shutdown closed a nil channel):
// batches are dropped and counted as DropShutdown, and Shutdown says it
// was not made by New.
func TestZeroExporter(t *testing.T) {
	var e Exporter
	b := bytebufferpool.Get()
	b.B = append(b.B, "request"...)
	if e.Enqueue(Traces, b, 3) {
		t.Error("the zero Exporter took a batch")
	}
	if e.EnqueueParts(Logs, []*bytebufferpool.ByteBuffer{bytebufferpool.Get(), bytebufferpool.Get()}, []int{1, 2}) {
		t.Error("the zero Exporter took parts")
	}
	s := e.Stats()
	for sig, n := range map[Signal]uint64{Traces: 3, Logs: 3} {
		st := s.Signals[sig]
		if st.Enqueued != n || st.Dropped != n || st.DroppedBy[DropShutdown] != n || st.InFlight != 0 {
			t.Errorf("%v: %+v, want %d items enqueued and dropped as shutdown", sig, st, n)
		}
	}
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Errorf("ForceFlush: %v", err)
	}
	if err := e.Shutdown(context.Background()); !errors.Is(err, ErrNotStarted) {
		t.Errorf("Shutdown: %v, want ErrNotStarted", err)
	}
}
