package otlp

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

// TestNewFromEnvPropagators: NewFromEnv reads OTEL_PROPAGATORS with the
// rules of propagation.FromEnv (the Propagator is where the setting takes
// effect). As the specification asks, a name flowtel does not speak is
// warned about once with slog and ignored: the engine starts.
func TestNewFromEnvPropagators(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	defer slog.SetDefault(old)
	start := func(v string) {
		t.Helper()
		e, err := newFromLookup(lookupMap(map[string]string{"OTLP_ENABLE": "false", "OTEL_PROPAGATORS": v}))
		if err != nil {
			t.Errorf("OTEL_PROPAGATORS=%q: %v", v, err)
			return
		}
		if err := e.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	}
	for _, v := range []string{"tracecontext", "Baggage", "NONE", "baggage,tracecontext,", " , "} {
		start(v)
	}
	if buf.Len() != 0 {
		t.Errorf("a valid value warned: %s", &buf)
	}
	for _, v := range []string{"b3", "none,tracecontext", "jaeger,baggage"} {
		buf.Reset()
		start(v)
		start(v)
		if out := buf.String(); strings.Count(out, "level=WARN") != 1 || !strings.Contains(out, "OTEL_PROPAGATORS") {
			t.Errorf("OTEL_PROPAGATORS=%q: want one warning naming it, got:\n%s", v, out)
		}
	}
}
