package bench

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/export"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// randomTraces returns a request of random shape and how many spans and
// root spans it holds.
func randomTraces(rng *rand.Rand) (req *coltrace.ExportTraceServiceRequest, spans, roots uint64) {
	req = &coltrace.ExportTraceServiceRequest{}
	for r := rng.IntN(3); r >= 0; r-- {
		rs := &tracepb.ResourceSpans{SchemaUrl: "s"}
		for s := rng.IntN(3); s >= 0; s-- {
			ss := &tracepb.ScopeSpans{}
			for n := rng.IntN(20); n > 0; n-- {
				sp := &tracepb.Span{TraceId: make([]byte, 16), SpanId: []byte{1, 2, 3, 4, 5, 6, 7, 8}, Name: "run_node:llm:1", StartTimeUnixNano: rng.Uint64()}
				if rng.IntN(3) > 0 {
					sp.ParentSpanId = []byte{9, 9, 9, 9, 9, 9, 9, 9}
				} else {
					roots++
				}
				spans++
				ss.Spans = append(ss.Spans, sp)
			}
			rs.ScopeSpans = append(rs.ScopeSpans, ss)
		}
		req.ResourceSpans = append(req.ResourceSpans, rs)
	}
	return req, spans, roots
}

func randomLogs(rng *rand.Rand) (*collogs.ExportLogsServiceRequest, uint64) {
	req := &collogs.ExportLogsServiceRequest{}
	var n uint64
	for r := rng.IntN(3); r >= 0; r-- {
		rl := &logspb.ResourceLogs{}
		for s := rng.IntN(3); s >= 0; s-- {
			sl := &logspb.ScopeLogs{}
			for k := rng.IntN(10); k > 0; k-- {
				sl.LogRecords = append(sl.LogRecords, &logspb.LogRecord{TimeUnixNano: rng.Uint64()})
				n++
			}
			rl.ScopeLogs = append(rl.ScopeLogs, sl)
		}
		req.ResourceLogs = append(req.ResourceLogs, rl)
	}
	return req, n
}

func randomMetrics(rng *rand.Rand) (*colmetrics.ExportMetricsServiceRequest, uint64) {
	req := &colmetrics.ExportMetricsServiceRequest{}
	var n uint64
	sm := &metricspb.ScopeMetrics{}
	for k := rng.IntN(6); k > 0; k-- {
		pts := rng.IntN(4)
		n += uint64(pts)
		var m *metricspb.Metric
		switch rng.IntN(3) {
		case 0:
			g := &metricspb.Gauge{}
			for i := 0; i < pts; i++ {
				g.DataPoints = append(g.DataPoints, &metricspb.NumberDataPoint{Value: &metricspb.NumberDataPoint_AsInt{AsInt: 1}})
			}
			m = &metricspb.Metric{Name: "g", Data: &metricspb.Metric_Gauge{Gauge: g}}
		case 1:
			s := &metricspb.Sum{}
			for i := 0; i < pts; i++ {
				s.DataPoints = append(s.DataPoints, &metricspb.NumberDataPoint{Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: 2}})
			}
			m = &metricspb.Metric{Name: "s", Data: &metricspb.Metric_Sum{Sum: s}}
		default:
			h := &metricspb.Histogram{}
			for i := 0; i < pts; i++ {
				h.DataPoints = append(h.DataPoints, &metricspb.HistogramDataPoint{Count: 3})
			}
			m = &metricspb.Metric{Name: "h", Data: &metricspb.Metric_Histogram{Histogram: h}}
		}
		sm.Metrics = append(sm.Metrics, m)
	}
	req.ResourceMetrics = []*metricspb.ResourceMetrics{{ScopeMetrics: []*metricspb.ScopeMetrics{sm}}}
	return req, n
}

// TestCountMatchesDecoder checks the wire counter against the official
// decoder's structure on random requests.
func TestCountMatchesDecoder(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for i := 0; i < 300; i++ {
		req, spans, roots := randomTraces(rng)
		b, err := proto.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		gotSpans, gotRoots, err := CountSpans(b)
		if err != nil || gotSpans != spans || gotRoots != roots {
			t.Fatalf("CountSpans = %d, %d, %v; want %d, %d", gotSpans, gotRoots, err, spans, roots)
		}
		lreq, logs := randomLogs(rng)
		b, _ = proto.Marshal(lreq)
		if got, err := CountLogRecords(b); err != nil || got != logs {
			t.Fatalf("CountLogRecords = %d, %v; want %d", got, err, logs)
		}
		mreq, pts := randomMetrics(rng)
		b, _ = proto.Marshal(mreq)
		if got, err := CountDataPoints(b); err != nil || got != pts {
			t.Fatalf("CountDataPoints = %d, %v; want %d", got, err, pts)
		}
	}
}

