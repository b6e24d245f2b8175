package export

import (
	"strings"
	"testing"
)

// An internationalized host name is taken in its ASCII (punycode) form,
// as net/http dials one and OTel Go's HTTP exporter sends to one: 4d95245
// refused every non-ASCII byte, and before it the name went unconverted
// to gRPC's resolver and into TLS's ServerName, which no certificate of
// the name matches.
func TestEndpointInternationalizedHost(t *testing.T) {
	const ascii = "xn--bcher-kva.example"
	for _, c := range []struct{ protocol, ep, want string }{
		{ProtocolGRPC, "bücher.example:4317", ascii + ":4317"},
		{ProtocolGRPC, "https://BÜCHER.example:4317", ascii + ":4317"},
		{ProtocolHTTPProtobuf, "http://bücher.example:4318", "http://" + ascii + ":4318/v1/traces"},
		{ProtocolHTTPProtobuf, "https://bücher.example/otlp", "https://" + ascii + "/otlp/v1/traces"},
	} {
		cfg := Config{Protocol: c.protocol, Endpoint: c.ep}
		tg, err := cfg.resolveTarget(Traces)
		if err != nil {
			t.Errorf("%s %q: %v", c.protocol, c.ep, err)
			continue
		}
		got := tg.url
		if c.protocol == ProtocolGRPC {
			got = tg.grpcTarget
		}
		if got != c.want {
			t.Errorf("%s %q: target %q, want %q", c.protocol, c.ep, got, c.want)
		}
		if tg.tls != nil && tg.tls.ServerName != ascii {
			t.Errorf("%s %q: TLS server name %q, want %q", c.protocol, c.ep, tg.tls.ServerName, ascii)
		}
		_, err = FromLookup(lookupOf(map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": c.protocol, "OTEL_EXPORTER_OTLP_ENDPOINT": c.ep}))
		if err != nil {
			t.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT=%q: %v", c.ep, err)
		}
	}
	// A name IDNA refuses is refused, the value not printed.
	for _, ep := range []string{"-bücher.example:4317", "bücher_1.example:4317"} {
		_, err := (&Config{Endpoint: ep}).resolveTarget(Traces)
		if err == nil || strings.Contains(err.Error(), "bücher") {
			t.Errorf("%q: %v, want it refused without the value", ep, err)
		}
	}
}
