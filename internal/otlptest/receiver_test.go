package otlptest

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func request(batch string, spans int) *coltrace.ExportTraceServiceRequest {
	ss := &tracepb.ScopeSpans{}
	for range spans {
		ss.Spans = append(ss.Spans, &tracepb.Span{Name: "s", TraceId: bytes.Repeat([]byte{1}, 16), SpanId: bytes.Repeat([]byte{2}, 8)})
	}
	res := &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "batch", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: batch}}}}}
	return &coltrace.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{Resource: res, ScopeSpans: []*tracepb.ScopeSpans{ss}}}}
}

// TestGRPC sends with the official client: a success, a failure, a retry
// of an accepted batch (counted once) and an undecodable answer.
func TestGRPC(t *testing.T) {
	r := Start(t, GRPC, func(c Call) Reply {
		switch c.Batch {
		case "fail":
			return Reply{Code: codes.Unavailable, Message: "down"}
		case "garbage":
			return Reply{Undecodable: true}
		}
		return Reply{}
	})
	r.Keep = true
	conn, err := grpc.NewClient(r.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := coltrace.NewTraceServiceClient(conn)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-token", "t1")
	for _, b := range []string{"a", "a"} {
		if _, err := client.Export(ctx, request(b, 3)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.Export(ctx, request("fail", 2)); status.Code(err) != codes.Unavailable {
		t.Errorf("fail: %v", err)
	}
	if _, err := client.Export(ctx, request("garbage", 2)); status.Code(err) != codes.Internal {
		t.Errorf("undecodable answer decoded: %v", err)
	}
	if got := r.Items()[Traces]; got != 5 {
		t.Errorf("items %d, want 5 (3 once, the undecodable answer's 2)", got)
	}
	if r.Calls() != 4 || len(r.Arrivals("a")) != 2 || r.Header().Get("X-Token") != "t1" || len(r.Traces()) != 4 {
		t.Errorf("calls %d, arrivals %v, header %v, kept %d", r.Calls(), r.Arrivals("a"), r.Header(), len(r.Traces()))
	}
}

func TestHTTP(t *testing.T) {
	r := Start(t, HTTP, func(c Call) Reply {
		if c.Batch == "slow" {
			return Reply{Code: codes.ResourceExhausted, RetryAfter: "2"}
		}
		return Reply{Rejected: 1, Message: "one bad"}
	})
	post := func(batch string) (*http.Response, []byte) {
		b, _ := proto.Marshal(request(batch, 4))
		resp, err := http.Post(r.Endpoint()+"/v1/traces", "application/x-protobuf", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		return resp, buf.Bytes()
	}
	resp, body := post("ok")
	var ok coltrace.ExportTraceServiceResponse
	if resp.StatusCode != 200 || proto.Unmarshal(body, &ok) != nil || ok.GetPartialSuccess().GetRejectedSpans() != 1 {
		t.Errorf("ok: %d %v", resp.StatusCode, &ok)
	}
	if resp, _ := post("slow"); resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" {
		t.Errorf("slow: %d %v", resp.StatusCode, resp.Header)
	}
	if got := r.Items()[Traces]; got != 3 {
		t.Errorf("items %d, want 3", got)
	}
	r.Stop()
	r.Stop()
}
