package encode

import (
	"math"
	"unsafe"
)

// MetricKind is the OTLP data type of a Metric.
type MetricKind uint8

// Metric kinds.
const (
	MetricSum MetricKind = iota + 1
	MetricGauge
	MetricHistogram
	MetricExponentialHistogram
)

// Temporality is the aggregation temporality of a Sum or histogram. The
// zero Temporality is cumulative, flowtel's default.
type Temporality uint8

// Temporalities.
const (
	TemporalityCumulative Temporality = iota
	TemporalityDelta
)

// OTLP AggregationTemporality enum values.
const (
	metricsOTLPDelta      = 1
	metricsOTLPCumulative = 2
)

// Metric is one metric of an ExportMetricsServiceRequest, flat: the data
// type is Kind, and every point carries the fields of every kind (each
// kind reads its own). Slices are read during AppendMetrics only.
type Metric struct {
	Name        string
	Description string
	Unit        string
	Kind        MetricKind
	// Temporality and Monotonic apply to Sum and the histograms
	// (Monotonic to Sum only).
	Temporality Temporality
	Monotonic   bool
	Points      []MetricPoint
}

// MetricPoint is one data point of a Metric.
type MetricPoint struct {
	Attrs         []Attr
	StartUnixNano int64
	TimeUnixNano  int64

	// Sum and Gauge: the value is Int when IsInt, else Double.
	IsInt  bool
	Int    int64
	Double float64

	// Histograms: Count, Sum, and Min and Max when HasMinMax.
	Count     uint64
	Sum       float64
	HasMinMax bool
	Min, Max  float64

	// Explicit-bucket histogram: len(BucketCounts) == len(Bounds)+1.
	Bounds       []float64
	BucketCounts []uint64

	// Exponential histogram: positive bucket PositiveOffset+i holds
	// PositiveCounts[i].
	Scale          int32
	ZeroCount      uint64
	PositiveOffset int32
	PositiveCounts []uint64
}

// AppendMetrics appends an OTLP ExportMetricsServiceRequest holding ms
// under one resource (res, written as the traces encoder writes it) and
// one scope (ScopeName, ScopeVersion), and returns the extended slice.
// It writes in one pass as AppendTraces does, reserving each length that
// depends on what follows (openLen, closeLen): with a dst of enough
// capacity it allocates nothing. Invalid UTF-8 in strings is replaced by
// U+FFFD.
func AppendMetrics(dst []byte, res *Resource, ms []Metric) []byte {
	var c strChecker // repairs are not counted: there is no Stats to count them in
	dst, rm := openLen(dst, fieldRequestResource, metricsRequestWidth)
	dst, r := openLen(dst, fieldResourceXResource, 2)
	dst = c.writeResource(dst, res)
	dst, _ = closeLen(dst, r, 2)
	dst, sm := openLen(dst, fieldResourceXScope, metricsRequestWidth)
	dst = appendScope(dst)
	for i := range ms {
		dst = c.writeMetric(dst, &ms[i])
	}
	dst, _ = closeLen(dst, sm, metricsRequestWidth)
	dst, _ = closeLen(dst, rm, metricsRequestWidth)
	return dst
}

// Reserved length widths: a request of flowtel's own metrics is a few
// kilobytes (two bytes), as is a metric with its points; a number point
// is shorter than 128 bytes (one byte), a histogram point with more than
// a few buckets longer.
const (
	metricsRequestWidth = 2
	metricsMetricWidth  = 2
)

// metricsPointWidth returns the width reserved for the length of p.
func metricsPointWidth(p *MetricPoint) int {
	if len(p.BucketCounts)+len(p.PositiveCounts) > 4 {
		return 2
	}
	return 1
}

// metricsDataField returns the Metric field number of m's data.
func metricsDataField(m *Metric) int {
	switch m.Kind {
	case MetricGauge:
		return fieldMetricGauge
	case MetricSum:
		return fieldMetricSum
	case MetricHistogram:
		return fieldMetricHistogram
	case MetricExponentialHistogram:
		return fieldMetricExpHistogram
	}
	return 0
}

// metricsTemporality returns the OTLP enum value of t.
func metricsTemporality(t Temporality) uint64 {
	if t == TemporalityDelta {
		return metricsOTLPDelta
	}
	return metricsOTLPCumulative
}

