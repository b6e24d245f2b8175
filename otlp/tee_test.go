package otlp

import (
	"context"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
)

// runLogQueue is a custom sink as a porter writes one: it encodes each
// run's trace log, as the original sent it to Kafka.
type runLogQueue struct {
	buf      []byte
	logs     [][]byte
	shutdown bool
}

func (q *runLogQueue) Export(runs []*encode.Run) error {
	for _, r := range runs {
		q.buf = encode.AppendRunLog(q.buf[:0], r)
		q.logs = append(q.logs, append([]byte(nil), q.buf...))
	}
	return nil
}
func (q *runLogQueue) ForceFlush(context.Context) error { return nil }
func (q *runLogQueue) Shutdown(context.Context) error   { q.shutdown = true; return nil }

// TestNewWithOwnSink checks that a sink given to New with engine.WithSink
// receives every run beside the OTLP receiver, that the engine's Stats
// count what the receiver took, and that Shutdown reaches both.
func TestNewWithOwnSink(t *testing.T) {
	rc := otlptest.StartKeeping(t, otlptest.GRPC)
	q := &runLogQueue{}
	e, err := New(export.Config{Endpoint: rc.Endpoint(), Insecure: true}, engine.WithSink(q),
		engine.WithBatch(50, 10*time.Millisecond), engine.WithMetrics(engine.MetricsConfig{NoExport: true}))
	if err != nil {
		t.Fatal(err)
	}
	const runs, nodes = 100, 2
	s := captureShutdown(t, e, engine.RunInfo{FlowID: "flow", AppID: "app"}, runs, nodes)
	xs, ok := ExporterStats(e)
	if !ok || s.Exported != runs*(nodes+1) || xs.Signals[export.Traces].Exported != s.Exported {
		t.Errorf("engine %+v exporter %+v (%v)", s, xs.Signals[export.Traces], ok)
	}
	if got := len(receivedSpans(rc)); got != runs*(nodes+1) {
		t.Errorf("receiver got %d spans, want %d", got, runs*(nodes+1))
	}
	if len(q.logs) != runs || !q.shutdown {
		t.Errorf("own sink got %d run logs (want %d), shut down %v", len(q.logs), runs, q.shutdown)
	}
	tee, ok := e.Sink().(*engine.TeeSink)
	if !ok {
		t.Fatalf("sink %T, want *engine.TeeSink", e.Sink())
	}
	if ts := tee.Stats(); ts[1].Taken != runs*(nodes+1) || ts[1].Refused != 0 {
		t.Errorf("tee stats %+v", ts)
	}
}
