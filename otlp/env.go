package otlp

import (
	"fmt"
	"net"
	"os"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/sid"
)

// NewFromEnv returns an engine configured from the environment, the way
// the original was: export.FromEnv for the exporter, service name and
// resource (OTEL_* and OTLP_* variables), the original's batching
// (OTLP_TRACE_SCHEDULE_DELAY_MILLIS, OTLP_TRACE_MAX_EXPORT_BATCH_SIZE), and
// SIDs from SERVICE_SUB, SERVICE_LOCATION, SERVICE_PORT and the host's IPv4
// address (SERVICE_IP, else the first non-loopback IPv4 address). SIDs are
// generated only when SERVICE_SUB is set. OTEL_TRACES_SAMPLER and
// OTEL_TRACES_SAMPLER_ARG select the head sampler (engine.SamplerFromEnv;
// default parentbased_always_on). With OTLP_ENABLE=false the engine
// captures and measures but sends nothing. opts apply after the
// environment. An invalid value is an error naming the variable.
func NewFromEnv(opts ...engine.Option) (*engine.Engine, error) {
	return newFromLookup(os.LookupEnv, opts...)
}

func newFromLookup(lookup func(string) (string, bool), opts ...engine.Option) (*engine.Engine, error) {
	cfg, err := export.FromLookup(lookup)
	if err != nil {
		return nil, err
	}
	get := func(k string) string { v, _ := lookup(k); return v }
	ip := get("SERVICE_IP")
	if ip == "" {
		ip = hostIPv4()
	}
	res := encode.Resource{ServiceName: cfg.ServiceName, HostIP: ip, ServiceInstanceID: get("HOSTNAME")}
	sampler, err := engine.SamplerFromEnv(get)
	if err != nil {
		return nil, fmt.Errorf("otlp: from environment: %w", err)
	}
	base := []engine.Option{
		engine.WithSampler(sampler),
		engine.WithResource(res),
		engine.WithBatch(cfg.TraceBatch.MaxExportBatchSize, cfg.TraceBatch.ScheduleDelay),
	}
	if sub := get("SERVICE_SUB"); sub != "" {
		base = append(base, engine.WithSID(sid.Config{Sub: sub, Location: get("SERVICE_LOCATION"), IP: ip, Port: get("SERVICE_PORT")}))
	}
	opts = append(base, opts...)
	if !cfg.Enabled {
		return engine.New(opts...)
	}
	e, err := New(cfg, opts...)
	if err != nil {
		return nil, fmt.Errorf("otlp: from environment: %w", err)
	}
	return e, nil
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
