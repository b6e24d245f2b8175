package encode

import (
	"math"
	"unicode/utf8"
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
// Sizes are computed first and the message written in one pass with no
// temporary buffers: with a dst of enough capacity it allocates nothing.
// Invalid UTF-8 in strings is replaced by U+FFFD.
func AppendMetrics(dst []byte, res *Resource, ms []Metric) []byte {
	scope := metricsSizeScopeMetrics(ms)
	resource := metricsSizeResource(res)
	rm := metricsLen1(resource) + metricsLen1(scope)
	dst = appendLenPrefix(dst, 1, rm)
	dst = appendLenPrefix(dst, 1, resource)
	dst = metricsAppendResource(dst, res)
	dst = appendLenPrefix(dst, 2, scope)
	dst = appendLenPrefix(dst, 1, sizeStringField(1, ScopeName)+sizeStringField(2, ScopeVersion))
	dst = appendStringField(dst, 1, ScopeName)
	dst = appendStringField(dst, 2, ScopeVersion)
	for i := range ms {
		dst = appendLenPrefix(dst, 2, metricsSizeMetric(&ms[i]))
		dst = metricsAppendMetric(dst, &ms[i])
	}
	return dst
}

// metricsStrLen returns the length s has once written (repaired).
func metricsStrLen(s string) int {
	if utf8.ValidString(s) {
		return len(s)
	}
	return utf8RepairedLen(s)
}

// metricsAppendStrField appends string field f (skipped when empty).
func metricsAppendStrField(dst []byte, f int, s string) []byte {
	if s == "" {
		return dst
	}
	dst = appendLenPrefix(dst, f, metricsStrLen(s))
	dst, _ = appendUTF8(dst, s)
	return dst
}

// metricsSizeStrField returns the size metricsAppendStrField writes.
func metricsSizeStrField(f int, s string) int {
	if s == "" {
		return 0
	}
	return sizeLenField(f, metricsStrLen(s))
}

// metricsSizeAny returns the size of the AnyValue body of v.
func metricsSizeAny(v Value) int {
	switch v.kind {
	case KindString:
		return metricsLen1(metricsStrLen(v.str))
	case KindBytes:
		return metricsLen1(len(v.str))
	case KindInt64:
		return 1 + sizeVarint(v.num)
	case KindFloat64:
		return 1 + 8
	case KindBool:
		return 2
	}
	return 0
}

// metricsAppendAny appends the AnyValue body of v.
func metricsAppendAny(dst []byte, v Value) []byte {
	switch v.kind {
	case KindString:
		dst = appendLenPrefix(dst, 1, metricsStrLen(v.str))
		dst, _ = appendUTF8(dst, v.str)
	case KindBytes:
		dst = appendLenPrefix(dst, 7, len(v.str))
		dst = append(dst, v.str...)
	case KindInt64:
		dst = appendTag(dst, 3, wireVarint)
		dst = appendVarint(dst, v.num)
	case KindFloat64:
		dst = appendTag(dst, 4, wireFixed64)
		dst = appendFixed64(dst, v.num)
	case KindBool:
		dst = append(dst, 2<<3|wireVarint, byte(v.num&1))
	}
	return dst
}

// metricsSizeKVBody returns the size of a KeyValue body.
func metricsSizeKVBody(key string, v Value) int {
	return metricsSizeStrField(1, key) + metricsLen1(metricsSizeAny(v))
}

// metricsSizeAttrs returns the size of attrs as KeyValue fields numbered f.
func metricsSizeAttrs(f int, attrs []Attr) int {
	n := 0
	for i := range attrs {
		n += sizeLenField(f, metricsSizeKVBody(attrs[i].Key, attrs[i].Value))
	}
	return n
}

// metricsAppendAttrs appends attrs as KeyValue fields numbered f.
func metricsAppendAttrs(dst []byte, f int, attrs []Attr) []byte {
	for i := range attrs {
		a := &attrs[i]
		dst = appendLenPrefix(dst, f, metricsSizeKVBody(a.Key, a.Value))
		dst = metricsAppendStrField(dst, 1, a.Key)
		dst = appendLenPrefix(dst, 2, metricsSizeAny(a.Value))
		dst = metricsAppendAny(dst, a.Value)
	}
	return dst
}

// metricsResourceAttrs returns the resource attributes, the traces
// encoder's set, as fixed-size data (no allocation).
func metricsResourceAttrs(res *Resource) [7]Attr {
	return [7]Attr{
		{"service.name", StringValue(res.ServiceName)},
		{"service.instance.id", StringValue(res.ServiceInstanceID)},
		{"ip", StringValue(res.HostIP)},
		{"host.ip", StringValue(res.HostIP)},
		{"telemetry.sdk.name", StringValue("flowtel")},
		{"telemetry.sdk.language", StringValue("go")},
		{"telemetry.sdk.version", StringValue(ScopeVersion)},
	}
}

// metricsSizeResource returns the size of the Resource body.
func metricsSizeResource(res *Resource) int {
	fixed := metricsResourceAttrs(res)
	n := 0
	for i := range fixed {
		if i == 0 || fixed[i].Value.str != "" {
			n += metricsSizeAttrs(1, fixed[i:i+1])
		}
	}
	return n + metricsSizeAttrs(1, res.Attrs)
}

// metricsAppendResource appends the Resource body.
func metricsAppendResource(dst []byte, res *Resource) []byte {
	fixed := metricsResourceAttrs(res)
	for i := range fixed {
		if i == 0 || fixed[i].Value.str != "" {
			dst = metricsAppendAttrs(dst, 1, fixed[i:i+1])
		}
	}
	return metricsAppendAttrs(dst, 1, res.Attrs)
}

// metricsSizeScopeMetrics returns the size of the ScopeMetrics body.
func metricsSizeScopeMetrics(ms []Metric) int {
	n := metricsLen1(sizeStringField(1, ScopeName) + sizeStringField(2, ScopeVersion))
	for i := range ms {
		n += metricsLen1(metricsSizeMetric(&ms[i]))
	}
	return n
}

// metricsDataField returns the Metric field number of m's data.
func metricsDataField(m *Metric) int {
	switch m.Kind {
	case MetricGauge:
		return 5
	case MetricSum:
		return 7
	case MetricHistogram:
		return 9
	case MetricExponentialHistogram:
		return 10
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

// metricsSizeMetric returns the size of the Metric body.
func metricsSizeMetric(m *Metric) int {
	n := metricsSizeStrField(1, m.Name) + metricsSizeStrField(2, m.Description) + metricsSizeStrField(3, m.Unit)
	if f := metricsDataField(m); f != 0 {
		n += sizeLenField(f, metricsSizeData(m))
	}
	return n
}

// metricsSizeData returns the size of the Gauge, Sum or histogram body.
func metricsSizeData(m *Metric) int {
	n := 0
	for i := range m.Points {
		n += metricsLen1(metricsSizePoint(m.Kind, &m.Points[i]))
	}
	if m.Kind != MetricGauge {
		n += sizeVarintField(2, metricsTemporality(m.Temporality))
	}
	if m.Kind == MetricSum {
		n += sizeBoolField(3, m.Monotonic)
	}
	return n
}

// metricsAppendMetric appends the Metric body.
func metricsAppendMetric(dst []byte, m *Metric) []byte {
	dst = metricsAppendStrField(dst, 1, m.Name)
	dst = metricsAppendStrField(dst, 2, m.Description)
	dst = metricsAppendStrField(dst, 3, m.Unit)
	f := metricsDataField(m)
	if f == 0 {
		return dst
	}
	dst = appendLenPrefix(dst, f, metricsSizeData(m))
	for i := range m.Points {
		p := &m.Points[i]
		dst = appendLenPrefix(dst, 1, metricsSizePoint(m.Kind, p))
		dst = metricsAppendPoint(dst, m.Kind, p)
	}
	if m.Kind != MetricGauge {
		dst = appendVarintField(dst, 2, metricsTemporality(m.Temporality))
	}
	if m.Kind == MetricSum {
		dst = appendBoolField(dst, 3, m.Monotonic)
	}
	return dst
}

// metricsSizeFixed64 is the size of a fixed64 field that is always written
// (a oneof or optional field, present even when zero).
const metricsSizeFixed64 = 1 + 8

// metricsAppendFixed64Always appends fixed64 field f (1..15) even when zero.
func metricsAppendFixed64Always(dst []byte, f int, v uint64) []byte {
	dst = appendTag(dst, f, wireFixed64)
	return appendFixed64(dst, v)
}

// metricsSizePackedFixed64 returns the size of a packed repeated fixed64
// or double field of n elements (skipped when empty).
func metricsSizePackedFixed64(f, n int) int {
	if n == 0 {
		return 0
	}
	return sizeLenField(f, 8*n)
}

// metricsSizePoint returns the size of the data point body of kind k.
func metricsSizePoint(k MetricKind, p *MetricPoint) int {
	n := sizeFixed64Field(2, uint64(p.StartUnixNano)) + sizeFixed64Field(3, uint64(p.TimeUnixNano))
	switch k {
	case MetricSum, MetricGauge:
		return n + metricsSizeAttrs(7, p.Attrs) + metricsSizeFixed64
	case MetricHistogram:
		n += metricsSizeAttrs(9, p.Attrs) + sizeFixed64Field(4, p.Count) + metricsSizeFixed64 +
			metricsSizePackedFixed64(6, len(p.BucketCounts)) + metricsSizePackedFixed64(7, len(p.Bounds))
		if p.HasMinMax {
			n += 2 * metricsSizeFixed64
		}
		return n
	case MetricExponentialHistogram:
		n += metricsSizeAttrs(1, p.Attrs) + sizeFixed64Field(4, p.Count) + metricsSizeFixed64 +
			sizeVarintField(6, uint64(zigzag32(p.Scale))) + sizeFixed64Field(7, p.ZeroCount) +
			metricsLen1(metricsSizeBuckets(p.PositiveOffset, p.PositiveCounts))
		if p.HasMinMax {
			n += 2 * metricsSizeFixed64
		}
		return n
	}
	return n
}

// zigzag32 encodes a sint32.
func zigzag32(v int32) uint32 { return uint32(v<<1) ^ uint32(v>>31) }

// metricsSizeBuckets returns the size of an exponential Buckets body.
func metricsSizeBuckets(offset int32, counts []uint64) int {
	n := sizeVarintField(1, uint64(zigzag32(offset)))
	if len(counts) != 0 {
		c := 0
		for _, v := range counts {
			c += sizeVarint(v)
		}
		n += sizeLenField(2, c)
	}
	return n
}

// metricsAppendPoint appends the data point body of kind k.
func metricsAppendPoint(dst []byte, k MetricKind, p *MetricPoint) []byte {
	switch k {
	case MetricSum, MetricGauge:
		dst = appendFixed64Field(dst, 2, uint64(p.StartUnixNano))
		dst = appendFixed64Field(dst, 3, uint64(p.TimeUnixNano))
		if p.IsInt {
			dst = metricsAppendFixed64Always(dst, 6, uint64(p.Int))
		} else {
			dst = metricsAppendFixed64Always(dst, 4, math.Float64bits(p.Double))
		}
		return metricsAppendAttrs(dst, 7, p.Attrs)
	case MetricHistogram:
		dst = appendFixed64Field(dst, 2, uint64(p.StartUnixNano))
		dst = appendFixed64Field(dst, 3, uint64(p.TimeUnixNano))
		dst = appendFixed64Field(dst, 4, p.Count)
		dst = metricsAppendFixed64Always(dst, 5, math.Float64bits(p.Sum))
		if len(p.BucketCounts) != 0 {
			dst = appendLenPrefix(dst, 6, 8*len(p.BucketCounts))
			for _, c := range p.BucketCounts {
				dst = appendFixed64(dst, c)
			}
		}
		if len(p.Bounds) != 0 {
			dst = appendLenPrefix(dst, 7, 8*len(p.Bounds))
			for _, b := range p.Bounds {
				dst = appendFixed64(dst, math.Float64bits(b))
			}
		}
		dst = metricsAppendAttrs(dst, 9, p.Attrs)
		if p.HasMinMax {
			dst = metricsAppendFixed64Always(dst, 11, math.Float64bits(p.Min))
			dst = metricsAppendFixed64Always(dst, 12, math.Float64bits(p.Max))
		}
		return dst
	case MetricExponentialHistogram:
		dst = metricsAppendAttrs(dst, 1, p.Attrs)
		dst = appendFixed64Field(dst, 2, uint64(p.StartUnixNano))
		dst = appendFixed64Field(dst, 3, uint64(p.TimeUnixNano))
		dst = appendFixed64Field(dst, 4, p.Count)
		dst = metricsAppendFixed64Always(dst, 5, math.Float64bits(p.Sum))
		dst = appendVarintField(dst, 6, uint64(zigzag32(p.Scale)))
		dst = appendFixed64Field(dst, 7, p.ZeroCount)
		dst = appendLenPrefix(dst, 8, metricsSizeBuckets(p.PositiveOffset, p.PositiveCounts))
		dst = appendVarintField(dst, 1, uint64(zigzag32(p.PositiveOffset)))
		if len(p.PositiveCounts) != 0 {
			c := 0
			for _, v := range p.PositiveCounts {
				c += sizeVarint(v)
			}
			dst = appendLenPrefix(dst, 2, c)
			for _, v := range p.PositiveCounts {
				dst = appendVarint(dst, v)
			}
		}
		if p.HasMinMax {
			dst = metricsAppendFixed64Always(dst, 12, math.Float64bits(p.Min))
			dst = metricsAppendFixed64Always(dst, 13, math.Float64bits(p.Max))
		}
		return dst
	}
	dst = appendFixed64Field(dst, 2, uint64(p.StartUnixNano))
	return appendFixed64Field(dst, 3, uint64(p.TimeUnixNano))
}

// metricsLen1 returns the size of a length-delimited field numbered 1 to
// 15 with a payload of n bytes.
func metricsLen1(n int) int { return 1 + sizeVarint(uint64(n)) + n }
