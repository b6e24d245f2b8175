package engine

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// latencyRecorders returns the two sides the request latency figures
// compare: an engine with metrics and its resolved series for app_id
// "app", func "flow", ret 0, and the OpenTelemetry Go SDK's histogram of
// the same name (its default aggregation) with the same attributes as a
// prebuilt option, in a prebuilt slice: what a performance-minded user
// writes, since Record(ctx, v, opt) allocates its variadic slice (16 B)
// on every call. Both are shut down when tb ends.
func latencyRecorders(tb testing.TB) (*Engine, RequestSeries, metric.Float64Histogram, []metric.RecordOption) {
	e, err := New(WithMetrics(MetricsConfig{NoExport: true}))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tb.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	hist, err := mp.Meter("bench").Float64Histogram("server_request_time_microseconds", metric.WithUnit("us"))
	if err != nil {
		tb.Fatal(err)
	}
	set := attribute.NewSet(attribute.String("app_id", "app"), attribute.String("func", "flow"), attribute.Int("ret", 0))
	return e, e.RequestSeries("app", "flow", 0), hist, []metric.RecordOption{metric.WithAttributeSet(set)}
}

// BenchmarkRecordLatency records one request latency per operation:
// flowtel through a resolved RequestSeries (the public hot path),
// flowtel_lookup through RecordRequest (two series lookups per call), and
// the OpenTelemetry Go SDK's Float64Histogram.Record with the 3 attributes
// as a prebuilt set in a prebuilt option slice, serially and in parallel.
func BenchmarkRecordLatency(b *testing.B) {
	e, series, hist, opts := latencyRecorders(b)
	ctx := context.Background()

	cases := []struct {
		name   string
		record func(i int)
	}{
		{"flowtel", func(i int) { series.Record(time.Duration(i&1023) * time.Microsecond) }},
		{"flowtel_lookup", func(i int) { e.RecordRequest("app", "flow", 0, time.Duration(i&1023)*time.Microsecond) }},
		{"otelsdk", func(i int) { hist.Record(ctx, float64(i&1023), opts...) }},
	}
	for _, c := range cases {
		b.Run("serial/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				c.record(i)
				i++
			}
		})
	}
	for _, c := range cases {
		b.Run("parallel/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					c.record(i)
					i++
				}
			})
		})
	}
}
