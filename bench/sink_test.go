package bench

import (
	"context"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/otlp"
)

// BenchmarkSinkTransport encodes 512-span batches of the comparisons'
// spans with otlp.Sink (in parts on up to GOMAXPROCS encoders, as the
// engine's export stage does) and sends them through export.Exporter over
// OTLP/gRPC on loopback to a count Receiver in the same process: the
// loadgen's encode, send and receive stages, traces only. With flush each
// batch is delivered before the next is exported, so the exporter's
// workers wait for every batch (below capacity); stream exports batches
// back to back. The http/ cases do the same over OTLP/HTTP. cpu-ns/span is
// the process's CPU time (both ends) per span, spans/request the spans the
// receiver got per request.
func BenchmarkSinkTransport(b *testing.B) {
	for _, c := range []struct{ name, protocol, mode string }{
		{"flush", ProtocolGRPC, "flush"},
		{"stream", ProtocolGRPC, "stream"},
		{"http/flush", ProtocolHTTPProtobuf, "flush"},
		{"http/stream", ProtocolHTTPProtobuf, "stream"},
	} {
		mode := c.mode
		b.Run(c.name, func(b *testing.B) {
			rc := startReceiver(b, ReceiverConfig{Protocol: c.protocol, Decode: DecodeCount})
			exp, err := export.New(export.Config{Protocol: c.protocol, Endpoint: rc.Endpoint(), Insecure: true, Block: true, BlockTimeout: time.Minute,
				Release: encode.PutBuffer})
			if err != nil {
				b.Fatal(err)
			}
			sink, err := otlp.NewSink(exp, encode.Resource{ServiceName: "bench", HostIP: "127.0.0.1"}, false)
			if err != nil {
				b.Fatal(err)
			}
			defer sink.Shutdown(context.Background())
			runs := flowtelBatch(batchRuns, nodesPerRun)
			spans := encode.NumSpans(runs)
			// Connect and warm up outside the measurement.
			_ = sink.Export(runs)
			if err := sink.ForceFlush(context.Background()); err != nil {
				b.Fatal(err)
			}
			req0 := exp.Stats().Signals[export.Traces].Requests
			b.ReportAllocs()
			b.ResetTimer()
			start, cpu0 := time.Now(), processCPU(b)
			for i := 0; i < b.N; i++ {
				_ = sink.Export(runs)
				if mode == "flush" {
					if err := sink.ForceFlush(context.Background()); err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := sink.ForceFlush(context.Background()); err != nil {
				b.Fatal(err)
			}
			cpu, el := processCPU(b)-cpu0, time.Since(start).Seconds()
			b.StopTimer()
			st := exp.Stats().Signals[export.Traces]
			want := uint64(b.N+1) * uint64(spans)
			if st.Exported != want || rc.Counts().Spans != want {
				b.Fatalf("exported %d, received %d, want %d", st.Exported, rc.Counts().Spans, want)
			}
			reqs := st.Requests - req0
			b.ReportMetric(float64(cpu)/float64(b.N*spans), "cpu-ns/span")
			b.ReportMetric(float64(b.N*spans)/float64(reqs), "spans/request")
			b.ReportMetric(float64(reqs)/el, "req/s")
		})
	}
}