// writeMetric appends m as a ScopeMetrics.metrics field.
func (c *strChecker) writeMetric(dst []byte, m *Metric) []byte {
	dst, at := openLen(dst, fieldScopeXItem, metricsMetricWidth)
	dst = c.writeStringField(dst, fieldMetricName, m.Name)
	dst = c.writeStringField(dst, fieldMetricDescription, m.Description)
	dst = c.writeStringField(dst, fieldMetricUnit, m.Unit)
	if f := metricsDataField(m); f != 0 {
		var data int
		dst, data = openLen(dst, f, metricsMetricWidth)
		for i := range m.Points {
			p := &m.Points[i]
			w := metricsPointWidth(p)
			var pt int
			dst, pt = openLen(dst, fieldDataPoints, w)
			dst = c.writePoint(dst, m.Kind, p)
			dst, _ = closeLen(dst, pt, w)
		}
		if m.Kind != MetricGauge {
			dst = appendVarintField(dst, fieldDataTemporality, metricsTemporality(m.Temporality))
		}
		if m.Kind == MetricSum {
			dst = appendBoolField(dst, fieldSumMonotonic, m.Monotonic)
		}
		dst, _ = closeLen(dst, data, metricsMetricWidth)
	}
	dst, _ = closeLen(dst, at, metricsMetricWidth)
	return dst
}

// appendPackedFixed64 appends vs as packed repeated fixed64 (or double,
// as bits) field (1 to 15); empty vs is skipped.
func appendPackedFixed64(dst []byte, field int, vs []uint64) []byte {
	if len(vs) == 0 {
		return dst
	}
	dst = appendLen1(dst, field, 8*len(vs))
	for _, v := range vs {
		dst = appendFixed64(dst, v)
	}
	return dst
}

// float64Bits returns vs as their IEEE 754 bits, sharing vs's memory (a
// float64 and a uint64 have the same size), for appendPackedFixed64.
func float64Bits(vs []float64) []uint64 {
	return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(vs))), len(vs))
}

// appendBuckets appends the positive Buckets of an exponential histogram
// point: bucket offset+i holds counts[i].
func appendBuckets(dst []byte, offset int32, counts []uint64) []byte {
	c := 0
	for _, v := range counts {
		c += sizeVarint(v)
	}
	n := sizeVarintField(fieldBucketsOffset, uint64(zigzag32(offset)))
	if len(counts) != 0 {
		n += sizeLen1(c)
	}
	dst = appendLen1(dst, fieldExpPositive, n)
	dst = appendVarintField(dst, fieldBucketsOffset, uint64(zigzag32(offset)))
	if len(counts) != 0 {
		dst = appendLen1(dst, fieldBucketsCounts, c)
		for _, v := range counts {
			dst = appendVarint(dst, v)
		}
	}
	return dst
}

// writePoint appends the data point body of kind k.
func (c *strChecker) writePoint(dst []byte, k MetricKind, p *MetricPoint) []byte {
	switch k {
	case MetricSum, MetricGauge:
		dst = appendFixed64Field(dst, fieldNumberStart, uint64(p.StartUnixNano))
		dst = appendFixed64Field(dst, fieldNumberTime, uint64(p.TimeUnixNano))
		if p.IsInt {
			dst = appendFixed64Always(dst, fieldNumberAsInt, uint64(p.Int))
		} else {
			dst = appendFixed64Always(dst, fieldNumberAsDouble, math.Float64bits(p.Double))
		}
		return c.writeAttrs(dst, fieldNumberAttrs, "", p.Attrs)
	case MetricHistogram:
		dst = appendFixed64Field(dst, fieldHistStart, uint64(p.StartUnixNano))
		dst = appendFixed64Field(dst, fieldHistTime, uint64(p.TimeUnixNano))
		dst = appendFixed64Field(dst, fieldHistCount, p.Count)
		dst = appendFixed64Always(dst, fieldHistSum, math.Float64bits(p.Sum))
		dst = appendPackedFixed64(dst, fieldHistBucketCounts, p.BucketCounts)
		dst = appendPackedFixed64(dst, fieldHistBounds, float64Bits(p.Bounds))
		dst = c.writeAttrs(dst, fieldHistAttrs, "", p.Attrs)
		if p.HasMinMax {
			dst = appendFixed64Always(dst, fieldHistMin, math.Float64bits(p.Min))
			dst = appendFixed64Always(dst, fieldHistMax, math.Float64bits(p.Max))
		}
		return dst
	case MetricExponentialHistogram:
		dst = c.writeAttrs(dst, fieldExpAttrs, "", p.Attrs)
		dst = appendFixed64Field(dst, fieldExpStart, uint64(p.StartUnixNano))
		dst = appendFixed64Field(dst, fieldExpTime, uint64(p.TimeUnixNano))
		dst = appendFixed64Field(dst, fieldExpCount, p.Count)
		dst = appendFixed64Always(dst, fieldExpSum, math.Float64bits(p.Sum))
		dst = appendVarintField(dst, fieldExpScale, uint64(zigzag32(p.Scale)))
		dst = appendFixed64Field(dst, fieldExpZeroCount, p.ZeroCount)
		dst = appendBuckets(dst, p.PositiveOffset, p.PositiveCounts)
		if p.HasMinMax {
			dst = appendFixed64Always(dst, fieldExpMin, math.Float64bits(p.Min))
			dst = appendFixed64Always(dst, fieldExpMax, math.Float64bits(p.Max))
		}
		return dst
	}
	return dst
}
