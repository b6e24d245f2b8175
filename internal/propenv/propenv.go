// Package propenv reads OTEL_PROPAGATORS for otlp and propagation, which
// stand side by side, and logs what it ignores once for both. It is apart
// from internal/w3c, which the engine links, so that the engine does not
// link log/slog (engine's TestDependencies).
package propenv

import (
	"log/slog"
	"sync"

	"github.com/flowtel/flowtel/internal/w3c"
)

// warned is the last report logged by Warn: the same value is
// read by otlp.NewFromEnv and propagation.FromEnv, and by every engine a
// process starts, and is worth one line. It holds one bounded report.
var warned struct {
	mu   sync.Mutex
	last string
}

// Warn parses s (w3c.ParsePropagators) and, when names were
// ignored, logs it once with slog at warning level: again only when
// the report changes.
func Warn(s string) (traceContext, baggage bool) {
	traceContext, baggage, err := w3c.ParsePropagators(s)
	if err == nil {
		return traceContext, baggage
	}
	msg := err.Error()
	warned.mu.Lock()
	first := warned.last != msg
	warned.last = msg
	warned.mu.Unlock()
	if first {
		slog.Warn("OTEL_PROPAGATORS: names ignored", "error", msg)
	}
	return traceContext, baggage
}
