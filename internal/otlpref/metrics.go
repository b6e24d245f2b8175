package otlpref

import (
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/proto"

	"github.com/flowtel/flowtel/encode"
)

func temporality(t encode.Temporality) metricspb.AggregationTemporality {
	if t == encode.TemporalityDelta {
		return metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA
	}
	return metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE
}

// Metrics returns the request encode.AppendMetrics writes for ms under
// res. Empty repeated fields are nil, as a decoder leaves them, so that
// proto.Equal compares content.
func (b *Builder) Metrics(res *encode.Resource, ms []encode.Metric) *colmetricspb.ExportMetricsServiceRequest {
	sm := &metricspb.ScopeMetrics{Scope: Scope()}
	for _, m := range ms {
		pm := &metricspb.Metric{Name: b.Str(m.Name), Description: b.Str(m.Description), Unit: b.Str(m.Unit)}
		switch m.Kind {
		case encode.MetricSum, encode.MetricGauge:
			var dps []*metricspb.NumberDataPoint
			for _, p := range m.Points {
				dp := &metricspb.NumberDataPoint{Attributes: b.Attrs("", p.Attrs),
					StartTimeUnixNano: uint64(p.StartUnixNano), TimeUnixNano: uint64(p.TimeUnixNano)}
				if p.IsInt {
					dp.Value = &metricspb.NumberDataPoint_AsInt{AsInt: p.Int}
				} else {
					dp.Value = &metricspb.NumberDataPoint_AsDouble{AsDouble: p.Double}
				}
				dps = append(dps, dp)
			}
			if m.Kind == encode.MetricSum {
				pm.Data = &metricspb.Metric_Sum{Sum: &metricspb.Sum{DataPoints: dps,
					AggregationTemporality: temporality(m.Temporality), IsMonotonic: m.Monotonic}}
			} else {
				pm.Data = &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: dps}}
			}
		case encode.MetricHistogram:
			h := &metricspb.Histogram{AggregationTemporality: temporality(m.Temporality)}
			for _, p := range m.Points {
				dp := &metricspb.HistogramDataPoint{Attributes: b.Attrs("", p.Attrs),
					StartTimeUnixNano: uint64(p.StartUnixNano), TimeUnixNano: uint64(p.TimeUnixNano),
					Count: p.Count, Sum: proto.Float64(p.Sum), BucketCounts: nilIfEmpty(p.BucketCounts), ExplicitBounds: nilIfEmpty(p.Bounds)}
				if p.HasMinMax {
					dp.Min, dp.Max = proto.Float64(p.Min), proto.Float64(p.Max)
				}
				h.DataPoints = append(h.DataPoints, dp)
			}
			pm.Data = &metricspb.Metric_Histogram{Histogram: h}
		case encode.MetricExponentialHistogram:
			h := &metricspb.ExponentialHistogram{AggregationTemporality: temporality(m.Temporality)}
			for _, p := range m.Points {
				dp := &metricspb.ExponentialHistogramDataPoint{Attributes: b.Attrs("", p.Attrs),
					StartTimeUnixNano: uint64(p.StartUnixNano), TimeUnixNano: uint64(p.TimeUnixNano),
					Count: p.Count, Sum: proto.Float64(p.Sum), Scale: p.Scale, ZeroCount: p.ZeroCount,
					Positive: &metricspb.ExponentialHistogramDataPoint_Buckets{Offset: p.PositiveOffset, BucketCounts: nilIfEmpty(p.PositiveCounts)}}
				if p.HasMinMax {
					dp.Min, dp.Max = proto.Float64(p.Min), proto.Float64(p.Max)
				}
				h.DataPoints = append(h.DataPoints, dp)
			}
			pm.Data = &metricspb.Metric_ExponentialHistogram{ExponentialHistogram: h}
		}
		sm.Metrics = append(sm.Metrics, pm)
	}
	return &colmetricspb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{
		Resource:     b.Resource(*res),
		ScopeMetrics: []*metricspb.ScopeMetrics{sm},
	}}}
}

// nilIfEmpty returns s, or nil when s is empty.
func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}
