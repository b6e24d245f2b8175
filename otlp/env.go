package otlp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/genai"
	"github.com/flowtel/flowtel/internal/propenv"
	"github.com/flowtel/flowtel/sid"
)

// NewFromEnv returns an engine configured from the environment, the way
// the original was: export.FromEnv for the exporter, service name and
// resource (OTEL_* and OTLP_* variables), the original's batching
// (OTLP_TRACE_SCHEDULE_DELAY_MILLIS, OTLP_TRACE_MAX_EXPORT_BATCH_SIZE), and
// SIDs from SERVICE_SUB, SERVICE_LOCATION, SERVICE_PORT and the host's IPv4
// address (SERVICE_IP, else the first non-loopback IPv4 address), always
// on, with the original workflow service's defaults for the variables
// left unset (DefaultSIDSub, DefaultSIDLocation, DefaultSIDPort), and the
// request metrics' dc label from SERVICE_LOCATION (left out when unset,
// as the original's). OTEL_TRACES_SAMPLER and
// OTEL_TRACES_SAMPLER_ARG select the head sampler (engine.SamplerFromEnv;
// default parentbased_always_on); as the specification asks, a value it
// ignores (an argument that is not a ratio, a sampler it does not know) is
// logged with slog at warning level, not refused. OTEL_SEMCONV_STABILITY_OPT_IN holding
// gen_ai_latest_experimental names GenAI nodes' spans as the GenAI
// conventions do (engine.WithGenAISpanNames).
// OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE and
// OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION set
// MetricsConfig.Delta and Exponential. The attribute limits
// (OTEL_ATTRIBUTE_*, OTEL_SPAN_ATTRIBUTE_*, OTEL_SPAN_EVENT_COUNT_LIMIT,
// OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT, OTEL_LOGRECORD_ATTRIBUTE_*) set
// engine.Limits, the link limits are checked (see attrLimits).
// OTEL_LOGS_EXPORTER=none (export.Config.NoLogs) sends traces and metrics
// without the run trace logs, as a Jaeger receiver needs. With OTLP_ENABLE=false
// (or OTEL_SDK_DISABLED=true, or OTEL_TRACES_EXPORTER and OTEL_LOGS_EXPORTER
// none) the engine captures and measures but sends nothing: unless opts
// give it a sink (engine.WithSink), every run is sampled out at its end,
// whatever tail policy opts set (New checks it all the same), counted in
// Stats.SampledOut (flowtel_records_sampled_out_total), never as exported
// or dropped, and the sampled flag it propagates is the head sampler's.
// opts apply after the environment. Any other invalid value is an error naming the variable.
func NewFromEnv(opts ...engine.Option) (*engine.Engine, error) {
	return newFromLookup(os.LookupEnv, opts...)
}

// The original workflow service's SID settings when SERVICE_SUB,
// SERVICE_LOCATION or SERVICE_PORT is unset.
const (
	DefaultSIDSub      = "spf"
	DefaultSIDLocation = "SparkFlow"
	DefaultSIDPort     = "7860"
)

