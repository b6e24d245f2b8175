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

// An Exporter and an HTTPStore log through slog as they print: slog's
// JSON handler marshalled them with encoding/json, which calls no String
// method and sees no exported field, so that both logged {}.
func TestExporterAndStoreLogValue(t *testing.T) {
	r := newReceiver(t, ProtocolGRPC, nil)
	r.Start()
	defer r.Stop()
	cfg := testConfig(ProtocolGRPC, r.Endpoint())
	cfg.Headers = map[string]string{"Authorization": "Bearer exp-secret-77"}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, e)
	s, err := NewHTTPStore("http://user:store-secret-88@127.0.0.1:9/b/?sig=store-secret-99", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
		buf.Reset()
		slog.New(h).Info("started", "exporter", e, "store", s)
		out := buf.String()
		for _, secret := range []string{"exp-secret-77", "store-secret-88", "store-secret-99"} {
			if strings.Contains(out, secret) {
				t.Errorf("%T logs %s: %s", h, secret, out)
			}
		}
		if strings.Count(out, "export.Exporter{") != 1 || strings.Count(out, "export.HTTPStore{") != 1 || !strings.Contains(out, r.Addr) {
			t.Errorf("%T does not log the exporter and the store as they print: %s", h, out)
		}
	}
}
