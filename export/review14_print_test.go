package export

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// A credential pasted into an endpoint or the store's URL, which New and
// FromEnv refuse without printing, is not printed by a Config either:
// logging the configuration that failed is what a user does next.
func TestConfigPrintsNoMisplacedCredential(t *testing.T) {
	const tok = "sekret-token-123"
	c := Config{
		Endpoint:    "api-key=" + tok,
		Traces:      SignalConfig{Endpoint: "Authorization=Bearer " + tok},
		Metrics:     SignalConfig{Endpoint: "http://x-api-key:8812345678901/"},
		LargeFields: LargeFieldConfig{URL: "https://token;" + tok + "/bucket/"},
	}
	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
		slog.New(h).Info("config", "c", c, "p", &c, "traces", c.Traces, "large", c.LargeFields)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		fmt.Fprintf(&buf, verb+"\n", c)
		fmt.Fprintf(&buf, verb+"\n", &c)
	}
	out := buf.String()
	if strings.Contains(out, tok) || strings.Contains(out, "8812345678901") {
		t.Errorf("a misplaced credential printed:\n%s", out)
	}
	// A real endpoint is still shown.
	if s := (Config{Endpoint: "https://otel_collector:4317"}).String(); !strings.Contains(s, "otel_collector:4317") {
		t.Errorf("the endpoint is not shown: %s", s)
	}
}