func newFromLookup(lookup func(string) (string, bool), opts ...engine.Option) (*engine.Engine, error) {
	cfg, err := export.FromLookup(lookup)
	if err != nil {
		return nil, err
	}
	get := func(k string) string { v, _ := lookup(k); return strings.TrimSpace(v) }
	orDefault := func(k, def string) string {
		if v := get(k); v != "" {
			return v
		}
		return def
	}
	if iv := cfg.MetricReader.ExportInterval; iv < engine.MinMetricsInterval {
		// The engine would refuse it naming its own field, not the variable.
		name := "OTEL_METRIC_EXPORT_INTERVAL"
		if get(name) == "" {
			name = "OTLP_METRIC_EXPORT_INTERVAL_MILLIS"
		}
		return nil, fmt.Errorf("otlp: from environment: %w %s: %q is under %v, the shortest metrics interval", export.ErrInvalidEnv, name, get(name), engine.MinMetricsInterval)
	}
	ip := get("SERVICE_IP")
	if ip == "" {
		ip = hostIPv4()
	}
	// A service.instance.id in OTEL_RESOURCE_ATTRIBUTES is the user's
	// word, over the host name.
	instance := get("HOSTNAME")
	for _, kv := range cfg.ResourceAttrs {
		if kv.Key == "service.instance.id" {
			instance = kv.Value
		}
	}
	res := encode.Resource{ServiceName: cfg.ServiceName, HostIP: ip, ServiceInstanceID: instance}
	// A sampler value the specification ignores is logged, not refused.
	sampler, err := engine.SamplerFromEnv(get)
	if err != nil {
		slog.Warn("otlp: from environment: sampler setting ignored", "error", err.Error())
	}
	base := []engine.Option{
		engine.WithSampler(sampler),
		engine.WithResource(res),
		engine.WithBatch(cfg.TraceBatch.MaxExportBatchSize, cfg.TraceBatch.ScheduleDelay),
	}
	sc := sid.Config{
		Sub:      orDefault("SERVICE_SUB", DefaultSIDSub),
		Location: orDefault("SERVICE_LOCATION", DefaultSIDLocation),
		IP:       ip,
		Port:     orDefault("SERVICE_PORT", DefaultSIDPort),
	}
	if err := checkSIDEnv(sc); err != nil {
		return nil, fmt.Errorf("otlp: from environment: %w", err)
	}
	base = append(base, engine.WithSID(sc))
	if genai.LatestExperimental(get("OTEL_SEMCONV_STABILITY_OPT_IN")) {
		base = append(base, engine.WithGenAISpanNames(true))
	}
	limits, err := attrLimits(get)
	if err != nil {
		return nil, fmt.Errorf("otlp: from environment: %w", err)
	}
	if limits != (engine.Limits{}) {
		base = append(base, engine.WithLimits(limits))
	}
	mc := engine.MetricsConfig{DC: get("SERVICE_LOCATION")}
	enabled, noPush, err := sdkSwitches(get, cfg.Enabled, cfg.NoLogs)
	if err != nil {
		return nil, fmt.Errorf("otlp: from environment: %w", err)
	}
	mc.NoExport = noPush
	if mc.Delta, mc.Exponential, err = metricsPreferences(get); err != nil {
		return nil, fmt.Errorf("otlp: from environment: %w", err)
	}
	if mc.DC != "" || mc.NoExport || mc.Delta || mc.Exponential {
		base = append(base, engine.WithMetrics(mc))
	}
	if !enabled {
		return engine.New(append(append(base, opts...), offOptions(opts)...)...)
	}
	opts = append(base, opts...)
	e, err := New(cfg, opts...)
	if err != nil {
		return nil, fmt.Errorf("otlp: from environment: %w", err)
	}
	return e, nil
}

// offOptions returns what makes an engine send nothing, to apply after
// opts. Without a sink of the caller's every run is sampled out at its end
// (flowtel_records_sampled_out_total), none counted as exported, whatever
// tail policy opts set: that policy is kept, so that New refuses it as it
// would with export on, but its decision is that every run is sampled
// out, since nothing would take the runs it kept (they were counted
// dropped, sink_error). A tail decision leaves the sampled flag the run
// propagates as the head sampler set it, so that the services it calls
// trace as they would. With a sink of the caller's, its runs go there,
// sampled by opts' policy.
func offOptions(opts []engine.Option) []engine.Option {
	if hooks().Sink(opts) != nil {
		return nil
	}
	p, _ := hooks().TailPolicy(opts).(engine.TailPolicy)
	p.Decide = func(engine.RunView) engine.TailDecision { return engine.TailDrop }
	// No run log is sent either: a RunLogAlways that export on takes
	// would be refused for the off sink, which takes none.
	p.RunLogAlways = false
	return []engine.Option{engine.WithSink(offSink{}), engine.WithTailSampling(p)}
}

// offSink is the sink of an engine that sends nothing; its tail policy
// samples every run out, so that Export is never given one.
type offSink struct{}

// Export refuses runs, should one reach it: they are counted as dropped
// (sink_error), not as exported.
func (offSink) Export([]*encode.Run) error {
	return errors.New("otlp: export is off (OTLP_ENABLE=false, OTEL_SDK_DISABLED=true or no traces and logs exporter): the runs sampled in are not sent")
}
func (offSink) ForceFlush(context.Context) error { return nil }
func (offSink) Shutdown(context.Context) error   { return nil }

