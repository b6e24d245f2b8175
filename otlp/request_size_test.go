package otlp

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
)

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
	if len(apps) != series || m.DroppedTotal() != 0 || m.InFlight != 0 || m.Exported == 0 || int64(m.Exported) != r.Items()[otlptest.Metrics] {
		t.Errorf("%d series of %d arrived in %d requests (%d bytes); metrics signal %+v, receiver got %d points",
			len(apps), series, len(r.Metrics()), size, m, r.Items()[otlptest.Metrics])
	}
	if size < 4<<20 || len(r.Metrics()) < 2 {
		t.Errorf("the push was %d bytes in %d requests: want one over 4 MiB, split", size, len(r.Metrics()))
	}
}
