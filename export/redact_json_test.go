package export

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/valyala/bytebufferpool"
)

// TestConfigJSONRedacted: encoding/json calls no String method, so that a
// SignalConfig or LargeFieldConfig marshalled printed its header values
// and its endpoint's credentials in clear (a Config failed on its
// functions), and so did slog's JSON handler for a struct holding one.
func TestConfigJSONRedacted(t *testing.T) {
	c, secrets := secretsConfig()
	c.ErrorHandler = func(error) {}
	c.Release = func(*bytebufferpool.ByteBuffer) {}
	outer := struct {
		Name   string
		Export Config
	}{"app", c}
	var buf bytes.Buffer
	for _, v := range []any{c, &c, outer, c.Traces, &c.Traces, c.LargeFields} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal(%T): %v", v, err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "app", outer, "traces", &c.Traces)
	out := buf.String()
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("the JSON holds %q:\n%s", s, out)
		}
	}
	// What is not secret is kept, field by field.
	var got Config
	b, _ := json.Marshal(c)
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Headers["Authorization"] != redacted || got.Traces.Headers["x-key"] != redacted ||
		got.Endpoint != "https://REDACTED@collector:4318/v1?token=REDACTED" ||
		got.Traces.Endpoint != c.Traces.Endpoint || got.LargeFields.URL != "https://store/bucket?sig=REDACTED" {
		t.Errorf("the JSON does not give the configuration redacted: %s", b)
	}
	if strings.Contains(string(b), "ErrorHandler") || strings.Contains(string(b), "Release") {
		t.Errorf("the functions are marshalled: %s", b)
	}
}
