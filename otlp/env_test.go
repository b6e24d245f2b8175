package otlp

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
	"github.com/flowtel/flowtel/sid"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
)

func lookupMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestNewFromEnv(t *testing.T) {
	e, err := newFromLookup(lookupMap(map[string]string{
		"OTLP_ENABLE":      "false",
		"SERVICE_NAME":     "agent",
		"SERVICE_SUB":      "spf",
		"SERVICE_LOCATION": "hf",
		"SERVICE_PORT":     "20000",
		"SERVICE_IP":       "127.0.164.187",
	}), engine.WithSink(&engine.MemorySink{}))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	if e.Resource().ServiceName != "agent" {
		t.Errorf("service name %q", e.Resource().ServiceName)
	}
	r := e.StartRun(engine.RunInfo{})
	got := r.SID()
	f, err := sid.Parse(got)
	if err != nil || f.Sub != "spf" || f.Location != "hf" || f.IP3 != 164 || f.IP4 != 187 || f.PortPrefix != "20" {
		t.Errorf("SID %q: %+v %v", got, f, err)
	}
	r.End(0, "")
}

func TestNewFromEnvErrors(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"OTLP_ENABLE": "false", "SERVICE_SUB": "spf", "SERVICE_LOCATION": "hf", "SERVICE_PORT": "20", "SERVICE_IP": "10.0.0.1"}, "port"},
		{map[string]string{"OTLP_ENABLE": "false", "SERVICE_SUB": "spf", "SERVICE_LOCATION": "hf", "SERVICE_PORT": "20000", "SERVICE_IP": "::1"}, "IP"},
		{map[string]string{"OTLP_TRACE_MAX_EXPORT_BATCH_SIZE": "-3"}, "OTLP_TRACE_MAX_EXPORT_BATCH_SIZE"},
		{map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "carrier-pigeon"}, "OTEL_EXPORTER_OTLP_PROTOCOL"},
	}
	for _, c := range cases {
		_, err := newFromLookup(lookupMap(c.env))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("env %v: error %v, want one naming %q", c.env, err, c.want)
		}
	}
}

