package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestTailPolicyCapAlone: a TailPolicy with MaxPerSecond and no field
// that keeps a run (as one writes "keep at most 100 runs a second") kept
// none: the cap only bounds what the other fields keep, and every run
// was sampled out, unseen. New refuses it, naming MaxPerSecond and the
// fields that keep runs; with Ratio 1 it keeps runs up to the cap.
func TestTailPolicyCapAlone(t *testing.T) {
	for _, p := range []TailPolicy{{MaxPerSecond: 100}, {MaxPerSecond: 1, RunLogAlways: true}} {
		e, err := New(WithSink(&MemorySink{}), WithTailSampling(p))
		if e != nil {
			_ = e.Shutdown(context.Background())
		}
		if !errors.Is(err, ErrInvalidSampler) || !strings.Contains(err.Error(), "MaxPerSecond") || !strings.Contains(err.Error(), "Ratio") {
			t.Errorf("%+v: New = %v, want ErrInvalidSampler naming MaxPerSecond and Ratio", p, err)
		}
		if err := p.Validate(); !errors.Is(err, ErrInvalidSampler) {
			t.Errorf("%+v: Validate = %v, want ErrInvalidSampler", p, err)
		}
	}
	sink := &MemorySink{}
	e, err := New(WithSink(sink), WithBatch(16, 5*time.Millisecond), WithTailSampling(TailPolicy{MaxPerSecond: 100, Ratio: 1}))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	e.StartRun(RunInfo{FlowID: "f"}).End(0, "")
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(sink.Runs()); n != 1 {
		t.Errorf("MaxPerSecond 100 with Ratio 1: %d runs kept of 1", n)
	}
}