// FuzzCountSpans checks the wire counter never panics and agrees with the
// official decoder whenever the decoder accepts the input.
func FuzzCountSpans(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 5; i++ {
		req, _, _ := randomTraces(rng)
		b, _ := proto.Marshal(req)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		spans, _, err := CountSpans(b)
		req := &coltrace.ExportTraceServiceRequest{}
		if proto.Unmarshal(b, req) != nil || err != nil {
			return
		}
		var want uint64
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				want += uint64(len(ss.Spans))
			}
		}
		if spans != want {
			t.Fatalf("CountSpans = %d, decoder %d", spans, want)
		}
	})
}

// TestReceiverCounts sends random requests with the official gRPC clients
// and over OTLP/HTTP, to both decoders, and checks every item is counted.
func TestReceiverCounts(t *testing.T) {
	for _, protocol := range []string{ProtocolGRPC, ProtocolHTTPProtobuf} {
		for _, dec := range []string{DecodeFull, DecodeCount} {
			if protocol == ProtocolHTTPProtobuf && dec == DecodeCount {
				continue // the HTTP receiver always decodes fully
			}
			t.Run(protocol+"/"+dec, func(t *testing.T) {
				rc := startReceiver(t, ReceiverConfig{Protocol: protocol, Decode: dec})
				send := sender(t, rc)
				rng := rand.New(rand.NewPCG(3, 4))
				var want Counts
				for i := 0; i < 20; i++ {
					tr, spans, roots := randomTraces(rng)
					lg, logs := randomLogs(rng)
					mt, pts := randomMetrics(rng)
					send("traces", tr)
					send("logs", lg)
					send("metrics", mt)
					want.Spans += spans
					want.RootSpans += roots
					want.LogRecords += logs
					want.DataPoints += pts
					want.Requests += 3
				}
				if got := rc.Counts(); got != want {
					t.Fatalf("counts %+v, want %+v", got, want)
				}
			})
		}
	}
}

