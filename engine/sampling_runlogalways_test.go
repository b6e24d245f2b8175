package engine

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/encode"
)

// spansOnlySink is a Sink without ExportLogs: it takes runs, not run logs
// apart.
type spansOnlySink struct{}

func (spansOnlySink) Export([]*encode.Run) error       { return nil }
func (spansOnlySink) ForceFlush(context.Context) error { return nil }
func (spansOnlySink) Shutdown(context.Context) error   { return nil }

// TestRunLogAlwaysNeedsLogSink: TailPolicy.RunLogAlways hands the runs
// sampling left out to the sink's ExportLogs (LogSink). New took it with
// a sink that has none, and the run logs of every run sampled out were
// then neither exported nor counted anywhere (Stats.RunLogsDropped counts
// an ExportLogs that failed): the policy the caller asked for did
// nothing. New refuses the pair, naming both (a Tee of such sinks too);
// RunLogAlways with no sink (the default discards everything) or with a
// LogSink is taken.
func TestRunLogAlwaysNeedsLogSink(t *testing.T) {
	p := TailPolicy{Ratio: 0.001, RunLogAlways: true}
	e, err := New(WithSink(spansOnlySink{}), WithTailSampling(p))
	if e != nil {
		e.Shutdown(t.Context())
	}
	if !errors.Is(err, ErrInvalidSampler) || !strings.Contains(err.Error(), "RunLogAlways") || !strings.Contains(err.Error(), "LogSink") {
		t.Errorf("New(a sink without ExportLogs, RunLogAlways) = %v, want ErrInvalidSampler naming RunLogAlways and LogSink", err)
	}
	tee, err := Tee(spansOnlySink{}, spansOnlySink{})
	if err != nil {
		t.Fatal(err)
	}
	e, err = New(WithSink(tee), WithTailSampling(p))
	if e != nil {
		e.Shutdown(t.Context())
	}
	if !errors.Is(err, ErrInvalidSampler) {
		t.Errorf("New(a Tee of sinks without ExportLogs, RunLogAlways) = %v, want ErrInvalidSampler", err)
	}
	teeLogs, err := Tee(spansOnlySink{}, &MemorySink{})
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range [][]Option{
		{WithSink(teeLogs), WithTailSampling(p)},
		{WithTailSampling(p)},
		{WithSink(&MemorySink{}), WithTailSampling(p)},
		{WithSink(spansOnlySink{}), WithTailSampling(TailPolicy{Ratio: 0.001})},
	} {
		e, err := New(opts...)
		if err != nil {
			t.Fatal(err)
		}
		e.Shutdown(t.Context())
	}
}
