package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRun runs the example into its embedded receiver: every request
// succeeds, every span is received, and the bottleneck table has every
// node type of the graph.
func TestRun(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"-n", "12", "-c", "4", "-first-chunk", "5ms", "-per-chunk", "1ms", "-retrieve", "1ms", "-tool", "2ms"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	text := out.String()
	for _, want := range []string{
		"reconciled        ok",
		// 9 weather questions take the tool path (a root and 10 nodes:
		// classify, guide, profile, prompt, planner, tools, weather,
		// respond, format, writer), 3 the direct one (a root and 5).
		"received          117  (12 runs: root spans)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	for _, typ := range []string{" llm ", " flow ", " knowledge ", " tools ", " tool ", " code "} {
		if !strings.Contains(text, typ) {
			t.Errorf("bottleneck table lacks %q:\n%s", typ, text)
		}
	}
}

// traceOnly is a receiver of the shape of Jaeger: the OTLP trace service
// alone. A call to another service (metrics, logs) is counted and refused
// with Unimplemented, as Jaeger refuses it.
type traceOnly struct {
	coltrace.UnimplementedTraceServiceServer
	spans, others atomic.Int64
}

func (r *traceOnly) Export(_ context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			r.spans.Add(int64(len(ss.GetSpans())))
		}
	}
	return &coltrace.ExportTraceServiceResponse{}, nil
}

// TestRunIntoTracesOnly runs the example as README runs it into Jaeger
// (-logs=false -metrics-push=false) against a receiver that, as Jaeger,
// serves traces alone: nothing is sent to a service it lacks, nothing is
// reported dropped, and every span arrives.
func TestRunIntoTracesOnly(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	recv := &traceOnly{}
	srv := grpc.NewServer(grpc.UnknownServiceHandler(func(any, grpc.ServerStream) error {
		recv.others.Add(1)
		return status.Error(codes.Unimplemented, "unknown service")
	}))
	coltrace.RegisterTraceServiceServer(srv, recv)
	go srv.Serve(lis)
	defer srv.Stop()

	var out, errb bytes.Buffer
	code := run([]string{"-n", "12", "-c", "4", "-first-chunk", "5ms", "-per-chunk", "1ms", "-retrieve", "1ms", "-tool", "2ms",
		"-endpoint", lis.Addr().String(), "-logs=false", "-metrics-push=false"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	if n := recv.others.Load(); n != 0 {
		t.Errorf("%d calls to a service the receiver lacks (metrics or logs)", n)
	}
	if errb.Len() != 0 {
		t.Errorf("stderr: %s", errb.String())
	}
	// 9 weather questions take the tool path (a root and 10 nodes), 3 the
	// direct one (a root and 5), as in TestRun.
	if got := recv.spans.Load(); got != 9*11+3*6 {
		t.Errorf("received %d spans, want %d", got, 9*11+3*6)
	}
}

// TestHelpExitsZero: -h prints the flags and exits 0, a bad flag exits 2.
func TestHelpExitsZero(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-h"}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "-metrics-push") {
		t.Errorf("eino-agent -h: exit %d, %d bytes on stderr; want 0 and the flags", code, errb.Len())
	}
	if code := run([]string{"-no-such-flag"}, &out, &errb); code != 2 {
		t.Errorf("eino-agent -no-such-flag: exit %d, want 2", code)
	}
}
