package hdr

import (
	"context"
	"sync"
	"testing"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// BenchmarkRecordLatency compares recording one latency with flowtel's
// per-P HDR Histogram against the OpenTelemetry Go SDK's
// Float64Histogram.Record with 3 attributes passed as a prebuilt
// attribute set in a prebuilt option slice (the cheapest way to use the
// SDK), serial and parallel.
// The series lookup is included on both sides: Vec.With for flowtel, the
// attribute set for the SDK.
func BenchmarkRecordLatency(b *testing.B) {
	b.Run("flowtel", func(b *testing.B) {
		v, err := NewHistogramVec(Config{}, []string{"app_id", "func", "ret"}, 1000)
		if err != nil {
			b.Fatal(err)
		}
		lv := LabelValues{"app-1", "chat", "0"}
		recordLoops(b, func(i int64) { v.With(&lv).Record(i&0xFFFFF + 100) })
	})
	b.Run("otelsdk", func(b *testing.B) {
		reader := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		defer func() { _ = mp.Shutdown(context.Background()) }()
		h, err := mp.Meter("bench").Float64Histogram("server_request_time_microseconds")
		if err != nil {
			b.Fatal(err)
		}
		set := attribute.NewSet(attribute.String("app_id", "app-1"), attribute.String("func", "chat"), attribute.String("ret", "0"))
		opts := []metric.RecordOption{metric.WithAttributeSet(set)} // prebuilt: Record(ctx, v, opt) allocates its variadic slice
		ctx := context.Background()
		recordLoops(b, func(i int64) { h.Record(ctx, float64(i&0xFFFFF+100), opts...) })
	})
	// mutex is the rejected alternative: one HDR histogram behind a mutex.
	b.Run("mutex", func(b *testing.B) {
		var mu sync.Mutex
		h := hdrhistogram.New(DefaultLowest, DefaultHighest, DefaultDigits)
		recordLoops(b, func(i int64) {
			mu.Lock()
			_ = h.RecordValue(i&0xFFFFF + 100)
			mu.Unlock()
		})
	})
}

// recordLoops runs record(i), i counting up from 1, as the sub-benchmarks
// serial (one goroutine) and parallel (b.RunParallel, i counting in each
// goroutine). Every contender pays the same indirect call.
func recordLoops(b *testing.B, record func(i int64)) {
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for i := int64(1); b.Loop(); i++ {
			record(i)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for i := int64(1); pb.Next(); i++ {
				record(i)
			}
		})
	})
}

// BenchmarkHistogramRecord measures Record alone, without a series lookup.
func BenchmarkHistogramRecord(b *testing.B) {
	h, _ := New(Config{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int64(0)
		for pb.Next() {
			i++
			h.Record(i&0xFFFFF + 100)
		}
	})
}

// BenchmarkCounterAdd measures a sharded counter add.
func BenchmarkCounterAdd(b *testing.B) {
	c := NewCounter()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Inc()
		}
	})
}

// BenchmarkSnapshot measures one collection of a histogram that two Ps
// recorded into, with a reused Snapshot.
func BenchmarkSnapshot(b *testing.B) {
	h, _ := New(Config{})
	var s Snapshot
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.Record(int64(i) * 37)
		h.Snapshot(&s)
	}
}
