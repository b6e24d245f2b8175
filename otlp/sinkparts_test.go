package otlp

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
)

// sinkBatch returns runs runs of nodes nodes each, their ids distinct
// from those of the other batches (b).
func sinkBatch(b, runs, nodes int) []*encode.Run {
	out := make([]*encode.Run, runs)
	for r := range out {
		run := &encode.Run{
			TraceID: encode.TraceID{1, byte(b), byte(b >> 8), byte(r), byte(r >> 8), 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
			SpanID:  encode.SpanID{1, byte(b), byte(b >> 8), byte(r), byte(r >> 8), 6, 7, 8},
			FlowID:  "flow", StartUnixNano: 1, EndUnixNano: 2, Message: "success",
		}
		for n := range nodes {
			run.Nodes = append(run.Nodes, &encode.Node{
				SpanID: encode.SpanID{2, byte(b), byte(b >> 8), byte(r), byte(r >> 8), byte(n), 7, 8},
				NodeID: "llm:1", NodeType: "llm", NodeName: "LLM", StartUnixNano: 1, EndUnixNano: 2,
				Input: []encode.Attr{{Key: "q", Value: encode.StringValue("hello")}},
			})
		}
		out[r] = run
	}
	return out
}

// TestSinkBatchOneRequest: a batch the sink encodes in parts on several
// encoders leaves over OTLP/gRPC and OTLP/HTTP as one trace request and
// one log request when it fits Config.CoalesceBytes, with the exporter's
// two workers waiting for it (over gRPC its parts queued one by one as
// each encoder finished left as a request each; over HTTP each part left
// as a request of its own, 120 trace requests for 30 batches). The
// receiver decodes every request with the official types and counts each
// span once; a partial success is counted once, against the batch.
func TestSinkBatchOneRequest(t *testing.T) {
	for _, protocol := range []string{otlptest.GRPC, otlptest.HTTP} {
		t.Run(strings.ReplaceAll(protocol, "/", "_"), func(t *testing.T) { testSinkBatchOneRequest(t, protocol) })
	}
}

func testSinkBatchOneRequest(t *testing.T, protocol string) {
	const batches, runs, nodes = 30, 64, 7 // 512 spans a batch
	var mu sync.Mutex
	perRequest := map[otlptest.Signal][]int64{}
	rc := otlptest.Start(t, protocol, func(c otlptest.Call) otlptest.Reply {
		mu.Lock()
		defer mu.Unlock()
		perRequest[c.Signal] = append(perRequest[c.Signal], c.Items)
		if c.Signal == otlptest.Traces && len(perRequest[c.Signal]) == 3 {
			return otlptest.Reply{Rejected: 5, Message: "attribute too long"}
		}
		return otlptest.Reply{}
	})
	exp, err := export.New(export.Config{Protocol: protocol, Endpoint: rc.Endpoint(), Insecure: true, Concurrency: 2, Release: encode.PutBuffer})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSink(exp, encode.Resource{ServiceName: "sink-test"}, true)
	if err != nil {
		t.Fatal(err)
	}
	for len(s.encs) < maxSinkEncoders { // as on a machine with 4 cores
		s.encs = append(s.encs, encode.NewEncoder(encode.Resource{ServiceName: "sink-test"}))
	}
	for b := range batches {
		if err := s.Export(sinkBatch(b, runs, nodes)); err != nil {
			t.Fatal(err)
		}
		// The workers wait again for the next batch, as they do below
		// the exporter's capacity.
		if err := s.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	const spans = batches * runs * (nodes + 1)
	es := s.EncoderStats()
	if es.TraceRequests != batches*maxSinkEncoders || es.Spans != spans {
		t.Errorf("encoders made %d trace requests of %d spans, want %d (each batch in %d parts) of %d", es.TraceRequests, es.Spans, batches*maxSinkEncoders, maxSinkEncoders, spans)
	}
	mu.Lock()
	tr, lg := perRequest[otlptest.Traces], perRequest[otlptest.Logs]
	mu.Unlock()
	if len(tr) != batches || len(lg) != batches {
		t.Errorf("the receiver got %d trace and %d log requests, want %d each (one a batch)", len(tr), len(lg), batches)
	}
	for i, n := range tr {
		if n != runs*(nodes+1) {
			t.Errorf("trace request %d holds %d spans, want %d", i, n, runs*(nodes+1))
		}
	}
	if got := rc.Items(); got[otlptest.Traces] != spans-5 || got[otlptest.Logs] != batches*runs {
		t.Errorf("the receiver accepted %v, want %d spans and %d logs", got, spans-5, batches*runs)
	}
	st := exp.Stats().Signals[export.Traces]
	if st.Requests != batches || st.Exported != spans-5 || st.Rejected != 5 || st.Dropped != 0 || st.InFlight != 0 || st.ExportedBatches != batches*maxSinkEncoders {
		t.Errorf("exporter %+v; want %d requests, %d exported, 5 rejected", st, batches, spans-5)
	}
	if ss := s.SinkStats(); ss.Delivered != spans-5 || ss.Dropped != 5 {
		t.Errorf("sink stats %+v", ss)
	}
}
