package export

import (
	"errors"
	"strings"
	"testing"
)

// A Unix socket target that a per-signal rule would give TLS, beside
// OTLP_ENDPOINT's or OTEL_EXPORTER_OTLP_INSECURE's plaintext, is refused
// by FromLookup naming the variable: Config cannot take TLS away per
// signal, and secureEndpoint's https:// made "https://unix:/path", which
// New refused as "empty port after the host's ':'", a value the user never
// wrote, or, for the generic endpoint, the signal's INSECURE=false was
// ignored and it went in plaintext. A socket in plaintext is still taken.
func TestUnixTargetTLSRuleRefused(t *testing.T) {
	const sock = "unix:/run/otel.sock"
	for _, c := range []struct {
		env  map[string]string
		name string
	}{
		{map[string]string{"OTLP_ENDPOINT": "collector:4317", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": sock}, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
		{map[string]string{"OTEL_EXPORTER_OTLP_INSECURE": "true", "OTEL_EXPORTER_OTLP_LOGS_INSECURE": "false", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": sock}, "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": sock, "OTEL_EXPORTER_OTLP_INSECURE": "true", "OTEL_EXPORTER_OTLP_METRICS_INSECURE": "false"}, "OTEL_EXPORTER_OTLP_METRICS_INSECURE"},
	} {
		_, err := FromLookup(lookupOf(c.env))
		if !errors.Is(err, ErrInvalidEnv) || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%v: %v, want it refused naming %s", c.env, err, c.name)
		}
	}
	for _, env := range []map[string]string{
		{"OTLP_ENDPOINT": "collector:4317", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": sock, "OTEL_EXPORTER_OTLP_TRACES_INSECURE": "true"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": sock, "OTEL_EXPORTER_OTLP_INSECURE": "true"},
	} {
		c, err := FromLookup(lookupOf(env))
		if err != nil {
			t.Errorf("%v: %v", env, err)
			continue
		}
		tg, err := c.resolveTarget(Traces)
		if err != nil || tg.grpcTarget != sock || tg.tls != nil {
			t.Errorf("%v: target %q, TLS %v, %v; want %s in plaintext", env, tg.grpcTarget, tg.tls != nil, err, sock)
		}
	}
}
