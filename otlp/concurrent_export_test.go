package otlp

import (
	"context"
	"encoding/binary"
	"sync"
	"testing"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
)

// TestSinkConcurrentExport: a Sink's Export and ExportLogs called from
// several goroutines at once (a caller's own pipeline; the engine calls
// them one at a time) deliver every span and run log once, each as it
// was given, as the official decoder reads them. The calls shared the
// sink's scratch (the parts each encoder made, the lists handed to the
// exporter), so concurrent calls queued each other's requests twice or
// not at all, or panicked.
func TestSinkConcurrentExport(t *testing.T) {
	const goroutines, calls, runs = 4, 50, 3
	rc := otlptest.StartKeeping(t, otlptest.GRPC)
	exp, err := export.New(export.Config{Endpoint: rc.Endpoint(), Insecure: true, Protocol: "grpc", Release: encode.PutBuffer, Block: true, QueueBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSink(exp, encode.Resource{ServiceName: "svc"}, true)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for c := range calls {
				batch := make([]*encode.Run, runs)
				for i := range batch {
					r := &encode.Run{FlowID: "f"}
					binary.BigEndian.PutUint32(r.TraceID[:], uint32(g))
					binary.BigEndian.PutUint32(r.TraceID[4:], uint32(c))
					binary.BigEndian.PutUint32(r.TraceID[8:], uint32(i))
					r.SpanID = encode.SpanID{1}
					r.Nodes = []*encode.Node{{SpanID: encode.SpanID{2}, NodeID: "n"}}
					batch[i] = r
				}
				var err error
				if c%5 == 4 {
					err = s.ExportLogs(batch)
				} else {
					err = s.Export(batch)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	seen := map[[16]byte]int{}
	for _, req := range rc.Traces() {
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					seen[[16]byte(sp.TraceId)]++
				}
			}
		}
	}
	want := goroutines * calls * 4 / 5 * runs
	if len(seen) != want {
		t.Errorf("%d traces received, want %d", len(seen), want)
	}
	for id, n := range seen {
		if n != 2 {
			t.Errorf("trace %x: %d spans, want 2", id, n)
			break
		}
	}
	logs := 0
	for _, req := range rc.Logs() {
		for _, rl := range req.ResourceLogs {
			for _, sl := range rl.ScopeLogs {
				logs += len(sl.LogRecords)
			}
		}
	}
	if wantLogs := goroutines * calls * runs; logs != wantLogs {
		t.Errorf("%d run logs received, want %d", logs, wantLogs)
	}
}