// sender returns a function that exports one request to rc and fails the
// test on error.
func sender(t *testing.T, rc *Receiver) func(signal string, m proto.Message) {
	ctx := context.Background()
	if rc.cfg.Protocol == ProtocolHTTPProtobuf {
		return func(signal string, m proto.Message) {
			b, _ := proto.Marshal(m)
			resp, err := http.Post(rc.Endpoint()+"/v1/"+signal, "application/x-protobuf", bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: HTTP %d", signal, resp.StatusCode)
			}
		}
	}
	conn, err := grpc.NewClient(rc.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	tc, lc, mc := coltrace.NewTraceServiceClient(conn), collogs.NewLogsServiceClient(conn), colmetrics.NewMetricsServiceClient(conn)
	return func(signal string, m proto.Message) {
		var err error
		switch req := m.(type) {
		case *coltrace.ExportTraceServiceRequest:
			_, err = tc.Export(ctx, req)
		case *collogs.ExportLogsServiceRequest:
			_, err = lc.Export(ctx, req)
		case *colmetrics.ExportMetricsServiceRequest:
			_, err = mc.Export(ctx, req)
		}
		if err != nil {
			t.Fatalf("%s: %v", signal, err)
		}
	}
}

// TestReceiverFailsAndRestarts checks injected failures are UNAVAILABLE and
// uncounted, and that a restart keeps the address and serves again.
func TestReceiverFailsAndRestarts(t *testing.T) {
	for _, dec := range []string{DecodeFull, DecodeCount} {
		t.Run(dec, func(t *testing.T) {
			rc := startReceiver(t, ReceiverConfig{FailRate: 1, Decode: dec})
			conn, err := grpc.NewClient(rc.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			req, _, _ := randomTraces(rand.New(rand.NewPCG(5, 6)))
			_, err = coltrace.NewTraceServiceClient(conn).Export(context.Background(), req)
			if status.Code(err) != codes.Unavailable {
				t.Fatalf("Export error %v, want UNAVAILABLE", err)
			}
			addr := rc.Addr()
			if err := rc.Restart(10 * time.Millisecond); err != nil {
				t.Fatal(err)
			}
			if rc.Addr() != addr {
				t.Fatalf("address changed from %s to %s", addr, rc.Addr())
			}
			if c := rc.Counts(); c.Spans != 0 || c.Failed != 1 || c.Restarts != 1 {
				t.Fatalf("counts %+v, want 1 failure, 1 restart, no spans", c)
			}
			rc.Close()
			if err := rc.Restart(0); !errors.Is(err, ErrReceiverClosed) {
				t.Fatalf("Restart after Close = %v, want ErrReceiverClosed", err)
			}
		})
	}
}

// TestE2EReceivesEverything runs both end-to-end paths of BenchmarkCompare
// briefly: every span produced must reach the receiver.
func TestE2EReceivesEverything(t *testing.T) {
	t.Run("flowtel", func(t *testing.T) {
		rc := startReceiver(t, ReceiverConfig{Decode: DecodeFull})
		produced, s, xs := e2eFlowtel(t, rc, 4000)
		tr := xs.Signals[export.Traces]
		if s.Accepted != produced || s.Dropped != 0 || tr.Exported != produced || rc.Counts().Spans != produced {
			t.Fatalf("produced %d, engine %+v, exporter exported %d, received %d", produced, s, tr.Exported, rc.Counts().Spans)
		}
		if roots := rc.Counts().RootSpans; roots != produced/(1+nodesPerRun) {
			t.Fatalf("%d root spans, want %d", roots, produced/(1+nodesPerRun))
		}
	})
	for _, tuned := range []bool{false, true} {
		name := "otelsdk"
		if tuned {
			name += "-tuned"
		}
		t.Run(name, func(t *testing.T) {
			rc := startReceiver(t, ReceiverConfig{Decode: DecodeCount})
			if produced := e2eSDK(t, rc, 4000, tuned); rc.Counts().Spans != produced {
				t.Fatalf("received %d of %d spans", rc.Counts().Spans, produced)
			}
		})
	}
}

// TestEncodeSameSpans checks the two encode benchmarks encode the same
// number of spans with the same attributes, so that they compare like
// with like.
func TestEncodeSameSpans(t *testing.T) {
	runs := flowtelBatch(batchRuns, nodesPerRun)
	sdk := sdkBatch(batchRuns, nodesPerRun)
	if n := encode.NumSpans(runs); n != len(sdk) || n != 512 {
		t.Fatalf("flowtel batch %d spans, SDK batch %d, want 512", n, len(sdk))
	}
	raw, err := proto.Marshal(sdkToProto(sdk))
	if err != nil {
		t.Fatal(err)
	}
	enc := encode.NewEncoder(encode.Resource{ServiceName: "bench"})
	for _, b := range [][]byte{raw, enc.AppendTraces(nil, runs)} {
		req := &coltrace.ExportTraceServiceRequest{}
		if err := proto.Unmarshal(b, req); err != nil {
			t.Fatal(err)
		}
		var nodeAttrs int
		for _, ss := range req.ResourceSpans[0].ScopeSpans {
			for _, sp := range ss.Spans {
				if len(sp.ParentSpanId) != 0 && nodeAttrs == 0 {
					nodeAttrs = len(sp.Attributes)
				}
			}
		}
		if nodeAttrs < 8 {
			t.Fatalf("a node span has %d attributes, want at least 8", nodeAttrs)
		}
	}
}

// TestCountCodecBuffers checks the count codec hands over the request's
// bytes whether they arrived in one buffer, in several or in none, and
// that the pool's buffers have the asked length, also past its tiers.
func TestCountCodecBuffers(t *testing.T) {
	want := bytes.Repeat([]byte("0123456789"), 5000)
	for _, data := range []mem.BufferSlice{
		{mem.SliceBuffer(want)},
		{mem.SliceBuffer(want[:16384]), mem.SliceBuffer(want[16384:32768]), mem.SliceBuffer(want[32768:])},
		nil,
	} {
		var raw rawMessage
		if err := (countCodec{}).Unmarshal(data, &raw); err != nil {
			t.Fatal(err)
		}
		if got := raw.buf.ReadOnlyData(); !bytes.Equal(got, want[:data.Len()]) {
			t.Fatalf("%d buffers: got %d bytes, want %d", len(data), len(got), data.Len())
		}
		raw.buf.Free()
	}
	for _, n := range []int{0, 1, 1000, 1 << 20, 64<<20 + 1} {
		b := bufferPool.Get(n)
		if len(*b) != n {
			t.Fatalf("Get(%d) has length %d", n, len(*b))
		}
		bufferPool.Put(b)
	}
}

// BenchmarkCountSpans measures the count decoder on the 512-span batch of
// the encode benchmarks.
func BenchmarkCountSpans(b *testing.B) {
	runs := flowtelBatch(batchRuns, nodesPerRun)
	buf := encode.NewEncoder(encode.Resource{ServiceName: "bench"}).AppendTraces(nil, runs)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if n, _, err := CountSpans(buf); err != nil || n != 512 {
			b.Fatalf("CountSpans = %d, %v", n, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*512), "ns/span")
}

// startReceiver starts a Receiver of cfg, closed when tb ends.
func startReceiver(tb testing.TB, cfg ReceiverConfig) *Receiver {
	tb.Helper()
	rc, err := StartReceiver(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(rc.Close)
	return rc
}

// TestCountRootsAnyFieldOrder checks that a span's parent_span_id is found
// wherever it is written, that an empty one leaves the span a root, and
// that a root span's fields are checked whole.
func TestCountRootsAnyFieldOrder(t *testing.T) {
	attr := protowire.AppendTag(nil, 9, protowire.BytesType)
	attr = protowire.AppendBytes(attr, []byte("\x0a\x01k"))
	parent := func(id []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, 4, protowire.BytesType), id)
	}
	request := func(spans ...[]byte) []byte {
		var ss []byte
		for _, sp := range spans {
			ss = protowire.AppendBytes(protowire.AppendTag(ss, 2, protowire.BytesType), sp)
		}
		rs := protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), ss)
		return protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), rs)
	}
	last := append(append(append([]byte{}, attr...), attr...), parent([]byte{1, 2, 3, 4, 5, 6, 7, 8})...)
	empty := append(append([]byte{}, parent(nil)...), attr...)
	b := request(last, empty, attr)
	spans, roots, err := CountSpans(b)
	if err != nil || spans != 3 || roots != 2 {
		t.Fatalf("CountSpans = %d, %d, %v; want 3, 2, nil", spans, roots, err)
	}
	req := &coltrace.ExportTraceServiceRequest{}
	if err := proto.Unmarshal(b, req); err != nil || len(req.ResourceSpans[0].ScopeSpans[0].Spans) != 3 {
		t.Fatalf("the official decoder does not read the same request: %v", err)
	}
	// A root span with a malformed field (a length past its end) is refused.
	bad := append(append([]byte{}, attr...), 0x4a, 0x7f)
	if _, _, err := CountSpans(request(bad)); err == nil {
		t.Fatal("CountSpans accepted a root span with a malformed field")
	}
}

