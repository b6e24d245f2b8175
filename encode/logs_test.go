package encode_test

import (
	"bytes"
	"strings"
	"testing"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/protobuf/proto"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/otlpref"
	"github.com/flowtel/flowtel/internal/testkit"
)

// TestLogsEquivalence is the property test for AppendLogs: random batches
// decode with the official decoder into the reference message.
func TestLogsEquivalence(t *testing.T) {
	for seed := uint64(0); seed < 300; seed++ {
		rng, rb, refRes, e := otlpSeedEncoder(seed, 5)
		for batch := 0; batch < 2; batch++ {
			runs := make([]*encode.Run, rng.IntN(5))
			for i := range runs {
				runs[i] = otlpGenRun(rng, 3)
			}
			before := e.Stats()
			rb.Invalid = 0
			want := rb.Logs(refRes, runs)
			prefix := []byte{0xAA}
			out := e.AppendLogs(append([]byte(nil), prefix...), runs)
			otlpCheckBatch(t, seed, batch, prefix, out, &collogspb.ExportLogsServiceRequest{}, want,
				before, e.Stats(), rb.Invalid, func(s encode.EncoderStats) uint64 { return s.LogRecords }, len(runs))
		}
	}
}

// TestLogsRecord checks one log record field by field.
func TestLogsRecord(t *testing.T) {
	run := &encode.Run{
		TraceID: encode.TraceID{1, 2, 3}, SpanID: encode.SpanID{4, 5}, SID: "sid-1",
		StartUnixNano: 1_700_000_000_000_000_000, EndUnixNano: 1_700_000_001_000_000_000,
		Status: encode.StatusError,
	}
	e := encode.NewEncoder(encode.Resource{ServiceName: "svc"})
	var req collogspb.ExportLogsServiceRequest
	if err := proto.Unmarshal(e.AppendLogs(nil, []*encode.Run{run}), &req); err != nil {
		t.Fatal(err)
	}
	lr := req.ResourceLogs[0].ScopeLogs[0].LogRecords[0]
	if lr.TimeUnixNano != uint64(run.EndUnixNano) || lr.SeverityNumber != logspb.SeverityNumber_SEVERITY_NUMBER_ERROR ||
		!bytes.Equal(lr.TraceId, run.TraceID[:]) || !bytes.Equal(lr.SpanId, run.SpanID[:]) ||
		lr.EventName != encode.RunLogEventName ||
		lr.Body.GetStringValue() != string(encode.AppendRunLog(nil, run)) ||
		otlpAttrMap(lr.Attributes)["sid"].GetStringValue() != "sid-1" ||
		otlpAttrMap(lr.Attributes)["event.name"].GetStringValue() != encode.RunLogEventName {
		t.Fatalf("log record = %v", lr)
	}
	if s := e.Stats(); s.LogRequests != 1 || s.LogRecords != 1 {
		t.Fatalf("stats = %+v", s)
	}
}

// TestLogsAllocs asserts that encoding a batch of log records allocates
// nothing once the encoder and the destination have grown.
func TestLogsAllocs(t *testing.T) {
	e := encode.NewEncoder(encode.Resource{ServiceName: "s", HostIP: "10.0.0.1"})
	runs := otlpBenchRuns(512, 8)
	buf := e.AppendLogs(nil, runs)
	testkit.WantAllocs(t, 0, func() { buf = e.AppendLogs(buf[:0], runs) })
}

// TestLogsLengthGuesses covers AppendLogs's reserved lengths when they
// are guessed wrong: bodies whose varint lengths cross 16384 and 2 MiB,
// in batches where each record's size differs from the previous one's,
// and batches much smaller or larger than the guess for their count.
func TestLogsLengthGuesses(t *testing.T) {
	sized := func(n int) *encode.Run {
		r := &encode.Run{TraceID: encode.TraceID{1}, SpanID: encode.SpanID{2}, SID: "sid", EndUnixNano: 1}
		r.Answer = strings.Repeat("a", n-len(encode.AppendRunLog(nil, r)))
		return r
	}
	var sizes []int
	for _, n := range []int{16384, 1 << 21} {
		for d := -8; d <= 8; d++ {
			sizes = append(sizes, n+d)
		}
	}
	batches := [][]int{
		{400}, {400, 400, 400, 400, 400, 400, 400, 400, 400, 400},
		{100000}, {400, 100000, 400}, {1 << 22, 400},
		sizes,
	}
	for _, n := range sizes {
		batches = append(batches, []int{n}, []int{400, n}, []int{n, 400})
	}
	res := encode.Resource{ServiceName: "svc"}
	var rb otlpref.Builder
	refRes := rb.Resource(res)
	e := encode.NewEncoder(res)
	for _, sizes := range batches {
		runs := make([]*encode.Run, len(sizes))
		for i, n := range sizes {
			runs[i] = sized(n)
		}
		want := rb.Logs(refRes, runs)
		out := e.AppendLogs([]byte{0xAA}, runs)
		var got collogspb.ExportLogsServiceRequest
		if err := proto.Unmarshal(out[1:], &got); err != nil {
			t.Fatalf("sizes %v: unmarshal: %v", sizes, err)
		}
		otlpMustEqual(t, &got, want)
		if proto.Size(want) != len(out)-1 {
			t.Fatalf("sizes %v: %d bytes, proto.Size of the reference = %d", sizes, len(out)-1, proto.Size(want))
		}
	}
}
