package encode_test

import (
	"math"
	"math/rand/v2"
	"testing"

	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/protobuf/proto"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/otlpref"
	"github.com/flowtel/flowtel/internal/testkit"
)

// metricsStrs are the strings random metrics draw from, invalid UTF-8
// included.
var metricsStrs = []string{"", "server_request_total", "llm", "0", "工作流", "🚀", "\xff\xfe", "a\x80b", "le", "app-1"}

func metricsRandStr(r *rand.Rand) string { return metricsStrs[r.IntN(len(metricsStrs))] }

func metricsRandValue(r *rand.Rand) encode.Value {
	switch r.IntN(6) {
	case 0:
		return encode.StringValue(metricsRandStr(r))
	case 1:
		return encode.Int64Value(r.Int64() - math.MaxInt64/2)
	case 2:
		return encode.Float64Value(r.NormFloat64())
	case 3:
		return encode.BoolValue(r.IntN(2) == 0)
	case 4:
		return encode.BytesValue([]byte(metricsRandStr(r)))
	}
	return encode.Value{}
}

func metricsRandAttrs(r *rand.Rand) []encode.Attr {
	as := make([]encode.Attr, r.IntN(4))
	for i := range as {
		as[i] = encode.Attr{Key: metricsRandStr(r), Value: metricsRandValue(r)}
	}
	return as
}

func metricsRandU64s(r *rand.Rand, n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		if r.IntN(3) > 0 {
			out[i] = r.Uint64() >> r.IntN(64)
		}
	}
	return out
}

// metricsRandMetrics returns random metrics of every kind.
func metricsRandMetrics(r *rand.Rand) []encode.Metric {
	ms := make([]encode.Metric, r.IntN(6))
	for i := range ms {
		m := encode.Metric{
			Name: metricsRandStr(r), Description: metricsRandStr(r), Unit: metricsRandStr(r),
			Kind:        encode.MetricKind(1 + r.IntN(4)),
			Temporality: encode.Temporality(r.IntN(2)),
			Monotonic:   r.IntN(2) == 0,
		}
		m.Points = make([]encode.MetricPoint, r.IntN(4))
		for j := range m.Points {
			p := encode.MetricPoint{
				Attrs:         metricsRandAttrs(r),
				StartUnixNano: r.Int64N(2e18) * int64(r.IntN(2)),
				TimeUnixNano:  r.Int64N(2e18),
				IsInt:         r.IntN(2) == 0,
				Int:           r.Int64() - math.MaxInt64/2,
				Double:        r.NormFloat64() * float64(r.IntN(2)),
				Count:         r.Uint64() >> r.IntN(64),
				Sum:           r.Float64() * 1e9 * float64(r.IntN(2)),
				HasMinMax:     r.IntN(2) == 0,
				Min:           r.Float64(),
				Max:           r.Float64() * 1e6,
				Scale:         int32(r.IntN(30)) - 10,
				ZeroCount:     uint64(r.IntN(3)),
			}
			nb := r.IntN(5)
			if nb > 0 {
				p.Bounds = make([]float64, nb-1)
				for k := range p.Bounds {
					p.Bounds[k] = float64(k) * 1000 * float64(r.IntN(2))
				}
				p.BucketCounts = metricsRandU64s(r, nb)
			}
			p.PositiveOffset = int32(r.IntN(200)) - 100
			p.PositiveCounts = metricsRandU64s(r, r.IntN(5))
			m.Points[j] = p
		}
		ms[i] = m
	}
	return ms
}

// TestAppendMetricsMatchesReference is the property test: random metrics
// of every kind decode with the official OTLP types to exactly what the
// generated types build from the same input.
func TestAppendMetricsMatchesReference(t *testing.T) {
	for seed := range uint64(2000) {
		r := rand.New(rand.NewPCG(seed, 5))
		res := &encode.Resource{ServiceName: metricsRandStr(r), ServiceInstanceID: metricsRandStr(r),
			HostIP: metricsRandStr(r), Attrs: metricsRandAttrs(r)}
		ms := metricsRandMetrics(r)
		b := encode.AppendMetrics([]byte("prefix"), res, ms)
		if string(b[:6]) != "prefix" {
			t.Fatal("AppendMetrics overwrote dst")
		}
		var got colmetricspb.ExportMetricsServiceRequest
		if err := proto.Unmarshal(b[6:], &got); err != nil {
			t.Fatalf("seed %d: decode: %v", seed, err)
		}
		var rb otlpref.Builder
		want := rb.Metrics(res, ms)
		if !proto.Equal(&got, want) {
			t.Fatalf("seed %d: decoded request differs\n got: %v\nwant: %v", seed, &got, want)
		}
	}
}

// metricsSample is a realistic request: the request counter and latency
// histogram of 8 series each, 14 buckets.
func metricsSample() (*encode.Resource, []encode.Metric) {
	res := &encode.Resource{ServiceName: "workflow", ServiceInstanceID: "i-1", HostIP: "127.0.0.1"}
	bounds := []float64{1000, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1e6, 2.5e6, 5e6, 1e7, 3e7, 6e7}
	var counter, hist encode.Metric
	counter = encode.Metric{Name: "server_request_total", Kind: encode.MetricSum, Monotonic: true}
	hist = encode.Metric{Name: "server_request_time_microseconds", Unit: "us", Kind: encode.MetricHistogram}
	for i := range 8 {
		attrs := []encode.Attr{{Key: "app_id", Value: encode.StringValue("app")}, {Key: "func", Value: encode.StringValue("chat")},
			{Key: "ret", Value: encode.StringValue([]string{"0", "10001"}[i%2])}}
		counter.Points = append(counter.Points, encode.MetricPoint{Attrs: attrs, StartUnixNano: 1, TimeUnixNano: 2, IsInt: true, Int: int64(i * 100)})
		counts := make([]uint64, len(bounds)+1)
		for j := range counts {
			counts[j] = uint64(i + j)
		}
		hist.Points = append(hist.Points, encode.MetricPoint{Attrs: attrs, StartUnixNano: 1, TimeUnixNano: 2,
			Count: 99, Sum: 12345, HasMinMax: true, Min: 3, Max: 9e6, Bounds: bounds, BucketCounts: counts})
	}
	return res, []encode.Metric{counter, hist}
}

func TestAppendMetricsAllocs(t *testing.T) {
	res, ms := metricsSample()
	buf := encode.AppendMetrics(nil, res, ms)
	testkit.WantAllocs(t, 0, func() { buf = encode.AppendMetrics(buf[:0], res, ms) })
}

func BenchmarkAppendMetrics(b *testing.B) {
	res, ms := metricsSample()
	points := 0
	for _, m := range ms {
		points += len(m.Points)
	}
	benchAppend(b, points, "point", func(buf []byte) []byte { return encode.AppendMetrics(buf, res, ms) })
}
