package engine

import (
	"testing"

	"github.com/valyala/bytebufferpool"
	"go.uber.org/goleak"

	"github.com/flowtel/flowtel/encode"
)

// discardMetrics is a MetricsExporter that drops what it is given.
type discardMetrics struct{}

func (discardMetrics) ExportMetrics(req *bytebufferpool.ByteBuffer, _ int) { encode.PutBuffer(req) }
func (discardMetrics) AppendMetrics(dst []encode.Metric, _ MetricsWindow) []encode.Metric {
	return dst
}

// TestNewRefusedLeavesNoGoroutine: New started the metrics goroutine (an
// engine with a MetricsExporter: every otlp.New) before it validated the
// tail sampling policy, and returned the error with the goroutine still
// running: each refused New (TailPolicy{Ratio: 2}, a rule's bad field,
// the pairs New refuses) leaked it. The policy is checked first.
func TestNewRefusedLeavesNoGoroutine(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, opts := range [][]Option{
		{WithTailSampling(TailPolicy{Ratio: 2})},
		{WithTailSampling(TailPolicy{Rules: []TailRule{{FlowID: "f", Policy: TailPolicy{SlowerThan: -1}}}})},
		{WithTailSampling(TailPolicy{SlowestFraction: 0.1}), WithMetrics(MetricsConfig{SkipRunRequests: true})},
		{WithTailSampling(TailPolicy{Ratio: 0.5, RunLogAlways: true}), WithSink(spansOnlySink{})},
	} {
		e, err := New(append(opts, WithMetricsExporter(discardMetrics{}))...)
		if err == nil {
			e.Shutdown(t.Context())
			t.Fatalf("New(%d options) took a policy it refuses", len(opts))
		}
	}
}
