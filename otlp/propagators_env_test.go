package otlp

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/propagation"
)

// TestNewFromEnvPropagators: NewFromEnv checks OTEL_PROPAGATORS with the
// parser of propagation.FromEnv, so that what one accepts the other does
// (the Propagator is where the setting takes effect).
func TestNewFromEnvPropagators(t *testing.T) {
	for _, v := range []string{"tracecontext", "Baggage", "NONE", "baggage,tracecontext,", " , "} {
		e, err := newFromLookup(lookupMap(map[string]string{"OTLP_ENABLE": "false", "OTEL_PROPAGATORS": v}))
		if err != nil {
			t.Errorf("OTEL_PROPAGATORS=%q: %v", v, err)
			continue
		}
		if err := e.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	}
	for _, v := range []string{"b3", "none,tracecontext", "jaeger,baggage"} {
		_, err := newFromLookup(lookupMap(map[string]string{"OTLP_ENABLE": "false", "OTEL_PROPAGATORS": v}))
		if !errors.Is(err, export.ErrInvalidEnv) || !errors.Is(err, propagation.ErrPropagators) || !strings.Contains(err.Error(), "OTEL_PROPAGATORS") {
			t.Errorf("OTEL_PROPAGATORS=%q: %v, want an error naming it", v, err)
		}
	}
}
