package otlp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
)

// TestResourceTooLarge is the regression test of a resource too large
// for any request passing New: with 5 MiB of Config.ResourceAttrs (or
// 3 MiB through engine.WithResource), every batch was dropped as too
// large, Shutdown returned nil and the error handler heard nothing. Every
// request carries the resource, so New refuses one that leaves less than
// half of a request for spans, naming both places it comes from; a
// resource that fits is accepted.
func TestResourceTooLarge(t *testing.T) {
	r := otlptest.Start(t, otlptest.GRPC, nil)
	for _, tc := range []struct {
		name  string
		attrs []export.KeyValue
		opts  []engine.Option
	}{
		{"Config.ResourceAttrs", []export.KeyValue{{Key: "big", Value: strings.Repeat("x", 5<<20)}}, nil},
		{"WithResource", nil, []engine.Option{engine.WithResource(encode.Resource{Attrs: []encode.Attr{engine.String("big", strings.Repeat("y", 3<<20))}})}},
		{"both", []export.KeyValue{{Key: "a", Value: strings.Repeat("x", 1<<20)}},
			[]engine.Option{engine.WithResource(encode.Resource{ServiceName: strings.Repeat("s", 1<<20)})}},
	} {
		cfg := export.Config{Endpoint: r.Endpoint(), Insecure: true, ResourceAttrs: tc.attrs}
		e, err := New(cfg, tc.opts...)
		if err == nil {
			_ = e.Shutdown(t.Context())
			t.Errorf("%s: New accepted a resource no request can carry", tc.name)
			continue
		}
		if !errors.Is(err, export.ErrInvalidConfig) || !strings.Contains(err.Error(), "ResourceAttrs") || !strings.Contains(err.Error(), "WithResource") {
			t.Errorf("%s: %v, want ErrInvalidConfig naming ResourceAttrs and WithResource", tc.name, err)
		}
	}
	cfg := export.Config{Endpoint: r.Endpoint(), Insecure: true, ResourceAttrs: []export.KeyValue{{Key: "ok", Value: strings.Repeat("x", 64<<10)}}}
	e, err := New(cfg)
	if err != nil {
		t.Fatalf("a 64 KiB resource refused: %v", err)
	}
	if err := e.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestTooLargeReported is the regression test of spans dropped as too
// large for any request (a 6 MiB attribute value, which Limits.ValueBytes
// = 16 MiB lets through) being counted but never told to the error
// handler, while every other loss of the exporter is: the handler now
// hears how many and why, and the accounting still adds up.
func TestTooLargeReported(t *testing.T) {
	r := otlptest.Start(t, otlptest.GRPC, nil)
	var mu sync.Mutex
	var msgs []string
	cfg := export.Config{Endpoint: r.Endpoint(), Insecure: true, ErrorHandler: func(err error) {
		mu.Lock()
		msgs = append(msgs, err.Error())
		mu.Unlock()
	}}
	e, err := New(cfg, engine.WithLimits(engine.Limits{ValueBytes: 16 << 20}))
	if err != nil {
		t.Fatal(err)
	}
	run := e.StartRun(engine.RunInfo{})
	n := run.StartNode("n", "t", "n")
	n.Input(engine.String("k", strings.Repeat("v", 6<<20)))
	n.End()
	run.End(0, "")
	if err := e.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	s := e.Stats()
	if s.Dropped != 1 || s.Exported != 1 || s.Accepted != s.Exported+s.Dropped+s.SampledOut+s.InFlight {
		t.Errorf("stats %+v, want the node dropped and the run exported", s)
	}
	mu.Lock()
	defer mu.Unlock()
	found := false
	for _, m := range msgs {
		found = found || strings.Contains(m, "dropped 1 traces items, each larger than a request may be")
	}
	if !found {
		t.Errorf("the error handler heard %q, nothing of the span dropped as too large", msgs)
	}
}

// TestMetricsPushFitsReceiver: 128 request series whose app_id and func
// labels are 16 KiB each make a metrics push of about 8 MiB, which a gRPC
// server refuses at its default 4 MiB. The exporter splits it: every
// series arrives, in requests under the limit, and nothing is dropped.
func TestMetricsPushFitsReceiver(t *testing.T) {
	r := otlptest.StartKeeping(t, otlptest.GRPC)
	const series = 128
	e, err := New(export.Config{Endpoint: r.Endpoint()},
		engine.WithMetrics(engine.MetricsConfig{Interval: time.Hour, LabelBytes: 16 << 10, Limit: series}))
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 16<<10)
	for i := range series {
		e.RecordRequest(fmt.Sprint(i, long), long, 0, time.Millisecond)
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	apps := map[string]bool{}
	size := 0
	for _, req := range r.Metrics() {
		if n := proto.Size(req); n > export.DefaultMaxRequestBytes {
			t.Errorf("a request of %d bytes", n)
		}
		size += proto.Size(req)
		for _, p := range samples(req, engine.MetricRequests, nil) {
			apps[p.attrs["app_id"]] = true
		}
	}
	xs, _ := ExporterStats(e)
	m := xs.Signals[export.Metrics]
	if len(apps) != series || m.Dropped != 0 || m.InFlight != 0 || m.Exported == 0 || int64(m.Exported) != r.Items()[otlptest.Metrics] {
		t.Errorf("%d series of %d arrived in %d requests (%d bytes); metrics signal %+v, receiver got %d points",
			len(apps), series, len(r.Metrics()), size, m, r.Items()[otlptest.Metrics])
	}
	if size < 4<<20 || len(r.Metrics()) < 2 {
		t.Errorf("the push was %d bytes in %d requests: want one over 4 MiB, split", size, len(r.Metrics()))
	}
}
