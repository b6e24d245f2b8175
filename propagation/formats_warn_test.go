package propagation

import (
	"strings"
	"testing"
)

// TestNewUndefinedFormatsWarnsOncePerValue: New warns of an undefined
// Formats value once for the process, not once each time the value
// differs from the last: a service building Propagators from two bad
// values in turn (per tenant, per request) logged a warning every call.
func TestNewUndefinedFormatsWarnsOncePerValue(t *testing.T) {
	resetWarnedFormats()
	t.Cleanup(resetWarnedFormats)
	logs := captureSlog(t)
	for range 100 {
		New(Formats(4))
		New(Formats(8))
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 2 {
		t.Fatalf("New of two undefined values, 100 times each, logged %d warnings, want 2", n)
	}
}
