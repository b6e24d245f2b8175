package bench

import (
	"bytes"
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/export"
)

// processCPU returns the process's user and system CPU time in ns: both
// ends of the loopback connection, the exporter's workers and the
// receiver's goroutines.
func processCPU(tb testing.TB) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkTransport sends encoded trace requests of the comparisons'
// spans (8 attributes, an event; about 550 bytes a span) through
// export.Exporter over OTLP/gRPC on loopback to a count Receiver in the
// same process: the loadgen's send and receive stages without the engine
// and the encoder. cpu-ns/span is the process's CPU time (user and system,
// both ends) per span delivered, which other processes on the machine do
// not inflate as they do ns/op. spans is the spans of each batch enqueued;
// halves enqueues each batch as two requests of half as many spans, one
// Enqueue each (the OTLP sink encodes a large batch's halves on two cores
// and now queues them together, EnqueueParts: BenchmarkSinkTransport), with
// the exporter's coalescing on (the default) or off, one request at a time
// (conc=1) or requests of up to 1 MiB. The requests are copies enqueued in
// turn, 4 MiB of them, so that each is read from memory as the loadgen's
// fresh ones are, not from the cache.
func BenchmarkTransport(b *testing.B) {
	for _, c := range []struct {
		name     string
		spans    int
		halves   bool
		coalesce int64
		conc     int
	}{
		{"spans=8", 8, false, -1, 0},
		{"spans=256", 256, false, -1, 0},
		{"spans=512", 512, false, -1, 0},
		{"spans=2048", 2048, false, -1, 0},
		{"spans=512/halves/alone", 512, true, -1, 0},
		{"spans=512/halves/coalesced", 512, true, 0, 0},
		{"spans=512/halves/coalesced/conc=1", 512, true, 0, 1},
		{"spans=512/halves/coalesce=1M", 512, true, 1 << 20, 0},
	} {
		b.Run(c.name, func(b *testing.B) {
			rc := startReceiver(b, ReceiverConfig{Decode: DecodeCount})
			per := c.spans
			if c.halves {
				per /= 2
			}
			runs := flowtelBatch(per/(nodesPerRun+1), nodesPerRun)
			spans := encode.NumSpans(runs)
			body := encode.NewEncoder(encode.Resource{ServiceName: "bench", HostIP: "127.0.0.1"}).AppendTraces(nil, runs)
			// Copies of the request enqueued in turn, more bytes than a
			// core's cache holds, as the loadgen sends bytes the encoder
			// just wrote (one buffer again and again stayed in the cache
			// and favoured small requests): the exporter only reads them,
			// and Release leaves them alone.
			bufs := make([]*bytebufferpool.ByteBuffer, max(2, (4<<20)/len(body)))
			for i := range bufs {
				bufs[i] = &bytebufferpool.ByteBuffer{B: bytes.Clone(body)}
			}
			buf, next := bufs[0], 0
			e, err := export.New(export.Config{Endpoint: rc.Endpoint(), Insecure: true, Block: true, BlockTimeout: time.Minute,
				CoalesceBytes: c.coalesce, Concurrency: c.conc, Release: func(*bytebufferpool.ByteBuffer) {}})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Shutdown(context.Background())
			// Connect and warm up outside the measurement.
			e.Enqueue(export.Traces, buf, spans)
			if err := e.ForceFlush(context.Background()); err != nil {
				b.Fatal(err)
			}
			n := 1
			if c.halves {
				n = 2
			}
			b.SetBytes(int64(n * len(body)))
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU(b)
			for i := 0; i < b.N; i++ {
				for range n {
					next = (next + 1) % len(bufs)
					e.Enqueue(export.Traces, bufs[next], spans)
				}
			}
			if err := e.ForceFlush(context.Background()); err != nil {
				b.Fatal(err)
			}
			cpu := processCPU(b) - cpu0
			b.StopTimer()
			want := uint64(n*b.N+1) * uint64(spans)
			st := e.Stats().Signals[export.Traces]
			if st.Exported != want || rc.Counts().Spans != want {
				b.Fatalf("exported %d, received %d, want %d", st.Exported, rc.Counts().Spans, want)
			}
			b.ReportMetric(float64(cpu)/float64(n*b.N*spans), "cpu-ns/span")
			b.ReportMetric(float64(n*b.N*spans)/float64(st.Requests), "spans/request")
		})
	}
}
