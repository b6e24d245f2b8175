package otelbridge

import (
	"context"
	"testing"
)

// TestZeroSpanExporter: every method of the zero SpanExporter returns
// (InvalidUTF8 dereferenced its nil encoder).
func TestZeroSpanExporter(t *testing.T) {
	var x SpanExporter
	if x.InvalidUTF8() != 0 {
		t.Error("InvalidUTF8 of the zero SpanExporter")
	}
	if err := x.ExportSpans(context.Background(), nil); err != nil {
		t.Error(err)
	}
	if err := x.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
}
