package main

import (
	"bytes"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/flowtel/flowtel/internal/otlptest"
)

// TestJaegerLikeEndpoint: the README sends the loadgen to Jaeger with
// -logs=false, Jaeger having no OTLP logs service; it has no metrics
// service either, and the metrics the loadgen pushed were refused, its
// shutdown reporting "export metrics: gRPC Unimplemented ... dropped N
// metrics items", with no flag to turn the push off. -metrics-push=false
// does, as MetricsConfig.NoExport. Against a real receiver that answers
// logs and metrics Unimplemented, as Jaeger does.
func TestJaegerLikeEndpoint(t *testing.T) {
	rc := otlptest.Start(t, otlptest.GRPC, func(c otlptest.Call) otlptest.Reply {
		if c.Signal != otlptest.Traces {
			return otlptest.Reply{Code: codes.Unimplemented, Message: "unknown service"}
		}
		return otlptest.Reply{}
	})
	args := []string{"-workload=synthetic", "-duration=1s", "-rate=1000", "-concurrency=8", "-endpoint=" + rc.Addr, "-logs=false"}
	var out, errb bytes.Buffer
	if code := run(append(args, "-metrics-push=false"), &out, &errb); code != 0 || strings.Contains(errb.String(), "metrics items") {
		t.Fatalf("-metrics-push=false: exit %d, stderr:\n%s", code, errb.String())
	}
	if !strings.Contains(out.String(), "RECONCILED") {
		t.Errorf("-metrics-push=false: the accounting did not reconcile:\n%s", out.String())
	}
	out.Reset()
	errb.Reset()
	if code := run(args, &out, &errb); code != 0 || !strings.Contains(errb.String(), "metrics items") {
		t.Errorf("the push on: exit %d, want 0 with the refused metrics reported; stderr:\n%s", code, errb.String())
	}
}
