package w3c

import (
	"errors"
	"fmt"
	"strings"
)

// ErrPropagators wraps what ParsePropagators refuses.
var ErrPropagators = errors.New("propagation: propagators not supported")

// ParsePropagators reads a value of OTEL_PROPAGATORS by the OpenTelemetry
// SDK environment rules and says which of the two W3C formats it names: a
// comma-separated list, each name trimmed and read in any case, a name
// given twice counted once. "none" is neither. An empty value, or one
// naming nothing (only commas and spaces), is the default, both, as an
// empty variable is an unset one. Any other name (b3, jaeger, xray) is
// refused, and so is "none" beside a format: the specification defines
// "none" as no propagator, which a list naming one contradicts
// (OpenTelemetry's Python SDK drops the "none" and keeps the others,
// Java's refuses the list), so the operator says which was meant. It
// lives here, not in propagation, so that otlp.NewFromEnv checks the
// variable with the same rules without importing a wiring package beside
// it.
func ParsePropagators(s string) (traceContext, baggage bool, err error) {
	none := false
	for name := range strings.SplitSeq(s, ",") {
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "":
		case "tracecontext":
			traceContext = true
		case "baggage":
			baggage = true
		case "none":
			none = true
		default:
			return false, false, fmt.Errorf("%w: %q: flowtel speaks tracecontext and baggage (none for neither)", ErrPropagators, strings.TrimSpace(name))
		}
	}
	switch {
	case none && (traceContext || baggage):
		return false, false, fmt.Errorf("%w: %q: none (no propagator) beside a propagator contradicts itself: give none alone or the propagators alone", ErrPropagators, s)
	case none:
		return false, false, nil
	case !traceContext && !baggage:
		return true, true, nil
	}
	return traceContext, baggage, nil
}
