package export

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
)

// TestEndpointEmptyPort: an endpoint whose host ends in a colon with no
// port, most often a scheme given twice (OTEL_EXPORTER_OTLP_ENDPOINT=
// http://$COLLECTOR with COLLECTOR=http://host:4317 parses as host
// "http:", path "//host:4317"), was accepted: every export then failed
// (gRPC found no such address, OTLP/HTTP dialled host "http" on port
// 80), each batch dropped after its retries. It is refused at
// construction, naming the field or variable, never the credentials.
func TestEndpointEmptyPort(t *testing.T) {
	const secret = "s3cret-pass"
	for _, ep := range []string{
		"http://http://127.0.0.1:4317",
		"https://https://collector.example:4318/v1/traces",
		"http://127.0.0.1:",
		"http://u:" + secret + "@http://127.0.0.1:4317",
		"http://u:" + secret + "@collector:",
		"collector:", // scheme-less host:port with the port left out
	} {
		for _, protocol := range []string{ProtocolGRPC, ProtocolHTTPProtobuf} {
			_, err := New(Config{Endpoint: ep, Protocol: protocol, Insecure: true})
			if !errors.Is(err, ErrInvalidEndpoint) {
				t.Errorf("New(Endpoint %q, %s) = %v, want ErrInvalidEndpoint", RedactURL(ep), protocol, err)
			} else if strings.Contains(err.Error(), secret) {
				t.Errorf("New(Endpoint %q, %s): the error prints the password: %v", RedactURL(ep), protocol, err)
			}
		}
		env := map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": ep}
		_, err := FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if !errors.Is(err, ErrInvalidEnv) || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
			t.Errorf("FromLookup(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=%q) = %v, want an error naming the variable", RedactURL(ep), err)
		} else if strings.Contains(err.Error(), secret) {
			t.Errorf("FromLookup(%q): the error prints the password: %v", RedactURL(ep), err)
		}
	}
	// An explicit port, and none at all, are still taken.
	for _, ep := range []string{"http://127.0.0.1:4317", "http://collector", "collector:4317", "https://[::1]:4318/v1/traces"} {
		if _, _, err := parseEndpoint(ep, true); err != nil {
			t.Errorf("parseEndpoint(%q): %v", ep, err)
		}
	}
}

// TestLargeFieldURLEmptyPort: the large-value store's URL had the same
// hole: FLOWTEL_LARGE_FIELDS_URL=https://https://store.example/bucket/
// (host "https:") was taken, and every value's PUT then failed, each
// value cut and counted failed_error. NewHTTPStore refuses it, so
// LargeFieldConfig's check and FromEnv name the URL, never its password.
func TestLargeFieldURLEmptyPort(t *testing.T) {
	const secret = "s3cret-pass"
	for _, u := range []string{"https://https://store.example/bucket/", "http://u:" + secret + "@store:/b/"} {
		if _, err := NewHTTPStore(u, nil, nil); !errors.Is(err, ErrLargeFieldStore) {
			t.Errorf("NewHTTPStore(%q) = %v, want ErrLargeFieldStore", RedactURL(u), err)
		} else if strings.Contains(err.Error(), secret) {
			t.Errorf("NewHTTPStore(%q): the error prints the password: %v", RedactURL(u), err)
		}
		env := map[string]string{"FLOWTEL_LARGE_FIELDS_URL": u}
		_, err := FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if !errors.Is(err, ErrInvalidEnv) || !strings.Contains(err.Error(), "FLOWTEL_LARGE_FIELDS_URL") {
			t.Errorf("FromLookup(FLOWTEL_LARGE_FIELDS_URL=%q) = %v, want an error naming the variable", RedactURL(u), err)
		} else if strings.Contains(err.Error(), secret) {
			t.Errorf("FromLookup(%q): the error prints the password: %v", RedactURL(u), err)
		}
	}
	s, err := NewHTTPStore("http://store:8080/b", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// Endpoints of the shapes users write reach a loopback receiver over both
// protocols: an IPv6 literal with a zone (scheme-less and as a URL), and
// an upper-case name.
func TestEndpointHostShapesDeliver(t *testing.T) {
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	l.Close()
	for _, protocol := range []string{ProtocolGRPC, ProtocolHTTPProtobuf} {
		v6 := newReceiver(t, protocol, nil)
		v6.Addr = "[::1]:0"
		v6.Start()
		v4 := newReceiver(t, protocol, nil)
		v4.Start()
		port := func(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }
		p6, p4 := port(v6.Addr), port(v4.Addr)
		for i, c := range []struct {
			ep string
			r  func() int64
		}{
			{"[::1%25lo]:" + p6, func() int64 { return received(v6)[Traces] }},
			{"http://[::1%25lo]:" + p6, func() int64 { return received(v6)[Traces] }},
			{"[::1]:" + p6, func() int64 { return received(v6)[Traces] }},
			{"LOCALHOST:" + p4, func() int64 { return received(v4)[Traces] }},
		} {
			cfg := testConfig(protocol, c.ep)
			cfg.Insecure = true
			before := c.r()
			e, err := New(cfg)
			if err != nil {
				t.Errorf("%s %q: %v", protocol, c.ep, err)
				continue
			}
			produce(t, e, Traces, fmt.Sprint("host", i), 1, 1)
			flush(t, e)
			shutdown(t, e)
			if got := c.r() - before; got != 1 {
				t.Errorf("%s %q: the receiver got %d spans, want 1 (dropped %d)", protocol, c.ep, got, e.Stats().Signals[Traces].Dropped)
			}
		}
		v6.Stop()
		v4.Stop()
	}
}

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

// A header written as "name:token" in an endpoint variable, the token all
// digits, reads as a host and a port: the port, out of range, was printed
// in the error, and so the token. A port of more than 5 digits is no
// typo of a port; it is refused without the value.
func TestEndpointNumericTokenNotPrinted(t *testing.T) {
	const tok = "8812345678901"
	for _, v := range []string{"x-api-key:" + tok, "http://x-api-key:" + tok + "/v1/traces"} {
		for _, name := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTLP_ENDPOINT"} {
			_, err := FromLookup(lookupOf(map[string]string{name: v}))
			if !errors.Is(err, ErrInvalidEnv) || !strings.Contains(err.Error(), name) || strings.Contains(err.Error(), tok) {
				t.Errorf("%s=%s: %v, want it refused by name without the token", name, v, err)
			}
		}
		if _, err := New(Config{Endpoint: v}); err == nil || strings.Contains(err.Error(), tok) {
			t.Errorf("Config.Endpoint %s: %v, want it refused without the token", v, err)
		}
	}
	if _, err := NewHTTPStore("http://x-api-key:"+tok+"/", nil, nil); !errors.Is(err, ErrLargeFieldStore) || strings.Contains(err.Error(), tok) {
		t.Errorf("NewHTTPStore: %v, want it refused without the token", err)
	}
	// A port out of range of 5 digits or fewer is still printed, as a typo.
	_, err := FromLookup(lookupOf(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:99999"}))
	if err == nil || !strings.Contains(err.Error(), "collector:99999") {
		t.Errorf("collector:99999 (a port over 65535): %v, want the value printed", err)
	}
}