// sdkSwitches reads OpenTelemetry's SDK-wide variables: honoured where
// flowtel has the behaviour (OTEL_SDK_DISABLED=true sends nothing, as
// OTLP_ENABLE=false; OTEL_METRICS_EXPORTER none or prometheus stops the
// OTLP metrics push, promhttp serving the latter), refused with an error
// naming the variable where it has not (an exporter other than otlp, a
// propagator other than W3C tracecontext and baggage), so that none is
// silently ignored. OTEL_LOGS_EXPORTER=none (noLogs, read by
// export.FromLookup) turns the run trace logs off, traces and metrics
// still sent; with OTEL_TRACES_EXPORTER=none too nothing is sent over
// OTLP, as OTLP_ENABLE=false. OTEL_TRACES_EXPORTER=none alone is refused:
// a run's log is sent with its spans, never without them. Values are read
// in any case, as the SDK's enum values are.
func sdkSwitches(get func(string) string, enabled, noLogs bool) (on, noPush bool, err error) {
	refuse := func(name, why string) (bool, bool, error) {
		return false, false, fmt.Errorf("%w %s: %q %s", export.ErrInvalidEnv, name, get(name), why)
	}
	switch strings.ToLower(get("OTEL_SDK_DISABLED")) {
	case "", "false":
	case "true":
		enabled = false
	default:
		return refuse("OTEL_SDK_DISABLED", "is not true or false")
	}
	tracesOff := false
	switch strings.ToLower(get("OTEL_TRACES_EXPORTER")) {
	case "", "otlp":
	case "none":
		tracesOff = true
	default:
		return refuse("OTEL_TRACES_EXPORTER", "is not supported: flowtel exports traces over OTLP only (OTLP_ENABLE=false sends nothing)")
	}
	switch strings.ToLower(get("OTEL_METRICS_EXPORTER")) {
	case "", "otlp":
	case "none", "prometheus":
		noPush = true
	default:
		return refuse("OTEL_METRICS_EXPORTER", "is not supported (want otlp, prometheus or none)")
	}
	switch {
	case tracesOff && !noLogs && enabled:
		return refuse("OTEL_TRACES_EXPORTER", "alone is not supported: a run's trace log is exported with its spans (set OTEL_LOGS_EXPORTER=none too to send nothing, or OTLP_ENABLE=false)")
	case tracesOff && enabled && !noPush:
		return refuse("OTEL_METRICS_EXPORTER", "must be none or prometheus when OTEL_TRACES_EXPORTER and OTEL_LOGS_EXPORTER are none: flowtel pushes metrics on the traces' OTLP exporter")
	case tracesOff:
		enabled = false
	}
	// Read here so that names the specification asks to ignore are
	// warned about at start even when the service never calls
	// propagation.FromEnv, where the setting takes effect (once: both
	// read it with internal/propenv, which logs the same report once).
	propenv.Warn(get("OTEL_PROPAGATORS"))
	return enabled, noPush, nil
}

// metricsPreferences reads the OTLP metrics exporter's temporality and
// histogram variables. flowtel's sums are counters and its histograms
// synchronous, so delta and lowmemory both make them delta (an
// up-down counter, which both keep cumulative, it has none). Values are
// case-insensitive; another one is refused by name.
func metricsPreferences(get func(string) string) (delta, exponential bool, err error) {
	const tp, ha = "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION"
	switch strings.ToLower(get(tp)) {
	case "", "cumulative":
	case "delta", "lowmemory":
		delta = true
	default:
		return false, false, fmt.Errorf("%w %s: %q is not supported (want cumulative, delta or lowmemory)", export.ErrInvalidEnv, tp, get(tp))
	}
	switch strings.ToLower(get(ha)) {
	case "", "explicit_bucket_histogram":
	case "base2_exponential_bucket_histogram":
		exponential = true
	default:
		return false, false, fmt.Errorf("%w %s: %q is not supported (want explicit_bucket_histogram or base2_exponential_bucket_histogram)", export.ErrInvalidEnv, ha, get(ha))
	}
	return delta, exponential, nil
}

