package otlp

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
)

// TestNewSinkResourceTooLarge: a resource that leaves less than half of a
// request for spans is refused by NewSink, as New refuses it, since every
// request carries it. NewSink took a 3 MiB service name, and every batch
// the engine exported through it was dropped as too large: the receiver
// got nothing, and the service ran on without one span sent.
func TestNewSinkResourceTooLarge(t *testing.T) {
	rc := otlptest.StartKeeping(t, otlptest.GRPC)
	exp, err := export.New(export.Config{Endpoint: rc.Endpoint(), Insecure: true, Protocol: "grpc", Release: encode.PutBuffer})
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Shutdown(context.Background())
	for _, res := range []encode.Resource{
		{ServiceName: strings.Repeat("s", 3<<20)},
		{ServiceName: "svc", Attrs: []encode.Attr{engine.String("k", strings.Repeat("v", 3<<20))}},
	} {
		if _, err := NewSink(exp, res, true); !errors.Is(err, export.ErrInvalidConfig) || !strings.Contains(err.Error(), "resource") {
			t.Errorf("service name of %d bytes: NewSink error %v, want one naming the resource", len(res.ServiceName), err)
		}
	}
	if _, err := NewSink(exp, encode.Resource{ServiceName: strings.Repeat("s", 64<<10)}, true); err != nil {
		t.Errorf("a 64 KiB service name: %v", err)
	}
}
