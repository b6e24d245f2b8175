package export

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/valyala/bytebufferpool"
	"google.golang.org/protobuf/proto"
)

// drain empties the queue of an Exporter whose workers are not started.
func (e *Exporter) drainForBench() {
	e.mu.Lock()
	e.dropQueuedLocked()
	e.mu.Unlock()
}

func BenchmarkEnqueue(b *testing.B) {
	b.Run("accepted", func(b *testing.B) {
		e, err := newExporter(Config{QueueBatches: 1024, Endpoint: "http://127.0.0.1:1"})
		if err != nil {
			b.Fatal(err)
		}
		defer e.Shutdown(context.Background())
		bufs := pooled(1024, 4096)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			j := i & 1023
			if j == 0 && i > 0 {
				b.StopTimer()
				e.drainForBench()
				bufs = pooled(1024, 4096)
				b.StartTimer()
			}
			e.Enqueue(Traces, bufs[j], 512)
		}
	})
	b.Run("dropped", func(b *testing.B) {
		e, err := newExporter(Config{QueueBatches: 1, Endpoint: "http://127.0.0.1:1"})
		if err != nil {
			b.Fatal(err)
		}
		defer e.Shutdown(context.Background())
		e.Enqueue(Traces, bytebufferpool.Get(), 1)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			e.Enqueue(Traces, bytebufferpool.Get(), 512)
		}
	})
}

// BenchmarkThroughput exports 512-span batches to a real collector on
// loopback and reports requests/s, spans/s and MB/s.
func BenchmarkThroughput(b *testing.B) {
	for _, protocol := range protocols {
		for _, comp := range []string{CompressionNone, CompressionGzip} {
			for _, server := range []string{"decode", "discard"} {
				b.Run(fmt.Sprintf("%s/%s/%s", strings.ReplaceAll(protocol, "/", "_"), comp, server), func(b *testing.B) {
					c := newReceiver(b, protocol, nil)
					c.Discard = server == "discard"
					c.Start()
					defer c.Stop()
					cfg := testConfig(protocol, c.Endpoint())
					cfg.Compression = comp
					cfg.Block = true
					cfg.BlockTimeout = time.Minute
					e, err := New(cfg)
					if err != nil {
						b.Fatal(err)
					}
					tmpl := encodeBatch(b, Traces, "bench", 512)
					b.SetBytes(int64(len(tmpl.B)))
					b.ReportAllocs()
					b.ResetTimer()
					start := time.Now()
					for i := 0; i < b.N; i++ {
						buf := bytebufferpool.Get()
						buf.B = append(buf.B[:0], tmpl.B...)
						e.Enqueue(Traces, buf, 512)
					}
					if err := e.ForceFlush(context.Background()); err != nil {
						b.Fatal(err)
					}
					el := time.Since(start).Seconds()
					b.StopTimer()
					st := e.Stats().Signals[Traces]
					if st.Exported != uint64(b.N)*512 || (!c.Discard && received(c)[Traces] != 512) {
						b.Fatalf("exported %d of %d", st.Exported, b.N*512)
					}
					b.ReportMetric(float64(b.N)/el, "req/s")
					b.ReportMetric(float64(b.N)*512/el, "spans/s")
					_ = e.Shutdown(context.Background())
				})
			}
		}
	}
}

// BenchmarkSplitRequest splits an 8 MiB request of each signal into parts
// under DefaultMaxRequestBytes: the cost Enqueue adds to an oversize batch.
func BenchmarkSplitRequest(b *testing.B) {
	for sig := Signal(0); sig < NumSignals; sig++ {
		b.Run(sig.String(), func(b *testing.B) {
			req, _ := bigRequest(sig, rand.New(rand.NewPCG(9, 9)), 64<<10)
			body, err := proto.Marshal(req)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				parts := 0
				if _, ok := splitRequest(sig, body, DefaultMaxRequestBytes, func([]byte, int) { parts++ }); !ok || parts < 2 {
					b.Fatalf("split into %d parts", parts)
				}
			}
		})
	}
}