// attrLimits reads the OpenTelemetry attribute limits into the engine's
// Limits (a zero field: unset), a model-specific variable (SPAN,
// LOGRECORD) over the general OTEL_ATTRIBUTE_* one as the specification
// says:
//   - Value length (span and log record): Limits.ValueBytes, one limit
//     for both signals since a run's trace log carries the values its
//     spans do, so the smaller of the two. flowtel counts bytes, cut at a
//     UTF-8 boundary: a value never holds more characters than the limit.
//   - Span attribute count: Limits.Attrs (a node's input, output and
//     config together, a run's srv, srv_tag and extra attributes).
//   - Span event count: Limits.Events.
//   - Log record attribute count: checked only: the run log's record
//     carries two attributes (sid and event.name), so a limit of at least
//     2 holds, and one below is refused.
//   - Event attribute count (OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT, no general
//     fallback, as OpenTelemetry Go's SDK reads it): Limits.EventAttrs,
//     the attributes of one event given as data (Node.InfoEvent,
//     ErrorEvent).
//   - Link count and link attribute count (OTEL_SPAN_LINK_COUNT_LIMIT,
//     OTEL_LINK_ATTRIBUTE_COUNT_LIMIT): checked only: flowtel's spans
//     carry no links (the OpenTelemetry bridge counts those it is given
//     in its Stats.LinksDropped), so every limit holds, 0 included.
//
// Every value is an integer from 1 to engine.MaxLimits's (from 0 for the
// link limits); another is refused with an error naming the variable (the
// specification's "ignore and warn" would silently keep a limit the user
// meant to change). Unset or empty, a limit keeps the engine's default.
func attrLimits(get func(string) string) (engine.Limits, error) {
	maxL := engine.MaxLimits()
	var err error
	readFrom := func(least, most int, names ...string) int {
		for _, name := range names {
			v := get(name)
			if v == "" {
				continue
			}
			n, perr := strconv.Atoi(v)
			if perr != nil || n < least || n > most {
				if err == nil {
					err = fmt.Errorf("%w %s: %q is not an integer from %d to %d", export.ErrInvalidEnv, name, v, least, most)
				}
				return 0
			}
			return n
		}
		return 0
	}
	read := func(most int, names ...string) int { return readFrom(1, most, names...) }
	const general = "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"
	var l engine.Limits
	spanValue := read(maxL.ValueBytes, "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", general)
	logValue := read(maxL.ValueBytes, "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", general)
	switch {
	case spanValue == 0 || logValue == 0:
		l.ValueBytes = max(spanValue, logValue)
	default:
		l.ValueBytes = min(spanValue, logValue)
	}
	l.Attrs = read(maxL.Attrs, "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT")
	l.Events = read(maxL.Events, "OTEL_SPAN_EVENT_COUNT_LIMIT")
	l.EventAttrs = read(maxL.EventAttrs, "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT")
	readFrom(0, math.MaxInt32, "OTEL_SPAN_LINK_COUNT_LIMIT")
	readFrom(0, math.MaxInt32, "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT")
	const logRecordAttrs = 2 // sid, event.name
	name := "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT"
	if get(name) == "" {
		name = "OTEL_ATTRIBUTE_COUNT_LIMIT"
	}
	if n := read(math.MaxInt32, name); n != 0 && n < logRecordAttrs && err == nil {
		err = fmt.Errorf("%w %s: %d is below the %d attributes of the run log's record (sid, event.name), which flowtel writes whole", export.ErrInvalidEnv, name, n, logRecordAttrs)
	}
	return l, err
}

// checkSIDEnv checks the SID settings with sid's rules, and their length
// with the engine's, so that a refused one is named by its variable (the
// engine's error names sid.Config's fields, which the user did not set).
func checkSIDEnv(c sid.Config) error {
	g, err := sid.New(c)
	name := ""
	switch {
	case errors.Is(err, sid.ErrSub):
		name = "SERVICE_SUB"
	case errors.Is(err, sid.ErrLocation):
		name = "SERVICE_LOCATION"
	case errors.Is(err, sid.ErrIP):
		name = "SERVICE_IP"
	case errors.Is(err, sid.ErrPort):
		name = "SERVICE_PORT"
	case err != nil:
		return err
	case g.Len() > engine.MaxSIDBytes:
		return fmt.Errorf("%w SERVICE_SUB and SERVICE_LOCATION: %q and %q, %d bytes together, make a SID of %d bytes, above the %d a run holds",
			export.ErrInvalidEnv, c.Sub, c.Location, len(c.Sub)+len(c.Location), g.Len(), engine.MaxSIDBytes)
	default:
		return nil
	}
	return fmt.Errorf("%w %s: %w", export.ErrInvalidEnv, name, err)
}

// hostIPv4 returns the first non-loopback IPv4 address, or 127.0.0.1.
func hostIPv4() string {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() {
				if v4 := n.IP.To4(); v4 != nil {
					return v4.String()
				}
			}
		}
	}
	return "127.0.0.1"
}
