package otlp

import (
	"fmt"
	"io"
)

// String describes the sink by its exporter, without secrets
// (export.Exporter.String); Format prints it for every verb, so that
// printing a Sink never shows the exporter's headers, which fmt would
// print field by field.
func (s *Sink) String() string {
	if s == nil {
		return "otlp.Sink(nil)"
	}
	return fmt.Sprintf("otlp.Sink{%v, logs: %t, offloader: %v}", s.exp, s.logs, s.off)
}

// Format writes String for every verb.
func (s *Sink) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }
