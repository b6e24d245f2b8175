package otlp

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/engine"
)

// TestNewFromEnvSamplerIgnored checks what the specification asks of an
// OTEL_TRACES_SAMPLER_ARG that is not a ratio ("Invalid or unrecognized
// input MUST be logged and MUST be otherwise ignored, i.e. the
// implementation MUST behave as if OTEL_TRACES_SAMPLER_ARG is not set")
// and of an OTEL_TRACES_SAMPLER it does not know (an enum value: warned
// about and ignored): the engine starts with the sampler the
// specification gives (ratio 1, parentbased_always_on), and one slog
// warning names the variable. NewFromEnv refused both, and the service did
// not start.
func TestNewFromEnvSamplerIgnored(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	for _, c := range []struct {
		env  map[string]string
		name string
	}{
		{map[string]string{"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"}, "OTEL_TRACES_SAMPLER_ARG"},
		{map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "ten percent"}, "OTEL_TRACES_SAMPLER_ARG"},
		{map[string]string{"OTEL_TRACES_SAMPLER": "jaeger_remote"}, "OTEL_TRACES_SAMPLER"},
	} {
		buf.Reset()
		c.env["OTLP_ENABLE"] = "false"
		e, err := newFromLookup(lookupMap(c.env))
		if err != nil {
			t.Fatalf("env %v: %v", c.env, err)
		}
		for range 20 {
			r := e.StartRun(engine.RunInfo{})
			if !r.SpanContext().Sampled {
				t.Errorf("env %v: a root run sampled out", c.env)
			}
			r.End(0, "")
		}
		if err := e.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if strings.Count(out, "\n") != 1 || !strings.Contains(out, "level=WARN") || !strings.Contains(out, c.name+"=") {
			t.Errorf("env %v: logged %q, want one warning naming %s", c.env, out, c.name)
		}
	}
}
