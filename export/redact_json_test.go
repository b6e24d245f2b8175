package export

import (
	"bytes"
	"encoding/json"
	"errors"
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

// TestRedactedConfigRefused: a configuration read back from its JSON
// (MarshalJSON) or its printing holds "REDACTED" in place of each
// secret. New took it, and every export sent "REDACTED" as the
// Authorization header and as the basic-auth user: refused by the
// receiver at each export, or taken by one that checks nothing. New
// refuses it now, naming the setting.
func TestRedactedConfigRefused(t *testing.T) {
	c, _ := secretsConfig()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back Config
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]Config{
		"read back":      back,
		"header":         {Endpoint: "https://collector:4318", Headers: map[string]string{"Authorization": redacted}},
		"signal header":  {Endpoint: "https://collector:4318", Logs: SignalConfig{Headers: map[string]string{"x-key": redacted}}},
		"user":           {Endpoint: "https://REDACTED@collector:4318"},
		"password":       {Endpoint: "https://user:REDACTED@collector:4318"},
		"query value":    {Endpoint: "https://collector:4318/v1?token=REDACTED"},
		"nameless query": {Endpoint: "https://collector:4318/v1?REDACTED"},
		"signal":         {Endpoint: "https://collector:4318", Metrics: SignalConfig{Endpoint: "https://REDACTED@collector:4318"}},
	} {
		e, err := New(cfg)
		if err == nil {
			shutdown(t, e)
			t.Errorf("%s: New took a configuration holding the placeholder", name)
			continue
		}
		if !strings.Contains(err.Error(), "placeholder") {
			t.Errorf("%s: New returned %v, want the placeholder named", name, err)
		}
	}
	// The large-value store's settings, which otlp.New checks by Validate.
	for _, l := range []LargeFieldConfig{back.LargeFields, {URL: "https://store/bucket", Headers: map[string]string{"x-api-key": redacted}}} {
		if err := l.Validate(); err == nil || !strings.Contains(err.Error(), "placeholder") {
			t.Errorf("Validate of %v returned %v, want the placeholder refused", l, err)
		}
	}
	if _, err := NewHTTPStore("https://REDACTED@store/bucket", nil, nil); !errors.Is(err, ErrLargeFieldStore) || !strings.Contains(err.Error(), "placeholder") {
		t.Errorf("NewHTTPStore returned %v, want the placeholder refused", err)
	}
	// A word holding it is no placeholder.
	if e, err := New(Config{Endpoint: "https://collector:4318/v1?note=NOT-REDACTED", Headers: map[string]string{"x-note": "REDACTED-ish"}}); err != nil {
		t.Errorf("New refused values that only hold the word: %v", err)
	} else {
		shutdown(t, e)
	}
}
