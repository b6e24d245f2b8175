package export

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestHeadersCredentialWithoutName: a base64 credential pasted into a
// HEADERS variable without its "Authorization=" read as a header named
// by the credential (up to its padding) with an empty value: accepted,
// sent, and printed by the Config's String and JSON as a header name.
// It is refused now, without the member printed.
func TestHeadersCredentialWithoutName(t *testing.T) {
	const tok = "dXNlcjpodW50ZXIyMg"
	for _, v := range []string{tok + "==", tok + "=", "x-scope-orgid=tenant1," + tok + "==", tok + "%3D="} {
		for _, name := range []string{"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_LOGS_HEADERS", "FLOWTEL_LARGE_FIELDS_HEADERS"} {
			env := map[string]string{name: v}
			if name == "FLOWTEL_LARGE_FIELDS_HEADERS" {
				env["FLOWTEL_LARGE_FIELDS_URL"] = "https://store.example/bucket/"
			}
			c, err := FromLookup(lookupOf(env))
			if !errors.Is(err, ErrInvalidEnv) || !strings.Contains(err.Error(), name) {
				b, _ := json.Marshal(c)
				t.Errorf("%s=%s: FromLookup returned %v, want an error naming the variable; the config: %s", name, v, err, b)
				continue
			}
			if strings.Contains(err.Error(), tok[:8]) {
				t.Errorf("%s=%s: the error prints the credential: %v", name, v, err)
			}
		}
	}
	// A value is still a value.
	c, err := FromLookup(lookupOf(map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Basic " + tok + "==,x-scope-orgid=tenant1"}))
	if err != nil || c.Headers["Authorization"] != "Basic "+tok+"==" {
		t.Errorf("a header whose value ends in '=': %v, %q", err, c.Headers)
	}
}

// TestHeaderLineAsNameNotPrinted: a whole header line given as a name
// (Headers{"Authorization: Bearer <token>": ""}), or a credential put
// where the name goes, was quoted by the error of New and NewHTTPStore
// that refused it, token and all.
func TestHeaderLineAsNameNotPrinted(t *testing.T) {
	const tok = "tok-71c3e0a9d2"
	for _, name := range []string{"Authorization: Bearer " + tok, "Bearer " + tok, tok + "=="} {
		for _, protocol := range []string{ProtocolGRPC, ProtocolHTTPProtobuf} {
			_, err := New(Config{Protocol: protocol, Headers: map[string]string{name: "x"}})
			if !errors.Is(err, ErrInvalidHeader) || strings.Contains(err.Error(), tok) {
				t.Errorf("%s %q: New returned %v, want ErrInvalidHeader without the name", protocol, name, err)
			}
		}
		_, err := NewHTTPStore("https://store.example/b/", map[string][]string{name: {"x"}}, nil)
		if !errors.Is(err, ErrInvalidHeader) || strings.Contains(err.Error(), tok) {
			t.Errorf("NewHTTPStore %q: %v, want ErrInvalidHeader without the name", name, err)
		}
	}
}
