package export

import (
	"errors"
	"strings"
	"testing"
)

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
