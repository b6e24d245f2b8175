package encode

// OTLP field numbers, message by message, as in the opentelemetry-proto
// .proto files (collector/*/v1, common/v1, resource/v1, trace/v1, logs/v1,
// metrics/v1). Every field the encoders write is named here; the writers
// use no bare field numbers. Length-delimited fields are all numbered 1 to
// 15, so their tags take one byte (openLen and appendLen1 rely on it).

// Export{Trace,Logs,Metrics}ServiceRequest.
const (
	fieldRequestResource = 1 // resource_spans, resource_logs, resource_metrics
)

// ResourceSpans, ResourceLogs and ResourceMetrics share their numbering.
const (
	fieldResourceXResource  = 1 // resource
	fieldResourceXScope     = 2 // scope_spans, scope_logs, scope_metrics
	fieldResourceXSchemaURL = 3 // schema_url
)

// ScopeSpans, ScopeLogs and ScopeMetrics share their numbering.
const (
	fieldScopeXScope     = 1 // scope
	fieldScopeXItem      = 2 // spans, log_records, metrics
	fieldScopeXSchemaURL = 3 // schema_url
)

// Resource.
const (
	fieldResourceAttrs        = 1
	fieldResourceDroppedAttrs = 2
)

// InstrumentationScope.
const (
	fieldScopeName         = 1
	fieldScopeVersion      = 2
	fieldScopeAttrs        = 3
	fieldScopeDroppedAttrs = 4
)

// KeyValue.
const (
	fieldKVKey   = 1
	fieldKVValue = 2
)

// AnyValue, a oneof.
const (
	fieldAnyString = 1
	fieldAnyBool   = 2
	fieldAnyInt    = 3
	fieldAnyDouble = 4
	fieldAnyArray  = 5
	fieldAnyBytes  = 7
)

// ArrayValue.
const (
	fieldArrayValues = 1
)

// Span.
const (
	fieldSpanTraceID       = 1
	fieldSpanSpanID        = 2
	fieldSpanTraceState    = 3
	fieldSpanParentSpanID  = 4
	fieldSpanName          = 5
	fieldSpanKind          = 6
	fieldSpanStart         = 7
	fieldSpanEnd           = 8
	fieldSpanAttrs         = 9
	fieldSpanDroppedAttrs  = 10
	fieldSpanEvents        = 11
	fieldSpanDroppedEvents = 12
	fieldSpanLinks         = 13
	fieldSpanDroppedLinks  = 14
	fieldSpanStatus        = 15
	fieldSpanFlags         = 16
)

// Span.Event.
const (
	fieldEventTime         = 1
	fieldEventName         = 2
	fieldEventAttrs        = 3
	fieldEventDroppedAttrs = 4
)

// Span.Link.
const (
	fieldLinkTraceID      = 1
	fieldLinkSpanID       = 2
	fieldLinkTraceState   = 3
	fieldLinkAttrs        = 4
	fieldLinkDroppedAttrs = 5
	fieldLinkFlags        = 6
)

// Status.
const (
	fieldStatusMessage = 2
	fieldStatusCode    = 3
)

// LogRecord.
const (
	fieldLogTime           = 1
	fieldLogSeverityNumber = 2
	fieldLogSeverityText   = 3
	fieldLogBody           = 5
	fieldLogAttrs          = 6
	fieldLogFlags          = 8
	fieldLogTraceID        = 9
	fieldLogSpanID         = 10
	fieldLogObservedTime   = 11
	fieldLogEventName      = 12
)

// Metric.
const (
	fieldMetricName         = 1
	fieldMetricDescription  = 2
	fieldMetricUnit         = 3
	fieldMetricGauge        = 5
	fieldMetricSum          = 7
	fieldMetricHistogram    = 9
	fieldMetricExpHistogram = 10
)

// Gauge, Sum, Histogram and ExponentialHistogram share their first fields.
const (
	fieldDataPoints      = 1
	fieldDataTemporality = 2 // not in Gauge
	fieldSumMonotonic    = 3 // Sum only
)

// NumberDataPoint.
const (
	fieldNumberStart    = 2
	fieldNumberTime     = 3
	fieldNumberAsDouble = 4
	fieldNumberAsInt    = 6
	fieldNumberAttrs    = 7
)

// HistogramDataPoint.
const (
	fieldHistStart        = 2
	fieldHistTime         = 3
	fieldHistCount        = 4
	fieldHistSum          = 5
	fieldHistBucketCounts = 6
	fieldHistBounds       = 7
	fieldHistAttrs        = 9
	fieldHistMin          = 11
	fieldHistMax          = 12
)

// ExponentialHistogramDataPoint.
const (
	fieldExpAttrs     = 1
	fieldExpStart     = 2
	fieldExpTime      = 3
	fieldExpCount     = 4
	fieldExpSum       = 5
	fieldExpScale     = 6
	fieldExpZeroCount = 7
	fieldExpPositive  = 8
	fieldExpMin       = 12
	fieldExpMax       = 13
)

// ExponentialHistogramDataPoint.Buckets.
const (
	fieldBucketsOffset = 1
	fieldBucketsCounts = 2
)
