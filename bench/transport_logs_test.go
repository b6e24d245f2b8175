package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/export"
)

// BenchmarkTransportSignals sends what the loadgen's OTLP sink queues for
// each engine batch (24 runs of 11 spans, encoded in two parts queued
// together): the trace requests alone, the run trace logs alone (one
// record of about 8 KB a run, as the synthetic workload's), or both, one
// after the other on the one connection, as with -logs=true. It reports
// the process's CPU time per KB sent and per span, so that the cost of a
// byte of logs can be set beside a byte of traces.
func BenchmarkTransportSignals(b *testing.B) {
	const runsPerBatch, nodes = 24, 10
	res := encode.Resource{ServiceName: "bench", HostIP: "127.0.0.1"}
	runs := flowtelBatch(runsPerBatch, nodes)
	llm := strings.Repeat("the model's answer, streamed in chunks. ", 18)
	for _, r := range runs {
		for _, n := range r.Nodes {
			n.LLMOutput = llm
		}
	}
	spans := encode.NumSpans(runs)
	enc := encode.NewEncoder(res)
	half := len(runs) / 2
	tparts := [][]byte{enc.AppendTraces(nil, runs[:half]), enc.AppendTraces(nil, runs[half:])}
	lparts := [][]byte{enc.AppendLogs(nil, runs[:half]), enc.AppendLogs(nil, runs[half:])}
	for _, c := range []struct {
		name         string
		traces, logs bool
	}{
		{"traces", true, false},
		{"logs", false, true},
		{"traces+logs", true, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			rc := startReceiver(b, ReceiverConfig{Decode: DecodeCount})
			// Copies enqueued in turn, more than a core's cache holds.
			copies := func(parts [][]byte) [][]*bytebufferpool.ByteBuffer {
				size := len(parts[0]) + len(parts[1])
				out := make([][]*bytebufferpool.ByteBuffer, max(2, (4<<20)/size))
				for i := range out {
					for _, p := range parts {
						out[i] = append(out[i], &bytebufferpool.ByteBuffer{B: bytes.Clone(p)})
					}
				}
				return out
			}
			tb, lb := copies(tparts), copies(lparts)
			e, err := export.New(export.Config{Endpoint: rc.Endpoint(), Insecure: true, Block: true, BlockTimeout: time.Minute,
				Release: func(*bytebufferpool.ByteBuffer) {}})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Shutdown(context.Background())
			titems, litems := []int{encode.NumSpans(runs[:half]), encode.NumSpans(runs[half:])}, []int{half, len(runs) - half}
			e.Enqueue(export.Traces, tb[0][0], titems[0])
			if err := e.ForceFlush(context.Background()); err != nil {
				b.Fatal(err)
			}
			var perOp int
			if c.traces {
				perOp += len(tparts[0]) + len(tparts[1])
			}
			if c.logs {
				perOp += len(lparts[0]) + len(lparts[1])
			}
			b.SetBytes(int64(perOp))
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU(b)
			for i := 0; i < b.N; i++ {
				if c.traces {
					e.EnqueueParts(export.Traces, tb[i%len(tb)], titems)
				}
				if c.logs {
					e.EnqueueParts(export.Logs, lb[i%len(lb)], litems)
				}
			}
			if err := e.ForceFlush(context.Background()); err != nil {
				b.Fatal(err)
			}
			cpu := processCPU(b) - cpu0
			b.StopTimer()
			st := e.Stats()
			if c.traces && rc.Counts().Spans != uint64(b.N*spans+titems[0]) {
				b.Fatalf("received %d spans, want %d", rc.Counts().Spans, b.N*spans+titems[0])
			}
			if c.logs && rc.Counts().LogRecords != uint64(b.N*len(runs)) {
				b.Fatalf("received %d log records, want %d", rc.Counts().LogRecords, b.N*len(runs))
			}
			b.ReportMetric(float64(cpu)/float64(b.N)/float64(perOp)*1024, "cpu-ns/KB")
			b.ReportMetric(float64(cpu)/float64(b.N*spans), "cpu-ns/span")
			req := st.Signals[export.Traces].Requests + st.Signals[export.Logs].Requests
			b.ReportMetric(float64(perOp)*float64(b.N)/float64(req), "B/request")
		})
	}
}