// splitAt cuts b into buffers at random points, as HTTP/2 frames would,
// some of a single byte.
func splitAt(b []byte, rng *rand.Rand) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		n := 1 + rng.IntN(min(len(b), 1+rng.IntN(64)))
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

// TestCountChunksMatchesCountSpans checks the frame-by-frame count against
// CountSpans on random requests cut at random points, and on the encode
// benchmarks' batch in 16 KiB frames.
func TestCountChunksMatchesCountSpans(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	var c chunkCursor
	check := func(b []byte, bufs [][]byte) {
		t.Helper()
		spans, roots, ok := c.countSpansChunks(bufs)
		wantSpans, wantRoots, err := CountSpans(b)
		if !ok || err != nil || spans != wantSpans || roots != wantRoots {
			t.Fatalf("countSpansChunks = %d, %d, %v; CountSpans %d, %d, %v", spans, roots, ok, wantSpans, wantRoots, err)
		}
	}
	for i := 0; i < 300; i++ {
		req, _, _ := randomTraces(rng)
		b, err := proto.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		check(b, splitAt(b, rng))
		lreq, _ := randomLogs(rng)
		b, _ = proto.Marshal(lreq)
		n, ok := c.countLogsChunks(splitAt(b, rng))
		want, err := CountLogRecords(b)
		if !ok || err != nil || n != want {
			t.Fatalf("countLogsChunks = %d, %v; CountLogRecords %d, %v", n, ok, want, err)
		}
	}
	b := encode.NewEncoder(encode.Resource{ServiceName: "bench"}).AppendTraces(nil, flowtelBatch(batchRuns, nodesPerRun))
	var frames [][]byte
	for rest := b; len(rest) > 0; rest = rest[min(len(rest), 16<<10):] {
		frames = append(frames, rest[:min(len(rest), 16<<10)])
	}
	check(b, frames)
	if testing.AllocsPerRun(10, func() { c.countSpansChunks(frames) }) != 0 {
		t.Error("countSpansChunks allocates")
	}
}

