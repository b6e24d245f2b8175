package export

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// String describes the exporter without its secrets: the protocol and
// endpoint of each signal, redacted as RedactURL redacts them. Format
// prints it for every verb, so that a log line printing an Exporter (%v,
// %+v, %#v, %s, even %x) never shows a header or a credential, which fmt
// would print field by field.
func (e *Exporter) String() string {
	if e == nil {
		return "export.Exporter(nil)"
	}
	var b strings.Builder
	b.WriteString("export.Exporter{")
	for i := range e.set.targets {
		t := &e.set.targets[i]
		if i > 0 {
			b.WriteString(", ")
		}
		shown := t.shownURL
		if t.protocol == ProtocolGRPC {
			shown = RedactURL(t.grpcTarget)
		}
		fmt.Fprintf(&b, "%s: %s %s", Signal(i), t.protocol, shown)
	}
	b.WriteByte('}')
	return b.String()
}

// Format writes String for every verb.
func (e *Exporter) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, e.String()) }

// String describes the store by its base URL redacted (user information
// and query values REDACTED); Format prints it for every verb, so that
// printing a store never shows its headers or credentials.
func (s HTTPStore) String() string { return "export.HTTPStore{" + s.shown + "}" }

// Format writes String for every verb.
func (s HTTPStore) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// LogValue is String for slog, whose JSON handler would marshal the
// exporter with encoding/json: {} (no exported field).
func (e *Exporter) LogValue() slog.Value { return slog.StringValue(e.String()) }

// LogValue is String for slog.
func (s HTTPStore) LogValue() slog.Value { return slog.StringValue(s.String()) }
