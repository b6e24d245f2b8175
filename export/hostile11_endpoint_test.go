package export

import (
	"errors"
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