// TestNewServiceNameUnset checks that a service name is unset only when it
// is empty: an explicit "flowtel" is kept, an empty one takes the
// configuration's, then the engine's default.
func TestNewServiceNameUnset(t *testing.T) {
	for _, c := range []struct {
		opt, cfg, want string
	}{
		{"flowtel", "svc", "flowtel"},
		{"mine", "svc", "mine"},
		{"", "svc", "svc"},
		{"", "", engine.DefaultServiceName},
	} {
		e, err := New(export.Config{Endpoint: "127.0.0.1:1", Insecure: true, ServiceName: c.cfg},
			engine.WithResource(encode.Resource{ServiceName: c.opt}), engine.WithMetrics(engine.MetricsConfig{NoExport: true}))
		if err != nil {
			t.Fatal(err)
		}
		if got := e.Resource().ServiceName; got != c.want {
			t.Errorf("option %q, config %q: service name %q, want %q", c.opt, c.cfg, got, c.want)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = e.Shutdown(ctx)
		cancel()
	}
}

// TestNewFromEnvSampler checks that OTEL_TRACES_SAMPLER selects the head
// sampler.
func TestNewFromEnvSampler(t *testing.T) {
	for sampler, want := range map[string]bool{"": true, "parentbased_always_on": true, "always_off": false, "traceidratio": true} {
		e, err := newFromLookup(lookupMap(map[string]string{"OTLP_ENABLE": "false", "OTEL_TRACES_SAMPLER": sampler}))
		if err != nil {
			t.Fatal(err)
		}
		r := e.StartRun(engine.RunInfo{})
		if got := r.SpanContext().Sampled; got != want {
			t.Errorf("OTEL_TRACES_SAMPLER=%q: sampled %v", sampler, got)
		}
		r.End(0, "")
		if err := e.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestNewFromEnvSIDDefaults checks that SIDs are on without any SERVICE_*
// variable, with the original's defaults, and that SERVICE_LOCATION fills
// the request metrics' dc label.
func TestNewFromEnvSIDDefaults(t *testing.T) {
	for _, c := range []struct {
		env      map[string]string
		sub, loc string
		port, dc string
	}{
		{map[string]string{"OTLP_ENABLE": "false", "SERVICE_IP": "10.1.2.3"}, "spf", "SparkFlow", "78", ""},
		{map[string]string{"OTLP_ENABLE": "false", "SERVICE_IP": "10.1.2.3", "SERVICE_LOCATION": "hf", "SERVICE_SUB": "spl", "SERVICE_PORT": "18080"}, "spl", "hf", "18", "hf"},
	} {
		e, err := newFromLookup(lookupMap(c.env), engine.WithSink(&engine.MemorySink{}))
		if err != nil {
			t.Fatal(err)
		}
		r := e.StartRun(engine.RunInfo{AppID: "app"})
		f, err := sid.Parse(r.SID())
		if err != nil || f.Sub != c.sub || f.Location != c.loc || f.PortPrefix != c.port || f.IP3 != 2 || f.IP4 != 3 {
			t.Errorf("env %v: SID %q: %+v %v", c.env, r.SID(), f, err)
		}
		r.End(0, "")
		if err := e.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
		prom := string(e.AppendPrometheus(nil))
		if hasDC := strings.Contains(prom, `dc="`); hasDC != (c.dc != "") || !strings.Contains(prom, `dc="`+c.dc+`"`) && c.dc != "" {
			t.Errorf("env %v: dc label want %q in\n%s", c.env, c.dc, grepLines(prom, "server_request_total"))
		}
		if err := e.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestNewFromEnvSDKSwitches checks OpenTelemetry's SDK-wide variables:
// OTEL_SDK_DISABLED turns export off, values flowtel cannot honour are
// refused by name, never ignored.
func TestNewFromEnvSDKSwitches(t *testing.T) {
	e, err := newFromLookup(lookupMap(map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_PROPAGATORS": "tracecontext,baggage",
		"OTEL_TRACES_EXPORTER": "otlp", "OTEL_METRICS_EXPORTER": "prometheus"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ExporterStats(e); ok {
		t.Error("OTEL_SDK_DISABLED=true: the engine exports")
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{
		"OTEL_SDK_DISABLED":     "maybe",
		"OTEL_TRACES_EXPORTER":  "zipkin",
		"OTEL_LOGS_EXPORTER":    "console",
		"OTEL_METRICS_EXPORTER": "console",
	} {
		_, err := newFromLookup(lookupMap(map[string]string{"OTLP_ENABLE": "false", name: v}))
		if !errors.Is(err, export.ErrInvalidEnv) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: %v, want an error naming it", name, v, err)
		}
	}
	// none, as OpenTelemetry defines it: no exporter. A run's log leaves
	// with its spans (OTEL_LOGS_EXPORTER=none alone, TestNoLogsForJaeger),
	// and metrics are pushed on their exporter.
	e, err = newFromLookup(lookupMap(map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none",
		"OTEL_METRICS_EXPORTER": "prometheus"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ExporterStats(e); ok {
		t.Error("OTEL_TRACES_EXPORTER=none and OTEL_LOGS_EXPORTER=none: the engine exports")
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, env := range []map[string]string{
		{"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"},
		{"OTEL_TRACES_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none"},
	} {
		if _, err := newFromLookup(lookupMap(env)); !errors.Is(err, export.ErrInvalidEnv) {
			t.Errorf("%v: %v, want refused", env, err)
		}
	}
}

// TestNewFromEnvQueueSize sends a burst through an engine made, as
// newFromLookup makes it, from the environment with a small
// OTLP_TRACE_MAX_QUEUE_SIZE (64 spans, 4,000 in the burst) to a real
// receiver: the export stage waits for room in the exporter instead of
// losing spans. Each wait is bounded (BlockTimeout, 1 s by default, after
// which the batch is dropped): a loaded machine's receiver took longer,
// so the bound is a minute here, a liveness guard that does not decide.
func TestNewFromEnvQueueSize(t *testing.T) {
	rc := otlptest.StartKeeping(t, otlptest.GRPC)
	cfg, err := export.FromLookup(lookupMap(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT":      rc.Endpoint(),
		"OTEL_EXPORTER_OTLP_INSECURE":      "true",
		"OTLP_TRACE_MAX_QUEUE_SIZE":        "64",
		"OTLP_TRACE_MAX_EXPORT_BATCH_SIZE": "32",
		"OTLP_TRACE_SCHEDULE_DELAY_MILLIS": "5",
	}))
	if err != nil {
		t.Fatal(err)
	}
	cfg.BlockTimeout = time.Minute
	e, err := New(cfg, engine.WithBatch(cfg.TraceBatch.MaxExportBatchSize, cfg.TraceBatch.ScheduleDelay),
		engine.WithMetrics(engine.MetricsConfig{NoExport: true}))
	if err != nil {
		t.Fatal(err)
	}
	const runs, nodes = 1000, 3
	s := captureShutdown(t, e, engine.RunInfo{AppID: "app"}, runs, nodes)
	if s.Exported != runs*(nodes+1) || len(receivedSpans(rc)) != runs*(nodes+1) {
		t.Errorf("exported %d, received %d, want %d (stats %+v)", s.Exported, len(receivedSpans(rc)), runs*(nodes+1), s)
	}
}

// TestNewFromEnvMetricsPreferences: the OTLP metrics exporter's
// OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE (cumulative, delta,
// lowmemory; any case) and
// OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION
// (explicit_bucket_histogram, base2_exponential_bucket_histogram) reach
// what a real receiver gets: flowtel's sums are counters and its
// histograms synchronous, which delta and lowmemory both make delta. They
// were ignored; another value is refused by name.
func TestNewFromEnvMetricsPreferences(t *testing.T) {
	for _, tc := range []struct {
		temporality, aggregation string
		delta, exponential       bool
	}{
		{"", "", false, false},
		{"cumulative", "explicit_bucket_histogram", false, false},
		{"Delta", "", true, false},
		{"lowmemory", "base2_exponential_bucket_histogram", true, true},
	} {
		t.Run(tc.temporality+"/"+tc.aggregation, func(t *testing.T) {
			rc := otlptest.StartKeeping(t, otlptest.GRPC)
			e, err := newFromLookup(lookupMap(map[string]string{
				"OTEL_EXPORTER_OTLP_ENDPOINT":                              rc.Endpoint(),
				"OTEL_EXPORTER_OTLP_INSECURE":                              "true",
				"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE":        tc.temporality,
				"OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION": tc.aggregation,
			}))
			if err != nil {
				t.Fatal(err)
			}
			run := e.StartRun(engine.RunInfo{AppID: "app", FlowID: "flow"})
			run.StartNode("llm:1", "llm", "LLM").End()
			run.End(0, "")
			if err := e.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			reqs := rc.Metrics()
			if len(reqs) == 0 {
				t.Fatal("no metrics export")
			}
			last := reqs[len(reqs)-1]
			wantT := metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE
			if tc.delta {
				wantT = metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA
			}
			n := 0
			for m := range metricsNamed(last, engine.MetricRequests) {
				n++
				if got := m.GetSum().GetAggregationTemporality(); got != wantT {
					t.Errorf("%s temporality %v, want %v", m.Name, got, wantT)
				}
			}
			for m := range metricsNamed(last, engine.MetricRequestTime) {
				n++
				if got := m.GetExponentialHistogram() != nil; got != tc.exponential {
					t.Errorf("%s exponential %v, want %v (%T)", m.Name, got, tc.exponential, m.Data)
				}
			}
			if n != 2 {
				t.Fatalf("the final export holds %d of the two families", n)
			}
		})
	}
	for name, v := range map[string]string{
		"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE":        "sometimes",
		"OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION": "summary",
	} {
		_, err := newFromLookup(lookupMap(map[string]string{"OTLP_ENABLE": "false", name: v}))
		if !errors.Is(err, export.ErrInvalidEnv) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: %v, want an error naming it", name, v, err)
		}
	}
}

// TestNewFromEnvResourceKeysUnique: OTEL_RESOURCE_ATTRIBUTES naming keys
// flowtel writes itself (service.name, the commonest way to name a
// service, service.instance.id, telemetry.sdk.*) or one key twice gives a
// resource whose keys are unique, as OTLP requires: service.name by its
// precedence (OTEL_SERVICE_NAME first), service.instance.id the user's
// over HOSTNAME, telemetry.sdk.* flowtel's, a repeated key its last
// value. The resource carried service.name (and the others) twice.
func TestNewFromEnvResourceKeysUnique(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want map[string]string
	}{
		{map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attrs,deployment.environment=prod,team=a,team=b"},
			map[string]string{"service.name": "from-attrs", "deployment.environment": "prod", "team": "b", "service.instance.id": "host-1"}},
		{map[string]string{"OTEL_SERVICE_NAME": "svc", "OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attrs,service.instance.id=pod-7,telemetry.sdk.name=other,telemetry.sdk.language=rust"},
			map[string]string{"service.name": "svc", "service.instance.id": "pod-7", "telemetry.sdk.name": "flowtel", "telemetry.sdk.language": "go"}},
	} {
		rc := otlptest.StartKeeping(t, otlptest.GRPC)
		env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": rc.Endpoint(), "OTEL_EXPORTER_OTLP_INSECURE": "true", "HOSTNAME": "host-1", "SERVICE_IP": "10.1.2.3"}
		for k, v := range tc.env {
			env[k] = v
		}
		e, err := newFromLookup(lookupMap(env))
		if err != nil {
			t.Fatal(err)
		}
		captureShutdown(t, e, engine.RunInfo{AppID: "app"}, 1, 1)
		reqs := rc.Traces()
		if len(reqs) == 0 {
			t.Fatal("no traces export")
		}
		seen := map[string]int{}
		got := map[string]string{}
		for _, kv := range reqs[0].ResourceSpans[0].Resource.Attributes {
			seen[kv.Key]++
			got[kv.Key] = kv.Value.GetStringValue()
		}
		for k, n := range seen {
			if n != 1 {
				t.Errorf("%v: the resource holds %s %d times", tc.env, k, n)
			}
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%v: resource %s = %q, want %q", tc.env, k, got[k], v)
			}
		}
	}
}

// TestNewFromEnvDisabledCountsNothingExported: with OTEL_SDK_DISABLED=true,
// OTLP_ENABLE=false, or both span and log exporters none, nothing reaches
// the receiver and the engine counts every span as sampled out, in Stats
// and in its Prometheus exposition, none as exported; the runs still
// propagate the head sampler's flag.
func TestNewFromEnvDisabledCountsNothingExported(t *testing.T) {
	rc := otlptest.StartKeeping(t, otlptest.GRPC)
	defer rc.Stop()
	for _, env := range []map[string]string{
		{"OTEL_SDK_DISABLED": "true"},
		{"OTLP_ENABLE": "false"},
		{"OTEL_TRACES_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"},
	} {
		env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://" + rc.Addr
		e, err := newFromLookup(lookupMap(env))
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			r := e.StartRun(engine.RunInfo{FlowID: "f"})
			if !r.SpanContext().Sampled {
				t.Errorf("%v: the run propagates not sampled", env)
			}
			r.StartNode("llm:1", "llm", "LLM").End()
			r.End(0, "")
		}
		if err := e.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
		s := e.Stats()
		if s.Exported != 0 || s.SampledOut != 6 || s.Accepted != 6 || s.InFlight != 0 || s.Dropped != 0 {
			t.Errorf("%v: stats %+v, want the 6 spans sampled out, none exported", env, s)
		}
		prom := string(e.AppendPrometheus(nil))
		if !strings.Contains(prom, "\n"+engine.MetricRecordsExported+" 0\n") || !strings.Contains(prom, "\n"+engine.MetricRecordsSampledOut+" 6\n") {
			t.Errorf("%v: exposition:\n%s", env, prom)
		}
		if err := e.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := rc.Calls(); n != 0 {
		t.Errorf("the receiver got %d requests", n)
	}

	// A sink of the caller's still gets every run.
	sink := &engine.MemorySink{}
	e, err := newFromLookup(lookupMap(map[string]string{"OTEL_SDK_DISABLED": "true"}), engine.WithSink(sink))
	if err != nil {
		t.Fatal(err)
	}
	e.StartRun(engine.RunInfo{FlowID: "f"}).End(0, "")
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := e.Stats(); len(sink.Runs()) != 1 || s.Exported != 1 || s.SampledOut != 0 {
		t.Errorf("with a sink: %d runs in it, stats %+v", len(sink.Runs()), s)
	}
}

// TestNewFromEnvDisabledTailPolicy: with export off, a tail policy of the
// caller's and no sink, the runs the policy keeps are sampled out like the
// rest (nothing would take them); they were counted dropped (sink_error,
// "export is off"). The policy is still checked as New checks it with
// export on, and with a sink of the caller's it samples what goes there.
func TestNewFromEnvDisabledTailPolicy(t *testing.T) {
	off := lookupMap(map[string]string{"OTLP_ENABLE": "false"})
	e, err := newFromLookup(off, engine.WithTailSampling(engine.TailPolicy{KeepErrors: true, Ratio: 1}))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		r := e.StartRun(engine.RunInfo{FlowID: "f"})
		r.StartNode("llm:1", "llm", "LLM").End()
		r.End(i%2, "")
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := e.Stats(); s.Accepted != 8 || s.SampledOut != 8 || s.RunsSampledOut != 4 || s.Dropped != 0 || s.SinkErrors != 0 || s.Exported != 0 {
		t.Errorf("stats %+v, want the 8 spans sampled out, none dropped", s)
	}
	if _, err := newFromLookup(off, engine.WithTailSampling(engine.TailPolicy{Ratio: 2})); !errors.Is(err, engine.ErrInvalidSampler) {
		t.Errorf("export off, Ratio 2: %v, want ErrInvalidSampler as with export on", err)
	}
	sink := &engine.MemorySink{}
	e, err = newFromLookup(off, engine.WithSink(sink), engine.WithTailSampling(engine.TailPolicy{KeepErrors: true}))
	if err != nil {
		t.Fatal(err)
	}
	e.StartRun(engine.RunInfo{FlowID: "f"}).End(1, "failed")
	e.StartRun(engine.RunInfo{FlowID: "f"}).End(0, "")
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := e.Stats(); len(sink.Runs()) != 1 || s.Exported != 1 || s.SampledOut != 1 || s.Dropped != 0 {
		t.Errorf("with a sink: %d runs in it, stats %+v", len(sink.Runs()), s)
	}
}

// TestNewFromEnvMetricIntervalNamed: a metrics export interval the engine
// refuses (under engine.MinMetricsInterval, 10 ms: a push collects and
// encodes every series) was refused as "engine: invalid metrics
// configuration: Interval = 1ms", naming no variable, where every other
// invalid value names its own. The error names the variable that set it,
// the OpenTelemetry one winning as export.FromEnv reads them.
func TestNewFromEnvMetricIntervalNamed(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"OTEL_METRIC_EXPORT_INTERVAL": "1"}, "OTEL_METRIC_EXPORT_INTERVAL"},
		{map[string]string{"OTLP_METRIC_EXPORT_INTERVAL_MILLIS": "9"}, "OTLP_METRIC_EXPORT_INTERVAL_MILLIS"},
		{map[string]string{"OTEL_METRIC_EXPORT_INTERVAL": "5", "OTLP_METRIC_EXPORT_INTERVAL_MILLIS": "3000"}, "OTEL_METRIC_EXPORT_INTERVAL"},
	} {
		e, err := newFromLookup(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
		if e != nil {
			e.Shutdown(t.Context())
		}
		if !errors.Is(err, export.ErrInvalidEnv) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want export.ErrInvalidEnv naming %s", tc.env, err, tc.want)
		}
	}
	e, err := newFromLookup(func(k string) (string, bool) {
		if k == "OTEL_METRIC_EXPORT_INTERVAL" {
			return "10", true
		}
		return "", false
	})
	if err != nil {
		t.Fatalf("OTEL_METRIC_EXPORT_INTERVAL=10: %v", err)
	}
	e.Shutdown(t.Context())
}

// TestSDKEnumsAnyCase: OpenTelemetry's SDK configuration reads enum
// values case-insensitively; OTEL_TRACES_EXPORTER, OTEL_LOGS_EXPORTER and
// OTEL_SDK_DISABLED were, OTEL_METRICS_EXPORTER and OTEL_PROPAGATORS not
// ("NONE" refused with "want otlp, prometheus or none").
func TestSDKEnumsAnyCase(t *testing.T) {
	for _, env := range []map[string]string{
		{"OTLP_ENABLE": "false", "OTEL_METRICS_EXPORTER": "NONE"},
		{"OTLP_ENABLE": "false", "OTEL_METRICS_EXPORTER": "Prometheus"},
		{"OTLP_ENABLE": "false", "OTEL_METRICS_EXPORTER": "OTLP"},
		{"OTLP_ENABLE": "false", "OTEL_PROPAGATORS": "TraceContext,Baggage"},
		{"OTEL_TRACES_EXPORTER": "None", "OTEL_LOGS_EXPORTER": "NONE", "OTEL_METRICS_EXPORTER": "None"},
	} {
		e, err := newFromLookup(lookupMap(env))
		if err != nil {
			t.Errorf("%v: %v", env, err)
			continue
		}
		if err := e.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	}
}

// TestNewFromEnvDisabledRunLogAlways: with export off (OTLP_ENABLE=false),
// a tail policy with RunLogAlways, which an engine exporting over OTLP
// takes, made NewFromEnv fail: the off sink takes no run logs, and New
// refused the policy for it. Turning export off by the environment must
// not stop a program that starts with it on; nothing is sent, every run
// is sampled out and counted so.
func TestNewFromEnvDisabledRunLogAlways(t *testing.T) {
	policy := engine.WithTailSampling(engine.TailPolicy{KeepErrors: true, RunLogAlways: true})
	on, err := newFromLookup(lookupMap(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_METRICS_EXPORTER": "none"}), policy)
	if err != nil {
		t.Fatalf("export on: %v", err)
	}
	if err := on.Shutdown(context.Background()); err != nil { // nothing ran: nothing to send
		t.Fatal(err)
	}

	e, err := newFromLookup(lookupMap(map[string]string{"OTLP_ENABLE": "false"}), policy)
	if err != nil {
		t.Fatalf("export off: %v, want the engine export on gives", err)
	}
	e.StartRun(engine.RunInfo{FlowID: "f"}).End(1, "failed")
	e.StartRun(engine.RunInfo{FlowID: "f"}).End(0, "")
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := e.Stats(); s.Accepted != 2 || s.SampledOut != 2 || s.Dropped != 0 || s.SinkErrors != 0 || s.RunLogsDropped != 0 {
		t.Errorf("stats %+v, want both runs sampled out, nothing dropped", s)
	}
}
