package export

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestResolveEndpoints(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		sig  Signal
		// want: gRPC target or HTTP URL, and whether TLS is used.
		want   string
		secure bool
	}{
		{"zero value", Config{}, Traces, "localhost:4317", false},
		{"zero value http", Config{Protocol: ProtocolHTTPProtobuf}, Metrics, "http://localhost:4318/v1/metrics", false},
		{"host:port means TLS", Config{Endpoint: "otel:4317"}, Traces, "otel:4317", true},
		{"host:port insecure", Config{Endpoint: "otel:4317", Insecure: true}, Traces, "otel:4317", false},
		{"https scheme wins over insecure", Config{Endpoint: "https://otel:4317", Insecure: true}, Logs, "otel:4317", true},
		{"http scheme", Config{Endpoint: "http://otel:4317"}, Logs, "otel:4317", false},
		{"generic http gets signal path", Config{Protocol: ProtocolHTTPProtobuf, Endpoint: "http://otel:4318/base/"}, Logs, "http://otel:4318/base/v1/logs", false},
		{"generic http keeps an escaped path", Config{Protocol: ProtocolHTTPProtobuf, Endpoint: "http://otel:4318/tenant%2Fa/"}, Traces, "http://otel:4318/tenant%2Fa/v1/traces", false},
		{"generic http keeps the query", Config{Protocol: ProtocolHTTPProtobuf, Endpoint: "http://otel:4318/base?tenant=a%2Fb"}, Metrics, "http://otel:4318/base/v1/metrics?tenant=a%2Fb", false},
		{"per-signal http used as is", Config{Protocol: ProtocolHTTPProtobuf, Endpoint: "http://otel:4318",
			Traces: SignalConfig{Endpoint: "https://traces.example:443/custom"}}, Traces, "https://traces.example:443/custom", true},
		{"per-signal protocol", Config{Endpoint: "http://otel:4318", Metrics: SignalConfig{Protocol: ProtocolHTTPProtobuf}}, Metrics, "http://otel:4318/v1/metrics", false},
		{"per-signal insecure", Config{Endpoint: "otel:4317", Logs: SignalConfig{Insecure: true}}, Logs, "otel:4317", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := tc.cfg.resolve()
			if err != nil {
				t.Fatal(err)
			}
			tg := s.targets[tc.sig]
			got := tg.grpcTarget
			if tg.protocol == ProtocolHTTPProtobuf {
				got = tg.url
			}
			if got != tc.want || (tg.tls != nil) != tc.secure {
				t.Errorf("got %q tls=%v, want %q tls=%v", got, tg.tls != nil, tc.want, tc.secure)
			}
		})
	}
}

func TestResolveDefaults(t *testing.T) {
	s, err := (&Config{}).resolve()
	if err != nil {
		t.Fatal(err)
	}
	if s.queueBytes != DefaultQueueBytes || s.queueBatches != DefaultQueueBatches || s.concurrency != DefaultConcurrency ||
		s.retry.InitialInterval != 5*time.Second || s.retry.MaxInterval != 30*time.Second || s.retry.MaxElapsedTime != time.Minute ||
		s.retry.Disabled || s.block || s.targets[Traces].timeout != 10*time.Second || s.targets[Traces].gzip {
		t.Errorf("defaults: %+v", s)
	}
	c := Config{Timeout: time.Second, Compression: CompressionGzip, Headers: map[string]string{"a": "1"},
		Metrics: SignalConfig{Timeout: 2 * time.Second, Compression: CompressionNone, Headers: map[string]string{"b": "2"}}}
	s, err = c.resolve()
	if err != nil {
		t.Fatal(err)
	}
	tr, m := s.targets[Traces], s.targets[Metrics]
	if tr.timeout != time.Second || !tr.gzip || tr.headers["a"] != "1" {
		t.Errorf("traces inherit: %+v", tr)
	}
	if m.timeout != 2*time.Second || m.gzip || m.headers["b"] != "2" || m.headers["a"] != "" {
		t.Errorf("metrics override: %+v", m)
	}
}

func TestResolveErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want error
	}{
		{Config{Protocol: "http/json"}, ErrInvalidProtocol},
		{Config{Logs: SignalConfig{Protocol: "udp"}}, ErrInvalidProtocol},
		{Config{Compression: "zstd"}, ErrInvalidCompression},
		{Config{Endpoint: "ftp://x:1"}, ErrInvalidEndpoint},
		{Config{Endpoint: "http://"}, ErrInvalidEndpoint},
		{Config{Headers: map[string]string{"bad header": "v"}}, ErrInvalidHeader},
		{Config{Headers: map[string]string{"k": "line\nbreak"}}, ErrInvalidHeader},
		{Config{QueueBytes: -1}, ErrInvalidConfig},
		{Config{CoalesceBytes: -2}, ErrInvalidConfig},
		{Config{Retry: RetryConfig{MaxElapsedTime: -time.Second}}, ErrInvalidConfig},
	} {
		_, err := New(tc.cfg)
		if !errors.Is(err, tc.want) {
			t.Errorf("New(%+v) = %v, want %v", tc.cfg, err, tc.want)
		}
	}
}

func TestSignalAndReasonStrings(t *testing.T) {
	for sig, want := range map[Signal]string{Traces: "traces", Metrics: "metrics", Logs: "logs", 7: "invalid"} {
		if sig.String() != want {
			t.Errorf("%d: %q", sig, sig.String())
		}
	}
	seen := map[string]bool{}
	for r := DropReason(0); r < NumDropReasons; r++ {
		if s := r.String(); s == "invalid" || seen[s] {
			t.Errorf("reason %d: %q", r, s)
		} else {
			seen[s] = true
		}
	}
}

// TestEndpointPortChecked is the regression test of an endpoint whose port
// no connection can use (0, above 65535) passing New and every export then
// failing: it is refused at construction, by Config field and by
// environment variable, with credentials still redacted.
func TestEndpointPortChecked(t *testing.T) {
	for _, ep := range []string{"http://u:5ecret@127.0.0.1:99999", "127.0.0.1:0", "https://host:65536/v1/traces", "host:4294967297"} {
		for _, protocol := range []string{ProtocolGRPC, ProtocolHTTPProtobuf} {
			_, err := New(Config{Protocol: protocol, Endpoint: ep, Insecure: true})
			if !errors.Is(err, ErrInvalidEndpoint) || strings.Contains(err.Error(), "5ecret") {
				t.Errorf("%s %q: %v, want ErrInvalidEndpoint without the password", protocol, ep, err)
			}
		}
		_, err := FromLookup(func(k string) (string, bool) {
			if k == "OTEL_EXPORTER_OTLP_ENDPOINT" {
				return ep, true
			}
			return "", false
		})
		if !errors.Is(err, ErrInvalidEnv) || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_ENDPOINT") || strings.Contains(err.Error(), "5ecret") {
			t.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT=%q: %v, want an error naming the variable without the password", ep, err)
		}
	}
	for _, ep := range []string{"127.0.0.1:1", "http://host:65535", "https://host", "host:4317"} {
		if _, _, err := parseEndpoint(ep, true); err != nil {
			t.Errorf("%q refused: %v", ep, err)
		}
	}
}
