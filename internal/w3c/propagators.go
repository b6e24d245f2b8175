package w3c

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrPropagators wraps what ParsePropagators reports ignored.
var ErrPropagators = errors.New("propagation: propagator names ignored")

// Bounds of the report of ignored names: the value comes from the
// environment, so its size and bytes are not ours to choose.
const (
	maxIgnoredShown = 3  // names quoted in the report
	maxIgnoredBytes = 32 // bytes of each name quoted
)

// ParsePropagators reads a value of OTEL_PROPAGATORS by the OpenTelemetry
// SDK environment specification and says which of the two W3C formats to
// speak: a comma-separated list, each name trimmed and read in any case, a
// name given twice counted once. An empty value, or one naming nothing
// (only commas and spaces), is the default, both, as an empty variable is
// an unset one. "none" is no propagation, wherever it stands in the list
// (as Go's autoprop and Python's SDK read it). A name flowtel does not
// speak (b3, jaeger, xray) is ignored: the specification asks an
// unrecognised enum value to be warned about and ignored, not refused. A
// list naming only such names is ignored whole, the default (as Go's
// autoprop does; JavaScript's propagates nothing).
//
// The formats returned always stand. err, wrapping ErrPropagators, says
// what was ignored, quoted and bounded in length, for a caller who wants to
// refuse the value or log it (internal/propenv.Warn).
func ParsePropagators(s string) (traceContext, baggage bool, err error) {
	none := false
	var unknown []string
	more := 0
	var seen map[string]bool // the unknown names, read in any case as the known ones
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		switch lower := strings.ToLower(name); lower {
		case "":
		case "tracecontext":
			traceContext = true
		case "baggage":
			baggage = true
		case "none":
			none = true
		default:
			switch {
			case seen[lower]:
			case len(unknown) == maxIgnoredShown:
				more++
			default:
				unknown = append(unknown, QuoteBounded(name))
			}
			if seen == nil {
				seen = make(map[string]bool)
			}
			seen[lower] = true
		}
	}
	overridden := ""
	if none {
		overridden = formatsName(traceContext, baggage)
		traceContext, baggage = false, false
	} else if !traceContext && !baggage {
		traceContext, baggage = true, true
	}
	var why []string
	if len(unknown) > 0 {
		list := strings.Join(unknown, ", ")
		if more > 0 {
			list += fmt.Sprintf(" and %d more", more)
		}
		why = append(why, "not spoken by flowtel (tracecontext, baggage, none): "+list)
	}
	if overridden != "none" && overridden != "" {
		why = append(why, "named beside none, which is no propagation: "+overridden)
	}
	if len(why) == 0 {
		return traceContext, baggage, nil
	}
	return traceContext, baggage, fmt.Errorf("%w: %s; propagating %s", ErrPropagators, strings.Join(why, "; "), formatsName(traceContext, baggage))
}

// formatsName names the formats as OTEL_PROPAGATORS would.
func formatsName(traceContext, baggage bool) string {
	switch {
	case traceContext && baggage:
		return "tracecontext,baggage"
	case traceContext:
		return "tracecontext"
	case baggage:
		return "baggage"
	}
	return "none"
}

// QuoteBounded quotes name in ASCII (control bytes and invalid UTF-8
// escaped, so that a log line stays one line) after cutting it to
// maxIgnoredBytes on a rune boundary.
func QuoteBounded(name string) string {
	if len(name) <= maxIgnoredBytes {
		return strconv.QuoteToASCII(name)
	}
	cut := maxIgnoredBytes
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut--
	}
	return strconv.QuoteToASCII(name[:cut]) + "..."
}