// FuzzCountSpansChunks checks that the frame-by-frame counts never accept
// what CountSpans and CountLogRecords refuse and agree with them on what
// they accept, however the request is cut.
func FuzzCountSpansChunks(f *testing.F) {
	rng := rand.New(rand.NewPCG(4, 4))
	for i := 0; i < 5; i++ {
		req, _, _ := randomTraces(rng)
		b, _ := proto.Marshal(req)
		f.Add(b, uint64(i))
	}
	f.Fuzz(func(t *testing.T, b []byte, seed uint64) {
		var c chunkCursor
		spans, roots, ok := c.countSpansChunks(splitAt(b, rand.New(rand.NewPCG(seed, seed))))
		if ok {
			wantSpans, wantRoots, err := CountSpans(b)
			if err != nil || spans != wantSpans || roots != wantRoots {
				t.Fatalf("countSpansChunks = %d, %d; CountSpans %d, %d, %v", spans, roots, wantSpans, wantRoots, err)
			}
		}
		if n, ok := c.countLogsChunks(splitAt(b, rand.New(rand.NewPCG(seed, seed)))); ok {
			if want, err := CountLogRecords(b); err != nil || n != want {
				t.Fatalf("countLogsChunks = %d; CountLogRecords %d, %v", n, want, err)
			}
		}
	})
}

// TestCountTraceFramesFallsBack: a request the frame-by-frame walk gives up
// on (here an unknown group field, which the official decoder skips) is
// copied and counted by CountSpans; a malformed one is refused.
func TestCountTraceFramesFallsBack(t *testing.T) {
	req, spans, roots := randomTraces(rand.New(rand.NewPCG(5, 5)))
	b, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	b = protowire.AppendTag(b, 100, protowire.StartGroupType)
	b = protowire.AppendTag(b, 100, protowire.EndGroupType)
	if err := proto.Unmarshal(b, &coltrace.ExportTraceServiceRequest{}); err != nil {
		t.Fatalf("the official decoder refuses the request: %v", err)
	}
	frames := func(b []byte) mem.BufferSlice {
		return mem.BufferSlice{mem.SliceBuffer(b[:len(b)/2]), mem.SliceBuffer(b[len(b)/2:])}
	}
	var c chunkCursor
	if _, _, ok := c.countSpansChunks([][]byte{b[:len(b)/2], b[len(b)/2:]}); ok {
		t.Fatal("countSpansChunks took a group field")
	}
	r := &Receiver{}
	if err := r.countTraceFrames(&rawMessage{frames: true, data: frames(b)}); err != nil {
		t.Fatal(err)
	}
	if got := r.Counts(); got.Spans != spans || got.RootSpans != roots {
		t.Fatalf("counted %d spans, %d roots; want %d, %d", got.Spans, got.RootSpans, spans, roots)
	}
	if err := r.countTraceFrames(&rawMessage{frames: true, data: frames(b[:len(b)-3])}); err == nil {
		t.Fatal("a truncated request was counted")
	}
}

// TestIsChildLayouts: spans written in the layout isChild recognizes and
// in layouts a byte or a field away from it are counted as the official
// decoder reads them, in one buffer and frame by frame.
func TestIsChildLayouts(t *testing.T) {
	id := func(n int) []byte { return bytes.Repeat([]byte{7}, n) }
	spans := []*tracepb.Span{
		{TraceId: id(16), SpanId: id(8), ParentSpanId: id(8), Name: "child"},
		{TraceId: id(16), SpanId: id(8), Name: "root"},
		{TraceId: id(16), SpanId: id(8), ParentSpanId: id(7), Name: "short parent"},
		{TraceId: id(15), SpanId: id(8), ParentSpanId: id(8)},
		{TraceId: id(16), SpanId: id(9), ParentSpanId: id(8)},
		{TraceId: id(16), SpanId: id(8), TraceState: "k=v", ParentSpanId: id(8)},
		{TraceId: id(16), SpanId: id(8), TraceState: "k=v"},
		{TraceId: id(16)},
		{},
	}
	req := &coltrace.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}}}}}
	b, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var roots uint64
	for _, sp := range spans {
		if len(sp.ParentSpanId) == 0 {
			roots++
		}
	}
	if n, r, err := CountSpans(b); err != nil || n != uint64(len(spans)) || r != roots {
		t.Fatalf("CountSpans = %d, %d, %v; want %d, %d", n, r, err, len(spans), roots)
	}
	var c chunkCursor
	for cut := 1; cut < len(b); cut++ {
		if n, r, ok := c.countSpansChunks([][]byte{b[:cut], b[cut:]}); !ok || n != uint64(len(spans)) || r != roots {
			t.Fatalf("cut at %d: countSpansChunks = %d, %d, %v; want %d, %d", cut, n, r, ok, len(spans), roots)
		}
	}
}
